"""Supervisor monitoring of a live call: listen, whisper or barge.

The dialer calls the supervisor's own phone into context cobrador-spy with the
agent and the mode; the dialplan runs ChanSpy on the agent's leg (SPYGROUP
``agent<id>``) with the mode's options (listen: only the supervisor hears;
whisper: the agent hears her too; barge: agent and debtor hear her). Every
session is evidence in the audit chain: ``monitor_start`` when her phone
answers and ``monitor_session`` (who, whom, mode, start, end) when her leg
hangs up. A command the console should never have sent (a role that may not
monitor, an agent not in a call, or on another call than the one the console
allowed) is refused here too, and audited. ChanSpy follows the agent's leg, which
outlives each call: a session ends when the call it was allowed for ends (the
agent leaves `talking` or is on another attempt), so a supervisor never goes on
to hear the agent's next call, which may be another campaign's. The agents' events
come over Redis pub/sub, which loses what is published while a subscriber is away
(a Redis blip): `check_calls`, run every CHECK_SECONDS by dialer/phone_service.py,
reads each session's agent state itself and ends the sessions whose call is over,
so a lost event costs at most that long of the next call. Both need Redis; so the
session also follows Asterisk itself (AMI events, no Redis): the channels of the
call in the agent's bridge when it began (ConfbridgeList; the outbound debtor's
channel is named by its attempt), and it ends when one of them hangs up or leaves
the bridge, or another attempt's debtor joins it. A full Redis outage thus ends it
as soon as the call does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine

from dialer import channel_vars as cv
from dialer.agent_legs import LEG_PREFIX
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient, Message
from dialer.ami.errors import AMIActionError, AMIError
from dialer.channels.asterisk_call import attempt_of
from dialer.user_phones import PhoneUser

log = logging.getLogger(__name__)

MODES = ("listen", "whisper", "barge")
MONITOR_ROLES = ("supervisor", "admin")
CONTEXT_SPY = "cobrador-spy"
SPY_PREFIX = "cobrador-spy-"
SPY_AGENT_ID = "COBRADOR_SPY_AGENT_ID"
SPY_MODE = "COBRADOR_SPY_MODE"
ANSWER_TIMEOUT_MS = 30_000
# How often each session's agent state is read again, whatever the pub/sub events
# said: the bound on what a supervisor may hear of the next call when one is lost.
CHECK_SECONDS = 2.0
HOW_CALL_ENDED = "the agent's call ended"
HOW_FOUND_BY_CHECK = "the agent's call ended (found by the periodic check: its event was lost)"
# Asterisk's events of a call's channel leaving the agent's bridge (or the call).
LEFT_EVENTS = ("Hangup", "ConfbridgeLeave", "BridgeLeave")
_MONITOR_ID = re.compile(r"^[0-9a-f]{8,32}$")

UserOf = Callable[[int], Awaitable[PhoneUser | None]]
PhoneFor = Callable[[PhoneUser], str]
AuditWriter = Callable[[str, dict[str, Any], str, str], Awaitable[None]]


class MonitorRefused(ValueError):
    """The request cannot start a monitoring session; the message is the reason code."""


@dataclass
class MonitorSession:
    monitor_id: str
    supervisor_id: int
    supervisor: str
    agent_id: int
    mode: str
    channel_id: str
    requested_at: float
    attempt_id: int | None = None  # the call heard: the session ends with it
    started_at: float | None = None
    ending: bool = False
    call_ended: bool = False  # hung up by the dialer because the agent's call ended
    found_by_check: bool = False  # ...seen by check_calls, not by the agent's event
    checked_at: float | None = None  # check_calls' last reading of the agent's state
    # The call's channels (Uniqueids) in the agent's bridge: the debtor's, an inbound
    # caller's. One leaving ends the session (followed on AMI: no Redis needed).
    call_channels: set[str] = field(default_factory=set)

    @property
    def debtor_channel(self) -> str | None:
        """The channel of the outbound call heard, known by its attempt before it joins."""
        return None if self.attempt_id is None else cv.originate_channel_id(self.attempt_id)

    @property
    def bridge(self) -> str:
        return cv.agent_bridge(self.agent_id)

    def is_call_channel(self, uniqueid: str) -> bool:
        return uniqueid in self.call_channels or uniqueid == self.debtor_channel

    def evidence(self) -> dict[str, Any]:
        return {
            "monitor_id": self.monitor_id,
            "supervisor_id": self.supervisor_id,
            "agent_id": self.agent_id,
            "mode": self.mode,
            "attempt_id": self.attempt_id,
            "requested_at": _iso(self.requested_at),
            "started_at": _iso(self.started_at),
        }


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def check_due(checked_at: float | None, now: float, every: float = CHECK_SECONDS) -> bool:
    """Whether a session's agent state is to be read again at `now`: never read, read
    `every` seconds ago or more, or read "in the future" (the clock was set back: a
    check is cheaper than a session that is never checked again)."""
    return checked_at is None or now - checked_at >= every or now < checked_at


def is_party(uniqueid: str) -> bool:
    """A channel in an agent's bridge that is a party to the call: not the agent's
    leg, not music on hold, not a supervisor's leg."""
    return bool(uniqueid) and not uniqueid.startswith(
        (LEG_PREFIX, cv.HOLD_CHANNEL_PREFIX, SPY_PREFIX)
    )


