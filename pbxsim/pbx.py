"""The simulated PBX: channels, ConfBridges and the cobrador dialplan of asterisk-conf.

Follows the dialplan contract in CONTRACTS.md: debtor calls are Local channels
into cobrador-outbound whose ;1 half runs cobrador-answer (AMD, then the
FastAGI `answer` route, then ConfBridge / safe-harbor / hangup / failure);
agent legs run cobrador-agent and stay in their ConfBridge. Every state change
is published as the AMI event Asterisk 22 would send.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from dialer import channel_vars as cv
from dialer.ami.codec import Header, Message
from pbxsim import scenario as sc
from pbxsim.agi_caller import run_agi
from pbxsim.channel import (
    CAUSE_TEXT,
    STATE_RINGING,
    STATE_UP,
    Bridge,
    Channel,
)
from pbxsim.clock import Clock, ScaledClock

log = logging.getLogger(__name__)

EventSink = Callable[[list[Header]], None]
_LOCAL = re.compile(r"^Local/(?P<exten>[^@]+)@(?P<context>[^/;]+)(?:/n)?$")
_AGENT_BRIDGE = re.compile(r"^agent-[0-9]+$")
DEFAULT_ORIGINATE_TIMEOUT = 30.0
# OriginateResponse Reason: the last control frame seen (Asterisk's AST_CONTROL_*).
REASON_FAILED = 0
REASON_HANGUP = 1
REASON_RINGING = 3
REASON_ANSWERED = 4
REASON_BUSY = 5
REASON_CONGESTION = 8
LocationT = tuple[str, str, int]


class OriginateError(ValueError):
    """The Originate action itself is unusable (Response: Error)."""


@dataclass
class OriginateRequest:
    channel: str
    context: str
    exten: str
    priority: int
    action_id: str | None
    channel_id: str | None
    other_channel_id: str | None
    caller_num: str
    caller_name: str
    variables: dict[str, str]
    timeout: float

    @classmethod
    def from_action(cls, action: Message) -> OriginateRequest:
        channel = action.get("Channel")
        if not channel:
            raise OriginateError("Channel not specified")
        if action.get("Application"):
            raise OriginateError("pbxsim supports Originate to Context/Exten only")
        context, exten = action.get("Context"), action.get("Exten")
        if not context or not exten:
            raise OriginateError("Context and Exten are required")
        try:
            priority = int(action.get("Priority") or "1")
            timeout = float(action.get("Timeout") or DEFAULT_ORIGINATE_TIMEOUT * 1000) / 1000
        except ValueError:
            raise OriginateError("Invalid priority or timeout") from None
        variables: dict[str, str] = {}
        for raw in action.get_all("Variable"):
            for item in raw.split(","):
                name, sep, value = item.partition("=")
                if sep and name.strip():
                    variables[name.strip()] = value
        caller_num, caller_name = _parse_callerid(action.get("CallerID") or "")
        return cls(
            channel,
            context,
            exten,
            priority,
            action.action_id,
            action.get("ChannelId"),
            action.get("OtherChannelId"),
            caller_num,
            caller_name,
            variables,
            timeout,
        )


def _parse_callerid(raw: str) -> tuple[str, str]:
    match = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', raw)
    if match:
        return match.group(2), match.group(1)
    return raw.strip(), ""


class PBX:
    def __init__(
        self,
        scenario: sc.Scenario | None = None,
        *,
        clock: Clock | None = None,
        agi_host: str = "127.0.0.1",
        agi_port: int = cv.FASTAGI_PORT,
        rng: random.Random | None = None,
    ) -> None:
        self.scenario = scenario or sc.Scenario()
        self.clock: Clock = clock or ScaledClock()
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.rng = rng or random.Random(self.scenario.seed)
        self.channels: dict[str, Channel] = {}  # by name
        self.bridges: dict[str, Bridge] = {}
        self.global_vars: dict[str, str] = {}
        self.unavailable_endpoints: set[str] = set()
        self.event_log: list[list[Header]] | None = None  # set to [] to record
        self._sinks: set[EventSink] = set()
        self._seq = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- events ----------------------------------------------------------

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.add(sink)

    def unsubscribe(self, sink: EventSink) -> None:
        self._sinks.discard(sink)

    def emit(self, name: str, privilege: str, headers: list[Header]) -> None:
        event = [("Event", name), ("Privilege", privilege), *headers]
        if self.event_log is not None:
            self.event_log.append(event)
        for sink in list(self._sinks):
            sink(event)

    # -- channel helpers ---------------------------------------------------

    def _uniqueid(self) -> str:
        return f"{int(self.clock.now())}.{next(self._seq)}"

    def _new_channel(
        self, name: str, uniqueid: str | None, linkedid: str | None, context: str, exten: str
    ) -> Channel:
        uid = uniqueid or self._uniqueid()
        channel = Channel(name, uid, linkedid or uid, context, exten, created=self.clock.now())
        self.channels[name] = channel
        self.emit("Newchannel", "call,all", channel.snapshot())
        return channel

    def set_var(self, channel: Channel, name: str, value: str) -> None:
        channel.variables[name] = value
        self.emit(
            "VarSet", "dialplan,all", [*channel.snapshot(), ("Variable", name), ("Value", value)]
        )

    def get_var(self, channel: Channel | None, name: str) -> str | None:
        if channel is not None and name in channel.variables:
            return channel.variables[name]
        return self.global_vars.get(name)

    def _set_state(self, channel: Channel, state: int) -> None:
        if channel.hungup or channel.state == state:
            return
        channel.state = state
        self.emit("Newstate", "call,all", channel.snapshot())

    def _set_app(self, channel: Channel, application: str, data: str = "") -> None:
        channel.application, channel.app_data = application, data

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Hang up one channel (leaving its bridge first), as Asterisk reports it."""
        if channel.hungup:
            return
        if channel.bridge is not None:
            self._leave_bridge(channel)
        channel.hungup = True
        channel.cause = cause
        self.channels.pop(channel.name, None)
        self.emit(
            "Hangup",
            "call,all",
            [
                *channel.snapshot(),
                ("Cause", str(cause)),
                ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown")),
            ],
        )
        channel.gone.set()
        channel.interrupt.set()

    def hangup_call(self, first: Channel, cause: int = 16) -> None:
        """Hang up a channel and then the other half of its Local pair."""
        self.hangup(first, cause)
        if first.peer is not None:
            self.hangup(first.peer, cause)

    def find_channel(self, name: str) -> Channel | None:
        if name in self.channels:
            return self.channels[name]
        for channel in self.channels.values():
            if channel.uniqueid == name:
                return channel
        return None

    async def _wait(self, channel: Channel, seconds: float) -> bool:
        """Sleep simulated seconds; False if the channel hung up or was redirected meanwhile."""
        if channel.interrupt.is_set():
            return False
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(channel.interrupt.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
        return not channel.interrupt.is_set()

    def _spawn(self, coro: object, name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pbxsim task %s failed", task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- bridges ---------------------------------------------------------------

    def _join_bridge(self, channel: Channel, name: str, marked: bool) -> Bridge:
        bridge = self.bridges.get(name)
        if bridge is None:
            bridge = Bridge(name, f"pbxsim-bridge-{next(self._seq)}")
            self.bridges[name] = bridge
            self.emit("ConfbridgeStart", "call,all", bridge.headers())
        bridge.members.append(channel)
        if marked:
            bridge.marked.add(channel)
        channel.bridge = name
        self._set_app(channel, "ConfBridge", name)
        self.emit(
            "ConfbridgeJoin",
            "call,all",
            [*bridge.headers(), *channel.snapshot(), ("Admin", "No"), ("Muted", "No")],
        )
        return bridge

    def _leave_bridge(self, channel: Channel) -> None:
        name = channel.bridge
        bridge = self.bridges.get(name or "")
        channel.bridge = None
        if bridge is None or channel not in bridge.members:
            return
        bridge.members.remove(channel)
        was_marked = channel in bridge.marked
        bridge.marked.discard(channel)
        self.emit(
            "ConfbridgeLeave", "call,all", [*bridge.headers(), *channel.snapshot(), ("Admin", "No")]
        )
        if was_marked and not bridge.marked:
            # cobrador_debtor has end_marked: the debtor leaves with the last agent.
            for member in list(bridge.members):
                member.interrupt.set()
        if not bridge.members:
            del self.bridges[bridge.name]
            self.emit("ConfbridgeEnd", "call,all", bridge.headers())

    async def _stay_in_bridge(self, channel: Channel, name: str, marked: bool) -> None:
        self._join_bridge(channel, name, marked)
        await channel.interrupt.wait()
        if channel.bridge is not None:
            self._leave_bridge(channel)

    # -- originate -------------------------------------------------------------

    def originate(
        self, request: OriginateRequest, done: Callable[[bool], None] | None = None
    ) -> None:
        """Start an Originate in the background (the action's reply is the caller's job)."""
        local = _LOCAL.match(request.channel)
        if local and local["context"] == cv.CONTEXT_OUTBOUND:
            coro = self._debtor_call(request, local["exten"], done)
        else:
            coro = self._endpoint_call(request, done)
        self._spawn(coro, f"originate-{request.channel_id or request.channel}")

    def _originate_response(
        self, request: OriginateRequest, channel: Channel, success: bool, reason: int
    ) -> None:
        headers: list[Header] = []
        if request.action_id:
            headers.append(("ActionID", request.action_id))
        headers += [
            ("Response", "Success" if success else "Failure"),
            ("Channel", request.channel),
            ("Context", request.context),
            ("Exten", request.exten),
            ("Application", ""),
            ("Data", ""),
            ("Reason", str(reason)),
            ("Uniqueid", channel.uniqueid),
            ("CallerIDNum", request.caller_num or "<unknown>"),
            ("CallerIDName", request.caller_name or "<unknown>"),
        ]
        self.emit("OriginateResponse", "call,all", headers)

    def _dial_begin(self, dest: Channel, dial_string: str) -> None:
        self.emit("DialBegin", "call,all", [*dest.snapshot("Dest"), ("DialString", dial_string)])

    def _dial_end(self, dest: Channel, status: str) -> None:
        self.emit("DialEnd", "call,all", [*dest.snapshot("Dest"), ("DialStatus", status)])

    async def _debtor_call(
        self, request: OriginateRequest, number: str, done: Callable[[bool], None] | None
    ) -> None:
        seq = next(self._seq)
        base = f"Local/{number}@{cv.CONTEXT_OUTBOUND}-{seq:08x}"
        one = self._new_channel(
            f"{base};1", request.channel_id, None, request.context, request.exten
        )
        two = self._new_channel(
            f"{base};2", request.other_channel_id, one.uniqueid, cv.CONTEXT_OUTBOUND, number
        )
        one.peer, two.peer = two, one
        one.caller_num, one.caller_name = request.caller_num, request.caller_name
        two.caller_num, two.caller_name = request.caller_num, request.caller_name
        for name, value in request.variables.items():
            self.set_var(one, name, value)
            two.variables[name] = value  # a Local channel copies ;1's variables to ;2
        self._dial_begin(one, f"{number}@{cv.CONTEXT_OUTBOUND}")
        plan = self.scenario.plan(number, self.rng)
        one.behaviour = two.behaviour = plan.behaviour
        log.debug("pbxsim call %s: %s", one.uniqueid, plan.behaviour)
        self._set_app(two, "NoOp", f"sim-customers behaviour={number[-3:]}")

        failure = {
            sc.BUSY: ("BUSY", 17, REASON_BUSY),
            sc.CONGESTION: ("CONGESTION", 34, REASON_CONGESTION),
        }
        if plan.behaviour in failure:
            status, cause, reason = failure[plan.behaviour]
            await self._wait(one, plan.ring_seconds)
            self._dial_end(one, status)
            self.hangup(one, cause)
            self.hangup(two, cause)
            self._originate_response(request, one, False, reason)
            _call(done, False)
            return
        if plan.behaviour == sc.UNALLOCATED:
            await self._wait(one, plan.ring_seconds)
            self.hangup(two, 1)
            self._dial_end(one, "CHANUNAVAIL")
            self.hangup(one, 1)
            self._originate_response(request, one, False, REASON_HANGUP)
            _call(done, False)
            return

        self._set_app(two, "Ringing")
        self._set_state(two, STATE_RINGING)
        self._set_state(one, STATE_RINGING)
        answers = plan.behaviour in (sc.HUMAN, sc.MACHINE) and plan.ring_seconds < request.timeout
        ring = plan.ring_seconds if answers else request.timeout
        if not await self._wait(one, ring):
            # Hung up while ringing (AMI Hangup): the originate failed.
            self._dial_end(one, "CANCEL")
            self.hangup_call(one, one.cause or 16)
            self._originate_response(request, one, False, REASON_HANGUP)
            _call(done, False)
            return
        if not answers:
            self._dial_end(one, "NOANSWER")
            self.hangup(one, 19)
            self.hangup(two, 19)
            self._originate_response(request, one, False, REASON_RINGING)
            _call(done, False)
            return

        self._set_app(two, "Answer")
        self._set_state(two, STATE_UP)
        self._set_state(one, STATE_UP)
        self._dial_end(one, "ANSWER")
        self._originate_response(request, one, True, REASON_ANSWERED)
        _call(done, True)
        self._spawn(self._customer(two, plan), f"customer-{one.uniqueid}")
        await self._dialplan(one, request.context, request.exten, request.priority)

    async def _customer(self, two: Channel, plan: sc.CustomerPlan) -> None:
        """The person (or machine) at the far end: talks, then hangs up."""
        self._set_app(two, "Playback" if plan.behaviour == sc.MACHINE else "MusicOnHold")
        if await self._wait(two, plan.talk_seconds):
            self.hangup(two, 16)
            if two.peer is not None:
                self.hangup(two.peer, 16)

    async def _endpoint_call(
        self, request: OriginateRequest, done: Callable[[bool], None] | None
    ) -> None:
        """An agent's phone (or any endpoint): answers after a moment unless unavailable."""
        seq = next(self._seq)
        local = _LOCAL.match(request.channel)
        name = f"{request.channel}-{seq:08x}" + (";1" if local else "")
        channel = self._new_channel(name, request.channel_id, None, request.context, request.exten)
        channel.caller_num, channel.caller_name = request.caller_num, request.caller_name
        for var, value in request.variables.items():
            self.set_var(channel, var, value)
        self._dial_begin(channel, request.channel.split("/", 1)[-1])
        if request.channel in self.unavailable_endpoints:
            await self._wait(channel, self.scenario.agent_answer_seconds)
            self._dial_end(channel, "CHANUNAVAIL")
            self.hangup(channel, 20)
            self._originate_response(request, channel, False, REASON_FAILED)
            _call(done, False)
            return
        self._set_state(channel, STATE_RINGING)
        if not await self._wait(channel, self.scenario.agent_answer_seconds):
            self._dial_end(channel, "CANCEL")
            self._originate_response(request, channel, False, REASON_HANGUP)
            _call(done, False)
            return
        self._set_state(channel, STATE_UP)
        self._dial_end(channel, "ANSWER")
        self._originate_response(request, channel, True, REASON_ANSWERED)
        _call(done, True)
        await self._dialplan(channel, request.context, request.exten, request.priority)

    # -- dialplan ----------------------------------------------------------------

    async def _dialplan(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        location: LocationT | None = (context, exten, priority)
        while location is not None and not channel.hungup:
            channel.context, channel.exten, channel.priority = location
            location = await self._run(channel, location[0], location[1])
            if channel.redirect is not None and not channel.hungup:
                location, channel.redirect = channel.redirect, None
                channel.interrupt.clear()
        if not channel.hungup:
            self.hangup_call(channel, 16)

    async def _run(self, channel: Channel, context: str, exten: str) -> LocationT | None:
        """Run one extension; return where the dialplan goes next (None: hang up)."""
        if context == cv.CONTEXT_ANSWER:
            if exten == "s":
                return await self._answer(channel)
            if exten == f"action-{cv.ACTION_BRIDGE}":
                return await self._bridge_debtor(channel)
            if exten == f"action-{cv.ACTION_SAFE_HARBOR}":
                return ("safe-harbor", "s", 1)
            if exten == f"action-{cv.ACTION_HANGUP}":
                return None
            return (cv.CONTEXT_FAILURE, "s", 1)
        if context == cv.CONTEXT_FAILURE:
            self.set_var(channel, "COBRADOR_FAILED", "1")
            if self.get_var(channel, cv.AMD_STATUS) == cv.AMD_MACHINE:
                return None
            return ("safe-harbor", "s", 1)
        if context == "safe-harbor":
            self.set_var(channel, "COBRADOR_ABANDONED", "1")
            self._set_app(channel, "Playback", "safe-harbor")
            await self._wait(channel, self.scenario.safe_harbor_seconds)
            return None
        if context == cv.CONTEXT_AGENT:
            agent_id = self.get_var(channel, cv.AGENT_ID) or ""
            if not agent_id.isdigit():
                self.hangup_call(channel, 21)
                return None
            await self._stay_in_bridge(channel, cv.agent_bridge(agent_id), marked=True)
            return None
        # Anything else: stay up until hung up (a caller may Redirect it).
        self._set_app(channel, "Wait", "86400")
        await self._wait(channel, 86400)
        return None

    async def _answer(self, channel: Channel) -> LocationT | None:
        machine = channel.behaviour == sc.MACHINE
        if self.get_var(channel, "COBRADOR_AMD") != "off":
            self._set_app(channel, "AMD")
            seconds = (
                self.scenario.amd_machine_seconds if machine else self.scenario.amd_human_seconds
            )
            if not await self._wait(channel, seconds):
                if channel.hungup:
                    return None
                return (cv.CONTEXT_FAILURE, "s", 1)
            self.set_var(channel, cv.AMD_STATUS, cv.AMD_MACHINE if machine else cv.AMD_HUMAN)
            self.set_var(
                channel, cv.AMD_CAUSE, "LONGGREETING-1500-1500" if machine else "HUMAN-800-800"
            )
        self._set_app(channel, "AGI", f"agi://{self.agi_host}:{self.agi_port}/{cv.SCRIPT_ANSWER}")
        status, goto = await run_agi(self, channel, cv.SCRIPT_ANSWER)
        self.set_var(channel, "AGISTATUS", status)
        if channel.hungup:
            return None
        if goto is not None:
            return goto
        if status != "SUCCESS":
            return (cv.CONTEXT_FAILURE, "s", 1)
        action = self.get_var(channel, cv.ACTION) or ""
        if action not in (cv.ACTION_BRIDGE, cv.ACTION_SAFE_HARBOR, cv.ACTION_HANGUP):
            return (cv.CONTEXT_FAILURE, "s", 1)
        return (cv.CONTEXT_ANSWER, f"action-{action}", 1)

    async def _bridge_debtor(self, channel: Channel) -> LocationT | None:
        bridge = self.get_var(channel, cv.BRIDGE) or ""
        if not _AGENT_BRIDGE.match(bridge):
            return (cv.CONTEXT_FAILURE, "s", 1)
        await self._stay_in_bridge(channel, bridge, marked=False)
        return None

    # -- test and operator hooks -----------------------------------------------

    def drop_agent(self, agent_id: int | str) -> bool:
        """The agent's phone hangs up (the nailed-up leg drops)."""
        for channel in list(self.channels.values()):
            if channel.variables.get(cv.AGENT_ID) == str(agent_id) and channel.bridge:
                self.hangup_call(channel, 16)
                return True
        return False

    def redirect(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        channel.redirect = (context, exten, priority)
        channel.interrupt.set()


def _call(done: Callable[[bool], None] | None, ok: bool) -> None:
    if done is not None:
        done(ok)
