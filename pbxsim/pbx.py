"""The simulated PBX: channels, ConfBridges and the cobrador dialplan of asterisk-conf.

Follows the dialplan contract in CONTRACTS.md and asterisk-conf/extensions.conf:
debtor calls are Local channels into cobrador-outbound (the `;2` half runs
sim-customers, the `;1` half runs cobrador-answer once answered: AMD, the
FastAGI `answer` route, then ConfBridge / safe-harbor / hangup / failure);
agent legs run cobrador-agent and stay in their ConfBridge. Every step is
published as the AMI events Asterisk 22 sends for it (the recorded traces in
tests/fixtures/ami are the reference), Newexten included.

Each channel's script runs in its own task; a hangup asked from outside (AMI,
the other Local half, the far end) sets `hangup_cause` and wakes the task,
which tears the channel down, as Asterisk's PBX thread does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from dialer import channel_vars as cv
from dialer.ami.codec import Header, Message
from pbxsim import scenario as sc
from pbxsim.agi_caller import agi_address, run_agi
from pbxsim.channel import CAUSE_TEXT, CHANNEL_VARS, STATE_RINGING, STATE_UP, Bridge, Channel
from pbxsim.clock import Clock, ScaledClock
from pbxsim.recording import DEFAULT_CAP_SECONDS, FAULTS, MixMonitor

log = logging.getLogger(__name__)

EventSink = Callable[[list[Header]], None]
_LOCAL = re.compile(r"^Local/(?P<exten>[^@]+)@(?P<context>[^/;]+)(?:/n)?$")
_AGENT_BRIDGE = re.compile(r"^agent-[0-9]+$")
DEFAULT_ORIGINATE_TIMEOUT = 30.0
SIM_AGENTS = "sim-agents"
SAFE_HARBOR = "safe-harbor"
CONTEXT_SUPERVISOR = "cobrador-supervisor"
CONTEXT_SPY = "cobrador-spy"
SPY_MODE = "COBRADOR_SPY_MODE"
# ChanSpy options per mode, as in extensions.conf's cobrador-spy.
SPY_OPTIONS = {"listen": "qbSE", "whisper": "qbSEw", "barge": "qbSEB"}
SPY_AGENT_ID = "COBRADOR_SPY_AGENT_ID"
# OriginateResponse Reason as Asterisk 22 reports it for Local channels: 4 answered,
# 3 rang out (Originate Timeout), 0 for every other failure (busy, congestion...).
REASON_FAILED = 0
REASON_RINGING = 3
REASON_ANSWERED = 4
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
    variables: list[tuple[str, str]]
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
        variables: list[tuple[str, str]] = []
        for raw in action.get_all("Variable"):
            for item in raw.split(","):
                name, sep, value = item.partition("=")
                if sep and name.strip():
                    variables.append((name.strip(), value))
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


def plan_exten(plan: sc.CustomerPlan) -> str:
    """The sim-customers extension (b<NNN>) that produces this plan on real Asterisk."""
    ring = min(99, round(plan.ring_seconds))
    return {
        sc.HUMAN: f"b1{ring:02d}",
        sc.MACHINE: f"b2{ring:02d}",
        sc.QUICK_HANGUP: f"b7{ring:02d}",
        sc.BUSY: "b301",
        sc.NO_ANSWER: "b401",
        sc.CONGESTION: "b501",
    }.get(plan.behaviour, "b601")


class PBX:
    def __init__(
        self,
        scenario: sc.Scenario | None = None,
        *,
        clock: Clock | None = None,
        agi_host: str = "127.0.0.1",
        agi_port: int = cv.FASTAGI_PORT,
        rng: random.Random | None = None,
        company_name: str = "cobrador",
        callback_number: str = "8005550100",
        recordings_dir: Path | None = None,
        recording_cap_seconds: float = DEFAULT_CAP_SECONDS,
    ) -> None:
        self.scenario = scenario or sc.Scenario()
        self.clock: Clock = clock or ScaledClock()
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.rng = rng or random.Random(self.scenario.seed)
        self.company_name = company_name
        self.callback_number = callback_number
        # MixMonitor (AGI EXEC or the AMI action) writes a synthetic wav at the
        # path it is given; a relative path is taken under recordings_dir, as
        # Asterisk takes it under its monitor directory (see pbxsim/recording.py).
        self.recordings_dir = recordings_dir
        self.recording_cap_seconds = recording_cap_seconds
        self.recordings: list[Path] = []
        # Test hook: COBRADOR_ATTEMPT_ID (or "*") -> "missing" | "empty".
        self.recording_faults: dict[str, str] = {}
        self.channels: dict[str, Channel] = {}  # by name
        self.bridges: dict[str, Bridge] = {}
        self.global_vars: dict[str, str] = {
            cv.AGI_HOST: agi_host,
            cv.AGI_PORT: str(agi_port),
        }
        self.unavailable_endpoints: set[str] = set()
        self.spied: dict[str, str] = {}  # spy channel uniqueid -> spied channel uniqueid
        self.event_log: list[list[Header]] | None = None  # set to [] to record
        self.calls_placed = 0
        self._sinks: set[EventSink] = set()
        self._seq = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- events ----------------------------------------------------------------

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

    # -- channel primitives ----------------------------------------------------

    def _uniqueid(self) -> str:
        return f"{int(self.clock.now())}.{next(self._seq)}"

    def _new_channel(
        self, name: str, uniqueid: str, linkedid: str, context: str, exten: str, state: int
    ) -> Channel:
        channel = Channel(
            name, uniqueid, linkedid, context, exten, state=state, created=self.clock.now()
        )
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

    def _exten(
        self, channel: Channel, context: str, exten: str, priority: int, app: str, data: str = ""
    ) -> None:
        """The channel runs one dialplan priority (Newexten)."""
        if channel.hungup:
            return
        channel.context, channel.exten, channel.priority = context, exten, priority
        channel.application, channel.app_data = app, data
        if channel.quiet_location is not None:
            if channel.quiet_location == (context, exten, priority):
                channel.quiet_location = None
                return
            channel.quiet_location = None
        self.emit(
            "Newexten",
            "dialplan,all",
            [*channel.snapshot(), ("Extension", exten), ("Application", app), ("AppData", data)],
        )

    def _callerid(self, channel: Channel, num: str, name: str) -> None:
        if not num and not name:
            return
        channel.caller_num, channel.caller_name = num, name
        self.emit(
            "NewCallerid",
            "call,all",
            [*channel.snapshot(), ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
        )
        channel.connected_num, channel.connected_name = num, name
        self.emit("NewConnectedLine", "call,all", channel.snapshot())

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Emit the channel's Hangup (leaving its bridge first) and wake whoever waits on it."""
        if channel.hungup:
            return
        if channel.bridge is not None:
            self._leave_bridge(channel, "HANGUP")
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
        if channel.mixmonitor is not None:
            # No MixMonitorStop at hangup on Asterisk 22: the file is just closed.
            self._close_mixmonitor(channel)

    # -- MixMonitor --------------------------------------------------------------

    def start_mixmonitor(self, channel: Channel, file: str, options: str = "") -> bool:
        """MixMonitor(<file>,<options>) on a live channel; False without a file name."""
        if not file or channel.hungup:
            return False
        path = Path(file)
        if not path.is_absolute():
            path = (self.recordings_dir or Path(".")) / path
        attempt = channel.variables.get(cv.ATTEMPT_ID, "")
        fault = self.recording_faults.get(attempt) or self.recording_faults.get("*")
        current = channel.mixmonitor
        if current is not None and current.since is not None:
            current.stop(self.clock.now())  # a second MixMonitor: keep it simple, one file
        seconds = current.seconds if current is not None and "a" in options else 0.0
        channel.mixmonitor = MixMonitor(
            path, since=self.clock.now(), seconds=seconds, fault=fault if fault in FAULTS else None
        )
        self.set_var(channel, "MIXMONITOR_FILENAME", str(path))
        self.emit("MixMonitorStart", "call,all", channel.snapshot())
        return True

    def stop_mixmonitor(self, channel: Channel) -> bool:
        """StopMixMonitor: the file is closed (and stays); False when none runs."""
        monitor = channel.mixmonitor
        if monitor is None or monitor.since is None:
            return False
        self._close_mixmonitor(channel)
        self.emit("MixMonitorStop", "call,all", channel.snapshot())
        return True

    def _close_mixmonitor(self, channel: Channel) -> None:
        monitor = channel.mixmonitor
        if monitor is None or monitor.since is None:
            return
        monitor.stop(self.clock.now())
        try:
            monitor.write(self.recording_cap_seconds)
            self.recordings.append(monitor.path)
        except OSError as exc:
            log.warning("pbxsim: could not write %s: %s", monitor.path, exc)

    def request_hangup(
        self, channel: Channel, cause: int | None = None, *, announce: bool = False
    ) -> None:
        """Ask a channel to hang up; its own task does it (see module docstring).

        Without a cause (AMI Hangup without Cause) an answered channel ends with 16
        and one that never answered with 0, as on Asterisk 22.
        """
        if channel.hungup:
            return
        if cause is None:
            cause = 16 if channel.state == STATE_UP else 0
        if channel.hangup_cause is not None:
            if announce:
                self.emit("HangupRequest", "call,all", [*channel.snapshot(), ("Cause", str(cause))])
            return
        if not channel.owned and channel.peer is not None and not channel.peer.hungup:
            # Nothing runs this half yet (a ringing ;2): the hangup reaches the call
            # through the half that does.
            self.request_hangup(channel.peer, cause, announce=announce)
            return
        if announce:
            self.emit("HangupRequest", "call,all", [*channel.snapshot(), ("Cause", str(cause))])
        channel.hangup_cause = cause
        channel.interrupt.set()
        if channel.in_agi and channel.peer is not None:
            # The AGI holds this half until the script ends; the other half of the
            # Local channel stops what it plays and hangs up meanwhile.
            channel.peer.interrupt.set()

    def _soft_hangup(self, channel: Channel) -> None:
        self.emit("SoftHangupRequest", "call,all", [*channel.snapshot(), ("Cause", "16")])

    def _finish(self, channel: Channel, cause: int) -> None:
        """A channel's own task ends it: SoftHangupRequest, the other half asked, Hangup."""
        if channel.hungup:
            return
        if channel.bridge is not None:
            self._leave_bridge(channel, "HANGUP")
        self._soft_hangup(channel)
        peer = channel.peer
        if peer is not None and not peer.hungup:
            self.request_hangup(peer, cause, announce=True)
        self.hangup(channel, cause)

    def _dialplan_hangup(self, channel: Channel, cause: int, where: LocationT) -> None:
        """The Hangup(<cause>) application."""
        self._exten(channel, *where, "Hangup", str(cause))
        self._finish(channel, cause)

    def find_channel(self, name: str) -> Channel | None:
        if name in self.channels:
            return self.channels[name]
        for channel in self.channels.values():
            if channel.uniqueid == name:
                return channel
        return None

    async def _wait(self, channel: Channel, seconds: float) -> bool:
        """Sleep simulated seconds; False if a hangup or a redirect came meanwhile."""
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

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
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

    def _join_bridge(self, channel: Channel, name: str, profile: str) -> Bridge:
        bridge = self.bridges.get(name)
        if bridge is None:
            bridge = Bridge(name, str(uuid.uuid4()))
            self.bridges[name] = bridge
            self.emit("BridgeCreate", "call,all", bridge.headers(conference=False))
            bridge.announcer = 1  # ConfBridge's CBAnn channel joins first
            self.emit("ConfbridgeStart", "call,all", bridge.headers())
        bridge.members.append(channel)
        bridge.profiles[channel] = profile
        bridge.joined[channel] = self.clock.now()
        channel.bridge = name
        channel.kicked = False
        muted = "Yes" if profile == "supervisor" else "No"
        self.emit("BridgeEnter", "call,all", [*bridge.headers(False), *channel.snapshot()])
        self.emit(
            "ConfbridgeJoin",
            "call,all",
            [*bridge.headers(), *channel.snapshot(), ("Admin", "No"), ("Muted", muted)],
        )
        return bridge

    def _leave_bridge(self, channel: Channel, result: str) -> None:
        """Leave the ConfBridge, in the event order Asterisk 22 uses for each case."""
        bridge = self.bridges.get(channel.bridge or "")
        channel.bridge = None
        if bridge is None or channel not in bridge.members:
            return
        leave = [*bridge.headers(), *channel.snapshot(), ("Admin", "No")]
        last = len(bridge.members) == 1
        was_marked = bridge.profiles.get(channel) == "agent"
        bridge.members.remove(channel)
        bridge.profiles.pop(channel, None)
        bridge.joined.pop(channel, None)
        bridge_leave = [*bridge.headers(False), *channel.snapshot()]
        if channel.kicked:
            # Ended by end_marked: CONFBRIDGE_RESULT was set when the agent left.
            self.emit("ConfbridgeLeave", "call,all", leave)
            if last:
                self._end_bridge(bridge, destroy=False)
            self.emit("BridgeLeave", "call,all", bridge_leave)
            if last:
                bridge.announcer = 0
                self.emit("BridgeDestroy", "call,all", bridge.headers(conference=False))
            return
        if channel.redirect is not None:
            self.emit("ConfbridgeLeave", "call,all", leave)
            context, exten, priority = channel.redirect
            self._exten(channel, context, exten, priority, channel.application, channel.app_data)
            channel.quiet_location = channel.redirect
            self.emit("BridgeLeave", "call,all", bridge_leave)
            self.set_var(channel, "CONFBRIDGE_RESULT", result)
        elif last:
            self.emit("BridgeLeave", "call,all", bridge_leave)
            self.set_var(channel, "CONFBRIDGE_RESULT", result)
            self.emit("ConfbridgeLeave", "call,all", leave)
        else:
            self.emit("ConfbridgeLeave", "call,all", leave)
            self.emit("BridgeLeave", "call,all", bridge_leave)
            self.set_var(channel, "CONFBRIDGE_RESULT", result)
        if was_marked and not bridge.marked():
            # Debtors and supervisors have end_marked: they leave with the agent.
            for member in list(bridge.members):
                self.set_var(member, "CONFBRIDGE_RESULT", "ENDMARKED")
                member.kicked = True
                member.interrupt.set()
        if last:
            self._end_bridge(bridge, destroy=True)

    def _end_bridge(self, bridge: Bridge, destroy: bool) -> None:
        self.bridges.pop(bridge.name, None)
        self.emit("ConfbridgeEnd", "call,all", bridge.headers())
        if destroy:
            bridge.announcer = 0
            self.emit("BridgeDestroy", "call,all", bridge.headers(conference=False))

    async def _conference(self, channel: Channel, name: str, profile: str) -> None:
        """ConfBridge(): stay until hung up, redirected or ended by end_marked."""
        self._join_bridge(channel, name, profile)
        await channel.interrupt.wait()
        if channel.bridge is not None and channel.hangup_cause is None:
            self._leave_bridge(channel, "HANGUP")
            if channel.redirect is None:
                channel.interrupt.clear()

    # -- originate -------------------------------------------------------------

    def originate(
        self, request: OriginateRequest, done: Callable[[bool], None] | None = None
    ) -> None:
        """Start an Originate in the background (the action's reply is the caller's job)."""
        self.calls_placed += 1
        self._spawn(self._originate(request, done), f"originate-{request.channel_id}")

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
        if success:
            for name in CHANNEL_VARS:
                value = channel.variables.get(name, "")
                headers.append((f"ChanVariable({channel.name})", f"{name}={value}"))
        self.emit("OriginateResponse", "call,all", headers)

    def _dial_end(self, dest: Channel, status: str) -> None:
        self.emit("DialEnd", "call,all", [*dest.snapshot("Dest"), ("DialStatus", status)])

    async def _originate(
        self, request: OriginateRequest, done: Callable[[bool], None] | None
    ) -> None:
        local = _LOCAL.match(request.channel)
        if local is not None:
            one, two = self._local_pair(request, local["exten"], local["context"])
            if local["context"] == cv.CONTEXT_OUTBOUND:
                answered = await self._customer_leg(request, one, two)
            else:
                answered = await self._phone_leg(request, one, two)
        else:
            one = self._endpoint(request)
            answered = await self._phone_leg(request, one, None)
        if done is not None:
            done(answered)
        if answered:
            await self._run_dialplan(one, request.context, request.exten, request.priority)

    def _local_pair(
        self, request: OriginateRequest, exten: str, context: str
    ) -> tuple[Channel, Channel]:
        seq = next(self._seq)
        base = f"Local/{exten}@{context}-{seq:08x}"
        uid = request.channel_id or self._uniqueid()
        uid2 = request.other_channel_id or f"{uid};2"
        one = self._new_channel(f"{base};1", uid, uid, context, exten, 0)
        two = self._new_channel(f"{base};2", uid2, uid, context, exten, 4)
        one.peer, two.peer = two, one
        one.owned = True  # the originate task runs ;1 from now on
        self._exten(one, context, exten, 1, "AppDial2", "(Outgoing Line)")
        # Asterisk keeps channel variables newest-first, so the VarSets on ;1 come
        # out reversed; the copies on ;2 come in list order.
        for name, value in reversed(request.variables):
            self.set_var(one, name, value)
        self._callerid(one, request.caller_num, request.caller_name)
        for name, value in request.variables:
            self.set_var(two, name, value)
        self._callerid(two, request.caller_num, request.caller_name)
        self.emit(
            "LocalBridge",
            "call,all",
            [
                *one.snapshot("LocalOne"),
                *two.snapshot("LocalTwo"),
                ("Context", context),
                ("Exten", exten),
                ("LocalOptimization", "Yes"),
            ],
        )
        self.emit(
            "DialBegin", "call,all", [*one.snapshot("Dest"), ("DialString", f"{exten}@{context}")]
        )
        return one, two

    def _endpoint(self, request: OriginateRequest) -> Channel:
        """A phone (PJSIP/agent-7): one channel."""
        uid = request.channel_id or self._uniqueid()
        name = f"{request.channel}-{next(self._seq):08x}"
        channel = self._new_channel(name, uid, uid, request.context, request.exten, 0)
        channel.owned = True
        for var, value in reversed(request.variables):
            self.set_var(channel, var, value)
        self._callerid(channel, request.caller_num, request.caller_name)
        self.emit(
            "DialBegin",
            "call,all",
            [*channel.snapshot("Dest"), ("DialString", request.channel.split("/", 1)[-1])],
        )
        return channel

    def _answered(self, request: OriginateRequest, one: Channel, two: Channel | None) -> None:
        self._originate_response(request, one, True, REASON_ANSWERED)
        if two is not None:
            self._set_state(two, STATE_UP)
        self._set_state(one, STATE_UP)
        self._dial_end(one, "ANSWER")

    async def _phone_leg(
        self, request: OriginateRequest, one: Channel, two: Channel | None
    ) -> bool:
        """An agent's phone (or Local/<id>@sim-agents): answers after a moment and waits."""
        if request.channel in self.unavailable_endpoints:
            await self._wait(one, self.scenario.agent_answer_seconds)
            self._dial_end(one, "CHANUNAVAIL")
            if two is not None:
                self.hangup(two, 20)
            self.hangup(one, 20)
            self._originate_response(request, one, False, REASON_FAILED)
            return False
        if two is None:
            self._set_state(one, STATE_RINGING)
        if not await self._wait(one, self.scenario.agent_answer_seconds):
            self._fail_ringing(request, one, two)
            return False
        if two is not None:
            self._exten(two, two.context, two.exten, 1, "Answer")
        self._answered(request, one, two)
        if two is not None:
            self._spawn(self._phone_wait(two), f"phone-{two.uniqueid}")
        return True

    async def _phone_wait(self, two: Channel) -> None:
        two.owned = True
        self._exten(two, two.context, two.exten, 2, "Wait", "86400")
        await self._wait(two, 86400)
        if not two.hungup:
            self._finish(two, two.hangup_cause if two.hangup_cause is not None else 16)

    def _fail_ringing(self, request: OriginateRequest, one: Channel, two: Channel | None) -> None:
        """Hung up (AMI Hangup) before answer: the originate fails."""
        cause = one.hangup_cause if one.hangup_cause is not None else 0
        self._dial_end(one, "NOANSWER")
        if two is not None:
            self.emit("HangupRequest", "call,all", [*two.snapshot(), ("Cause", str(cause))])
            self._soft_hangup(two)
            self.hangup(two, cause)
        self._originate_response(request, one, False, REASON_FAILED)
        self.hangup(one, cause)

    async def _customer_leg(self, request: OriginateRequest, one: Channel, two: Channel) -> bool:
        """The ;2 half in sim-customers; returns True once the far end answered."""
        number = two.exten
        plan = self.scenario.plan(number, self.rng)
        one.behaviour = two.behaviour = plan.behaviour
        attempt = two.variables.get(cv.ATTEMPT_ID, "")
        by_suffix = self.scenario.suffix_rules and number not in self.scenario.numbers
        b = f"b{number[-3:]}" if by_suffix else plan_exten(plan)
        self._exten(
            two,
            cv.CONTEXT_OUTBOUND,
            number,
            1,
            "NoOp",
            f"cobrador-outbound attempt={attempt} route=sim",
        )
        self._exten(two, cv.CONTEXT_OUTBOUND, number, 2, "GotoIf", f"1?sim-customers,{number},1")
        self._exten(
            two,
            cv.CONTEXT_SIM_CUSTOMERS,
            number,
            1,
            "NoOp",
            f"sim-customers behaviour={number[-3:]}",
        )
        self._exten(two, cv.CONTEXT_SIM_CUSTOMERS, number, 2, "Goto", f"{b},1")
        failures = {
            sc.BUSY: (17, "BUSY"),
            sc.CONGESTION: (34, "CONGESTION"),
            sc.UNALLOCATED: (1, "NOANSWER"),
        }
        if plan.behaviour in failures:
            cause, status = failures[plan.behaviour]
            await self._wait(one, plan.ring_seconds)
            self._exten(two, cv.CONTEXT_SIM_CUSTOMERS, b, 1, "Hangup", str(cause))
            self._soft_hangup(two)
            self.emit("HangupRequest", "call,all", [*one.snapshot(), ("Cause", str(cause))])
            self.hangup(two, cause)
            self._dial_end(one, status)
            self.hangup(one, cause)
            self._originate_response(request, one, False, REASON_FAILED)
            return False

        self._exten(two, cv.CONTEXT_SIM_CUSTOMERS, b, 1, "Ringing")
        self._set_state(one, STATE_RINGING)
        answers = (
            plan.behaviour in (sc.HUMAN, sc.MACHINE, sc.QUICK_HANGUP)
            and plan.ring_seconds < request.timeout
        )
        self._exten(two, cv.CONTEXT_SIM_CUSTOMERS, b, 2, "Wait", b[2:] if answers else "86400")
        self.emit("DialState", "call,all", [*one.snapshot("Dest"), ("DialStatus", "RINGING")])
        if not await self._wait(one, plan.ring_seconds if answers else request.timeout):
            self._fail_ringing(request, one, two)
            return False
        if not answers:
            # Originate's Timeout ran out while ringing.
            self.emit("HangupRequest", "call,all", [*two.snapshot(), ("Cause", "19")])
            self._soft_hangup(two)
            self.hangup(two, 19)
            self._originate_response(request, one, False, REASON_RINGING)
            self.hangup(one, 19)
            return False
        self._exten(two, cv.CONTEXT_SIM_CUSTOMERS, b, 3, "Answer")
        self._answered(request, one, two)
        self._spawn(self._far_end(two, plan, b), f"customer-{two.uniqueid}")
        return True

    async def _far_end(self, two: Channel, plan: sc.CustomerPlan, b: str) -> None:
        """The person or machine after answering: a greeting, then `talk_seconds` of
        MusicOnHold (SIM_TALK_SECONDS / SIM_MACHINE_SECONDS), then hangs up."""
        two.owned = True
        ctx = cv.CONTEXT_SIM_CUSTOMERS
        if plan.behaviour == sc.MACHINE:
            greeting = [("vm-intro&vm-theperson&vm-isunavail", 4.5), ("beep", 0.5)]
        elif plan.behaviour == sc.QUICK_HANGUP:
            greeting = [("hello", 0.6)]
        else:
            greeting = [("hello", 0.6), ("silence/2", 2.0)]

        def stopped_by_peer() -> bool:
            # The ;1 half was hung up but the AGI still holds it: Asterisk stops what
            # this half plays and lets its dialplan run on to Hangup().
            peer = two.peer
            return (
                two.hangup_cause is None
                and peer is not None
                and peer.hangup_cause is not None
                and not peer.hungup
            )

        ok = True
        for priority, (sound, seconds) in enumerate(greeting, start=4):
            self._exten(two, ctx, b, priority, "Playback", sound)
            ok = await self._wait(two, seconds)
            if two.hungup:
                return
            self.set_var(two, "PLAYBACKSTATUS", "SUCCESS")
            if not ok and not stopped_by_peer():
                break
        else:
            if plan.behaviour == sc.QUICK_HANGUP:  # hangs up right after "hello"
                self._dialplan_hangup(two, 16, (ctx, b, 5))
                return
            self._exten(two, ctx, b, 6, "MusicOnHold", f"default,{round(plan.talk_seconds)}")
            self.emit("MusicOnHoldStart", "call,all", [*two.snapshot(), ("Class", "default")])
            ok = await self._wait(two, plan.talk_seconds)
            if not two.hungup:
                self.emit("MusicOnHoldStop", "call,all", two.snapshot())
        if two.hungup:
            return
        if ok or stopped_by_peer():
            self._dialplan_hangup(two, 16, (ctx, b, 7))
        else:
            self._finish(two, two.hangup_cause if two.hangup_cause is not None else 16)

    # -- the ;1 half's dialplan ------------------------------------------------

    async def _run_dialplan(
        self, channel: Channel, context: str, exten: str, priority: int
    ) -> None:
        location: LocationT | None = (context, exten, priority)
        while location is not None and not channel.hungup:
            location = await self._run(channel, *location)
            if channel.hungup:
                return
            if channel.hangup_cause is not None:
                break
            if channel.redirect is not None:
                location, channel.redirect = channel.redirect, None
                channel.interrupt.clear()
        if not channel.hungup:
            self._finish(channel, channel.hangup_cause if channel.hangup_cause is not None else 16)

    async def _run(
        self, channel: Channel, context: str, exten: str, priority: int
    ) -> LocationT | None:
        """Run from one location until the dialplan jumps (return it) or ends (None)."""
        if context == cv.CONTEXT_ANSWER:
            if exten == "s":
                return await self._answer(channel)
            return await self._action(channel, exten)
        if context == cv.CONTEXT_FAILURE:
            return self._failure(channel)
        if context == SAFE_HARBOR:
            return await self._safe_harbor(channel)
        if context == cv.CONTEXT_AGENT:
            return await self._agent(channel)
        if context == CONTEXT_SUPERVISOR:
            return await self._supervisor(channel)
        if context == CONTEXT_SPY:
            return await self._spy(channel)
        # Anything else: stay up until hung up or redirected.
        self._exten(channel, context, exten, priority, "Wait", "86400")
        await self._wait(channel, 86400)
        return None

    async def _answer(self, channel: Channel) -> LocationT | None:
        ctx = cv.CONTEXT_ANSWER
        attempt = self.get_var(channel, cv.ATTEMPT_ID) or ""
        self._exten(channel, ctx, "s", 1, "NoOp", f"cobrador-answer attempt={attempt}")
        amd_off = self.get_var(channel, "COBRADOR_AMD") == "off"
        self._exten(channel, ctx, "s", 2, "GotoIf", f"{int(amd_off)}?agi")
        if not amd_off:
            self._exten(channel, ctx, "s", 3, "AMD")
            machine = channel.behaviour == sc.MACHINE
            seconds = (
                self.scenario.amd_machine_seconds if machine else self.scenario.amd_human_seconds
            )
            if not await self._wait(channel, seconds):
                if channel.hangup_cause is None:
                    return None  # redirected
                self.set_var(channel, cv.AMD_STATUS, cv.AMD_HANGUP)
                self.set_var(channel, cv.AMD_CAUSE, "HANGUP-0")
                self._exten(channel, ctx, "s", 4, "GotoIf", "1?gone")
                return None
            self.set_var(channel, cv.AMD_STATUS, cv.AMD_MACHINE if machine else cv.AMD_HUMAN)
            # As Asterisk says it (800 ms of silence heard after the greeting), whatever
            # the clock's speed: a scaled pbxsim leaves the dialer less of its 2 s.
            cause = "LONGGREETING-1500-1500" if machine else "HUMAN-800-800"
            self.set_var(channel, cv.AMD_CAUSE, cause)
            self._exten(channel, ctx, "s", 4, "GotoIf", "0?gone")
        host, port = agi_address(self, channel)
        self._exten(channel, ctx, "s", 5, "AGI", f"agi://{host}:{port}/{cv.SCRIPT_ANSWER}")
        channel.in_agi = True
        try:
            status, goto = await run_agi(self, channel, cv.SCRIPT_ANSWER)
        finally:
            channel.in_agi = False
        self.set_var(channel, "AGISTATUS", status)
        if status == "HANGUP":
            # Hung up while the AGI ran: Asterisk reports cause 0 for this half.
            self._soft_hangup(channel)
            self.hangup(channel, 0)
            return None
        if goto is not None:
            return goto
        failed = status != "SUCCESS"
        self._exten(channel, ctx, "s", 6, "GotoIf", f"{int(failed)}?cobrador-failure,s,1")
        if failed:
            return (cv.CONTEXT_FAILURE, "s", 1)
        action = self.get_var(channel, cv.ACTION) or ""
        known = action in (cv.ACTION_BRIDGE, cv.ACTION_SAFE_HARBOR, cv.ACTION_HANGUP)
        self._exten(channel, ctx, "s", 7, "GotoIf", f"{int(known)}?action-{action},1")
        if known:
            return (ctx, f"action-{action}", 1)
        self._exten(channel, ctx, "s", 8, "Goto", "cobrador-failure,s,1")
        return (cv.CONTEXT_FAILURE, "s", 1)

    async def _action(self, channel: Channel, exten: str) -> LocationT | None:
        ctx = cv.CONTEXT_ANSWER
        if exten == f"action-{cv.ACTION_BRIDGE}":
            bridge = self.get_var(channel, cv.BRIDGE) or ""
            valid = bool(_AGENT_BRIDGE.match(bridge))
            self._exten(channel, ctx, exten, 1, "GotoIf", f"{int(valid)}?:cobrador-failure,s,1")
            if not valid:
                return (cv.CONTEXT_FAILURE, "s", 1)
            self._exten(
                channel, ctx, exten, 2, "ConfBridge", f"{bridge},cobrador_bridge,cobrador_debtor"
            )
            await self._conference(channel, bridge, "debtor")
            if channel.hangup_cause is None and channel.redirect is None:
                self._dialplan_hangup(channel, 16, (ctx, exten, 3))
            return None
        if exten == f"action-{cv.ACTION_SAFE_HARBOR}":
            self._exten(channel, ctx, exten, 1, "Goto", f"{SAFE_HARBOR},s,1")
            return (SAFE_HARBOR, "s", 1)
        if exten == f"action-{cv.ACTION_HANGUP}":
            self._dialplan_hangup(channel, 16, (ctx, exten, 1))
            return None
        return (cv.CONTEXT_FAILURE, "s", 1)

    def _failure(self, channel: Channel) -> LocationT | None:
        ctx = cv.CONTEXT_FAILURE
        attempt = self.get_var(channel, cv.ATTEMPT_ID) or ""
        agi = self.get_var(channel, "AGISTATUS") or ""
        action = self.get_var(channel, cv.ACTION) or ""
        self._exten(
            channel,
            ctx,
            "s",
            1,
            "NoOp",
            f"cobrador-failure attempt={attempt} agi={agi} action={action}",
        )
        self._exten(channel, ctx, "s", 2, "Set", "COBRADOR_FAILED=1")
        self.set_var(channel, "COBRADOR_FAILED", "1")
        machine = self.get_var(channel, cv.AMD_STATUS) == cv.AMD_MACHINE
        self._exten(channel, ctx, "s", 3, "GotoIf", f"{int(machine)}?machine")
        if machine:
            self._dialplan_hangup(channel, 16, (ctx, "s", 5))
            return None
        self._exten(channel, ctx, "s", 4, "Goto", f"{SAFE_HARBOR},s,1")
        return (SAFE_HARBOR, "s", 1)

    async def _safe_harbor(self, channel: Channel) -> LocationT | None:
        attempt = self.get_var(channel, cv.ATTEMPT_ID) or ""
        self._exten(channel, SAFE_HARBOR, "s", 1, "NoOp", f"safe-harbor attempt={attempt}")
        self._exten(channel, SAFE_HARBOR, "s", 2, "Set", "COBRADOR_ABANDONED=1")
        self.set_var(channel, "COBRADOR_ABANDONED", "1")
        self._exten(channel, SAFE_HARBOR, "s", 3, "GotoIf", "0?recorded")
        prompts = [
            ("Playback", "hello"),
            ("SayAlpha", self.company_name),
            ("Playback", "im-sorry&all-circuits-busy-now&please-try-call-later&telephone-number"),
            ("SayDigits", self.callback_number),
            ("Playback", "goodbye"),
        ]
        # Relative lengths of the stock prompts (about 22 s in all on Asterisk 22).
        weights = [0.7, 5.6, 7.5, 8.0, 0.7]
        scale = self.scenario.safe_harbor_seconds / sum(weights)
        for priority, ((app, data), weight) in enumerate(zip(prompts, weights, strict=True), 4):
            self._exten(channel, SAFE_HARBOR, "s", priority, app, data)
            if not await self._wait(channel, weight * scale):
                return None
            if app == "Playback":
                self.set_var(channel, "PLAYBACKSTATUS", "SUCCESS")
        self._dialplan_hangup(channel, 16, (SAFE_HARBOR, "s", 9))
        return None

    async def _agent(self, channel: Channel) -> LocationT | None:
        ctx = cv.CONTEXT_AGENT
        agent_id = self.get_var(channel, cv.AGENT_ID) or ""
        self._exten(channel, ctx, "s", 1, "NoOp", f"cobrador-agent agent={agent_id}")
        valid = agent_id.isdigit()
        self._exten(channel, ctx, "s", 2, "GotoIf", f"{int(valid)}?:bad")
        if not valid:
            self._dialplan_hangup(channel, 21, (ctx, "s", 6))
            return None
        self._exten(channel, ctx, "s", 3, "Answer")
        bridge = cv.agent_bridge(agent_id)
        self._exten(channel, ctx, "s", 4, "ConfBridge", f"{bridge},cobrador_bridge,cobrador_agent")
        await self._conference(channel, bridge, "agent")
        if channel.hangup_cause is None and channel.redirect is None:
            self._dialplan_hangup(channel, 16, (ctx, "s", 5))
        return None

    async def _supervisor(self, channel: Channel) -> LocationT | None:
        """A supervisor listens to an agent: joins agent-<id> muted, leaves with the agent."""
        ctx = CONTEXT_SUPERVISOR
        agent_id = self.get_var(channel, SPY_AGENT_ID) or ""
        self._exten(channel, ctx, "s", 1, "NoOp", f"cobrador-supervisor agent={agent_id}")
        valid = agent_id.isdigit()
        self._exten(channel, ctx, "s", 2, "GotoIf", f"{int(valid)}?:bad")
        if not valid:
            self._dialplan_hangup(channel, 21, (ctx, "s", 6))
            return None
        self._exten(channel, ctx, "s", 3, "Answer")
        bridge = cv.agent_bridge(agent_id)
        self._exten(
            channel, ctx, "s", 4, "ConfBridge", f"{bridge},cobrador_bridge,cobrador_supervisor"
        )
        await self._conference(channel, bridge, "supervisor")
        if channel.hangup_cause is None and channel.redirect is None:
            self._dialplan_hangup(channel, 16, (ctx, "s", 5))
        return None

    async def _spy(self, channel: Channel) -> LocationT | None:
        """ChanSpy on the agent's bridged leg (SPYGROUP agent<id>); no audio is
        simulated, only the channel's life: it ends when either side hangs up."""
        ctx = CONTEXT_SPY
        agent_id = self.get_var(channel, SPY_AGENT_ID) or ""
        mode = self.get_var(channel, SPY_MODE) or ""
        self._exten(channel, ctx, "s", 1, "NoOp", f"cobrador-spy agent={agent_id} mode={mode}")
        valid = agent_id.isdigit() and mode in SPY_OPTIONS
        self._exten(channel, ctx, "s", 2, "GotoIf", f"{int(agent_id.isdigit())}?:bad")
        if agent_id.isdigit():
            self._exten(channel, ctx, "s", 3, "GotoIf", f"{int(valid)}?:bad")
        if not valid:
            self._dialplan_hangup(channel, 21, (ctx, "s", 6))
            return None
        self._exten(channel, ctx, "s", 4, "Answer")
        self._exten(channel, ctx, "s", 5, "Goto", f"mode-{mode},1")
        group = f"agent{agent_id}"
        self._exten(channel, ctx, f"mode-{mode}", 1, "ChanSpy", f",{SPY_OPTIONS[mode]}g({group})")
        target = next((c for c in self.channels.values()
                       if c.variables.get("SPYGROUP") == group and c.bridge), None)  # fmt: skip
        if target is not None:
            self.spied[channel.uniqueid] = target.uniqueid
            stop = asyncio.ensure_future(channel.interrupt.wait())
            gone = asyncio.ensure_future(target.gone.wait())
            try:
                await asyncio.wait({stop, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                gone.cancel()
                self.spied.pop(channel.uniqueid, None)
        if channel.hangup_cause is None and channel.redirect is None:
            self._dialplan_hangup(channel, 16, (ctx, f"mode-{mode}", 2))
        return None

    # -- operator and test hooks -------------------------------------------------

    def drop_agent(self, agent_id: int | str) -> bool:
        """The agent's phone hangs up (the nailed-up leg drops). It comes back the
        way it came: a new Originate to the phone (the dialer's reconnect); while
        its endpoint is in `unavailable_endpoints` that Originate fails instead."""
        for channel in list(self.channels.values()):
            if channel.variables.get(cv.AGENT_ID) == str(agent_id) and channel.bridge:
                far_end = channel.peer or channel
                self.request_hangup(far_end, 16)
                return True
        return False

    def inbound_call(self, did: str, caller: str) -> Channel:
        """A carrier call to `did` from `caller` ('' withheld): see pbxsim/inbound.py."""
        from pbxsim.inbound import start_inbound_call

        return start_inbound_call(self, did, caller)

    def redirect(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        channel.redirect = (context, exten, priority)
        channel.interrupt.set()