def spy_channel_id(monitor_id: str) -> str:
    return f"{SPY_PREFIX}{monitor_id}"


def parse_request(command: Mapping[str, Any]) -> tuple[str, int, int, str, int | None]:
    """(monitor_id, supervisor_id, agent_id, mode, attempt_id) of a `monitor` command."""
    monitor_id = str(command.get("monitor_id", ""))
    mode = str(command.get("mode", ""))
    attempt_id = command.get("attempt_id")
    try:
        supervisor_id = int(command["supervisor_id"])
        agent_id = int(command["agent_id"])
    except (KeyError, TypeError, ValueError):
        raise MonitorRefused("bad_request") from None
    if not _MONITOR_ID.match(monitor_id) or mode not in MODES:
        raise MonitorRefused("bad_request")
    if attempt_id is not None and (type(attempt_id) is not int or attempt_id <= 0):
        raise MonitorRefused("bad_request")
    return monitor_id, supervisor_id, agent_id, mode, attempt_id


class Monitoring:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        ami: AMIClient,
        states: AgentStates,
        user_of: UserOf,
        phone_for: PhoneFor,
        audit: AuditWriter,
        campaigns: Collection[str],
        owner: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.ami = ami
        self.states = states
        self.user_of = user_of
        self.phone_for = phone_for
        self.audit = audit
        self.campaigns = set(campaigns)
        self.owner = owner
        self.clock = clock
        self.sessions: dict[str, MonitorSession] = {}  # by the spy leg's channel id

    async def start(self, command: Mapping[str, Any]) -> MonitorSession | None:
        """Call the supervisor's phone into ChanSpy on the agent's leg. None when
        another dialer owns the agent's campaign; MonitorRefused when not allowed."""
        try:
            monitor_id, supervisor_id, agent_id, mode, attempt_id = parse_request(command)
        except MonitorRefused as exc:
            log.warning("monitor command refused (%s): %r", exc, dict(command))
            return None  # nothing trustworthy to write evidence about
        snap = await self.states.get(agent_id)
        if snap.state is not AgentState.logged_out and snap.campaign not in self.campaigns:
            return None
        lock = f"cobrador:monitor:{{{monitor_id}}}"
        if not await self.redis.set(lock, self.owner, nx=True, ex=86400):
            return None  # already handled (another dialer, or a replay)
        supervisor = await self.user_of(supervisor_id)
        who = f"user:{supervisor.username}" if supervisor else f"user-id:{supervisor_id}"
        try:
            if supervisor is None or supervisor.role not in MONITOR_ROLES:
                raise MonitorRefused("role_not_allowed")
            if snap.state is AgentState.logged_out:
                raise MonitorRefused("unknown_agent")
            if snap.state is not AgentState.talking:
                raise MonitorRefused("agent_not_talking")
            if attempt_id is not None and snap.attempt_id != attempt_id:
                # The call the console allowed ended, and the agent took another
                # (perhaps another campaign's) before this command came.
                raise MonitorRefused("call_changed")
            try:
                channel = self.phone_for(supervisor)
            except ValueError:
                raise MonitorRefused("no_phone") from None
            session = MonitorSession(monitor_id, supervisor_id, supervisor.username, agent_id,
                                     mode, spy_channel_id(monitor_id), self.clock(),
                                     snap.attempt_id)  # fmt: skip
            self.sessions[session.channel_id] = session
            try:
                await self._learn_call_channels(session)
                await self.ami.send_action({
                    "Action": "Originate", "Channel": channel, "Context": CONTEXT_SPY,
                    "Exten": "s", "Priority": 1, "Async": "true", "Timeout": ANSWER_TIMEOUT_MS,
                    "ChannelId": session.channel_id, "CallerID": f'"cobrador {mode}" <{agent_id}>',
                    # Echoed by its OriginateResponse, also when it names no channel
                    # (_session_of).
                    "ActionID": session.channel_id,
                    "Variable": f"{SPY_AGENT_ID}={agent_id},{SPY_MODE}={mode}",
                })  # fmt: skip
            except AMIError:
                self.sessions.pop(session.channel_id, None)
                raise MonitorRefused("ami_unavailable") from None
        except MonitorRefused as exc:
            log.warning("monitor %s of agent %s by %s refused: %s", mode, agent_id, who, exc)
            await self.audit("monitor_refused", {"monitor_id": monitor_id, "supervisor_id": supervisor_id,
                             "agent_id": agent_id, "mode": mode, "reason": str(exc)}, who,
                             f"agent:{agent_id}")  # fmt: skip
            raise
        log.info("monitor %s: %s of agent %s by %s", monitor_id, mode, agent_id, who)
        return session

    async def _learn_call_channels(self, session: MonitorSession) -> None:
        """The call's channels now in the agent's bridge. None yet (the debtor is
        still on the way from the answer to the bridge): the first party to join it
        is the call (`_follow_call`). The session is listed before the question, so
        a channel that leaves meanwhile is not missed."""
        try:
            _, members = await self.ami.send_list_action(
                {"Action": "ConfbridgeList", "Conference": session.bridge}
            )
        except AMIActionError:
            return  # no such conference: nobody in it yet
        for member in members:
            uniqueid = member.get("Uniqueid") or ""
            if member.get("MarkedUser") != "Yes" and is_party(uniqueid):
                session.call_channels.add(uniqueid)

    async def stop(self, command: Mapping[str, Any]) -> bool:
        """The supervisor ends her session from the wallboard (or hangs up her phone)."""
        monitor_id = str(command.get("monitor_id", ""))
        session = self.sessions.get(spy_channel_id(monitor_id))
        if session is None or str(session.supervisor_id) != str(command.get("supervisor_id")):
            return False
        with contextlib.suppress(AMIError):
            await self.ami.send_action({"Action": "Hangup", "Channel": session.channel_id})
        return True

    async def on_agent_event(self, event: Mapping[str, Any]) -> None:
        """An agent's new state (AGENT_EVENTS_CHANNEL): the sessions on that agent whose
        call is over are hung up (ChanSpy would go on into the agent's next call)."""
        try:
            agent_id = int(event["agent_id"])
            state = AgentState(str(event["state"]))
        except (KeyError, TypeError, ValueError):
            return
        attempt_id = event.get("attempt_id")
        for session in list(self.sessions.values()):
            if session.agent_id == agent_id:
                await self._end_if_call_over(session, state, attempt_id)

    async def check_calls(self, now: float) -> None:
        """The safety net under on_agent_event, which pub/sub may never deliver: each
        session due (check_due) reads its agent's state from Redis and is hung up
        when the call it was allowed for is over. A session already hung up is sent
        the Hangup again until its leg's end is seen (an AMI action that failed)."""
        for session in list(self.sessions.values()):
            if session.ending or not check_due(session.checked_at, now):
                continue
            session.checked_at = now
            snap = await self.states.get(session.agent_id)
            await self._end_if_call_over(session, snap.state, snap.attempt_id, by_check=True)

    async def _end_if_call_over(
        self, session: MonitorSession, state: AgentState, attempt_id: object,
        by_check: bool = False,
    ) -> None:  # fmt: skip
        if session.ending:
            return
        if state is AgentState.talking and attempt_id == session.attempt_id:
            return
        await self._call_over(session, f"agent {state.value}", by_check)

    async def _call_over(self, session: MonitorSession, why: str, by_check: bool = False) -> None:
        """The call the session was allowed for is over: her leg is hung up (again,
        if a Hangup was sent before her channel existed or failed)."""
        if session.ending:
            return
        if not session.call_ended:
            session.call_ended = True
            session.found_by_check = by_check
            if by_check:
                log.warning("monitor %s: agent %s's call ended (%s) and no event said so",
                            session.monitor_id, session.agent_id, why)  # fmt: skip
            else:
                log.info("monitor %s: agent %s's call ended (%s)", session.monitor_id,
                         session.agent_id, why)  # fmt: skip
        with contextlib.suppress(AMIError):
            await self.ami.send_action({"Action": "Hangup", "Channel": session.channel_id})

    async def _follow_call(self, event: Message) -> None:
        """Asterisk's own word on the calls heard, without Redis: a call's channel
        hung up or left the agent's bridge, or another attempt's debtor joined it."""
        name = event.get("Event")
        uniqueid = event.get("Uniqueid") or ""
        if name in LEFT_EVENTS:
            for session in list(self.sessions.values()):
                if session.is_call_channel(uniqueid):
                    await self._call_over(session, f"its channel's {name}")
        elif name == "ConfbridgeJoin" and is_party(uniqueid):
            conference = event.get("Conference")
            for session in list(self.sessions.values()):
                if session.bridge != conference or session.is_call_channel(uniqueid):
                    continue
                if attempt_of(event) is not None:
                    await self._call_over(session, "another call joined the agent's bridge")
                elif not session.call_channels:
                    session.call_channels.add(uniqueid)  # an inbound caller arriving

    def _session_of(self, event: Message) -> MonitorSession | None:
        """The session whose leg the event is about: by its Uniqueid (Asterisk 22 gives
        a failed Originate the ChannelId it was given), or an OriginateResponse that
        names no channel (<null>) by its ActionID: unmatched, the session never ended."""
        session = self.sessions.get(event.get("Uniqueid") or "")
        if session is None and event.get("Event") == "OriginateResponse":
            session = self.sessions.get(event.get("ActionID") or "")
        return session

    async def on_ami_event(self, event: Message) -> None:
        await self._follow_call(event)
        session = self._session_of(event)
        if session is None:
            return
        name = event.get("Event")
        if name == "Newstate" and event.get("ChannelState") == "6" and session.started_at is None:
            session.started_at = self.clock()
            await self.audit("monitor_start", session.evidence(), f"user:{session.supervisor}",
                             f"agent:{session.agent_id}")  # fmt: skip
            # The call may have ended while her phone rang (its event came before her
            # channel was there to hang up): hung up again once she is on.
            if session.call_ended:
                await self._call_over(session, "before her phone answered")
                return
            try:
                snap = await self.states.get(session.agent_id)
            except (RedisError, OSError):
                return  # the call's channels on AMI end it all the same
            await self._end_if_call_over(session, snap.state, snap.attempt_id)
        elif name == "Hangup":
            how = ""
            if session.call_ended:
                how = HOW_FOUND_BY_CHECK if session.found_by_check else HOW_CALL_ENDED
            await self._end(session, how or f"hangup cause {event.get('Cause') or '?'}")
        elif name == "OriginateResponse" and event.get("Response") == "Failure":
            await self._end(session, "not answered")

    async def reconcile(self, channels: list[Message]) -> None:
        """After the AMI link came back: sessions whose leg is gone ended meanwhile
        (their end time is when we found out)."""
        live = {c.get("Uniqueid") for c in channels}
        for channel_id, session in list(self.sessions.items()):
            if channel_id not in live:
                await self._end(session, "ended while AMI was away")
            elif session.call_channels - live:
                await self._call_over(session, "its channel ended while AMI was away")

    async def _end(self, session: MonitorSession, how: str) -> None:
        # A session is over once its evidence is written: it stays listed until
        # then (whoever waits for the list to empty finds the audit entry), and
        # `ending` keeps a second Hangup from writing it twice.
        if session.ending or session.channel_id not in self.sessions:
            return
        session.ending = True
        evidence = {**session.evidence(), "ended_at": _iso(self.clock()), "how": how}
        try:
            await self.audit("monitor_session", evidence, f"user:{session.supervisor}",
                             f"agent:{session.agent_id}")  # fmt: skip
        finally:
            self.sessions.pop(session.channel_id, None)
        log.info("monitor %s ended (%s)", session.monitor_id, how)


def sql_audit(engine: Engine) -> AuditWriter:
    """An AuditWriter that appends to the audit chain in its own transaction."""
    from store.audit import append
    from store.db import transaction

    def write(kind: str, payload: dict[str, Any], actor: str, subject: str) -> None:
        with transaction(engine) as session:
            append(session, kind, payload, actor=actor, subject=subject)

    async def audit(kind: str, payload: dict[str, Any], actor: str, subject: str) -> None:
        await asyncio.to_thread(write, kind, payload, actor, subject)

    return audit
