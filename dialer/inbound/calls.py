"""The FastAGI routes of inbound calls: `inbound` (greeting, queue, agent) and
`inbound_end` (the h extension: the bridged call ended).

The business steps live in the sibling modules (ani, hours, routing, queue,
records, callbacks); this module runs them in the order a call needs and turns
them into dialplan actions. Every call leaves an inbound attempt row and audit
entries, whatever happens to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from compliance.callback_window import CallbackChecker, CallbackTarget, default_callback_checker
from dialer import channel_vars as cv
from dialer.agent_state import AgentState, AgentStateError, AgentStates
from dialer.fastagi import AGISession
from dialer.fastagi.errors import AGIHangup
from dialer.inbound import records
from dialer.inbound.ani import Ani, normalise_ani
from dialer.inbound.callbacks import callback_due
from dialer.inbound.queue import InboundQueue
from dialer.inbound.routing import ReadyAgent, candidates
from dialer.inbound.settings import InboundSettings, InboundSettingsError, inbound_settings
from dialer.inbound.skills import member_ids as skill_members
from dialer.messages import InboundPop
from dialer.recording import Recorder
from metrics import definitions as m
from store.models import Campaign

log = logging.getLogger(__name__)

ACTION_BRIDGE = cv.ACTION_BRIDGE
ACTION_HANGUP = cv.ACTION_HANGUP
# Stock prompts of Debian's asterisk-core-sounds (a site records its own Spanish ones).
POSITION_PROMPTS = ("queue-thereare", "queue-callswaiting")
CLOSED_PROMPTS = "im-sorry&please-try-call-later"
UNROUTED_PROMPT = "ss-noservice"
CALLBACK_PROMPT = "auth-thankyou"


@dataclass
class LiveInbound:
    """One caller between the greeting and the end of the call."""

    attempt_id: int
    campaign: str
    call_id: str
    queued: float | None = None  # entered the queue (the greeting played): the wait starts
    agent_id: int | None = None
    channel: str = ""  # the caller's channel for AMI actions (its Uniqueid, else its name)


class InboundCalls:
    def __init__(
        self,
        *,
        sql: Engine,
        redis: aioredis.Redis,
        clock: Callable[[], float] = time.time,
        checker: CallbackChecker = default_callback_checker,
        poll_seconds: float = 0.5,
        publish: Callable[[str, str], Awaitable[object]] | None = None,
        recorders: Callable[[str], Awaitable[Recorder | None]] | None = None,
        owner: str | None = None,
    ) -> None:
        self.sql = sql
        self.redis = redis
        self.clock = clock
        self.checker = checker
        self.poll_seconds = poll_seconds
        self.agents = AgentStates(redis, clock=clock)
        self.queue = InboundQueue(redis)
        self._publish = publish or redis.publish
        # campaign name -> its Recorder (dialer/recording.py; dialer/inbound/control.py)
        self.recorders = recorders or _no_recorder
        self.live: dict[int, LiveInbound] = {}
        # Names this process in the queue's `calls` map; its housekeeping keeps the
        # name alive in Redis, and others close its calls once it is gone.
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    # -- the `inbound` route ---------------------------------------------------

    async def handle(self, agi: AGISession) -> None:
        now = self.clock()
        did = (await agi.get_variable(cv.DID)) or agi.env.get("agi_extension", "")
        raw_ani = agi.env.get("agi_callerid", "")
        campaign = await asyncio.to_thread(records.campaign_for_did, self.sql, did)
        settings = None
        if campaign is not None:
            try:
                settings = inbound_settings(campaign.config, campaign.country, campaign.caller_ids)
            except InboundSettingsError as exc:
                log.error("campaign %s inbound settings unusable: %s", campaign.name, exc)
        if campaign is None or settings is None:
            await self._unrouted(agi, did, raw_ani, now)
            return
        ani = normalise_ani(raw_ani, campaign.country)
        matches = await asyncio.to_thread(records.accounts_for_number, self.sql, ani.e164) \
            if ani.e164 else []  # fmt: skip
        matches = matches[: records.MAX_MATCHES]
        one = matches[0] if len(matches) == 1 else None
        at = _utc(now)
        attempt_id = await asyncio.to_thread(
            records.open_attempt, self.sql, campaign_id=campaign.id,
            account_id=one.account_id if one else None, phone_id=one.phone_id if one else None,
            ani=ani.e164 or "", ani_status=ani.status, did=did, started_at=at,
            uniqueid=agi.uniqueid, matches=len(matches),
        )  # fmt: skip
        await agi.set_variable(cv.ATTEMPT_ID, str(attempt_id))
        await agi.set_variable(cv.CAMPAIGN, campaign.name)
        m.INBOUND_RECEIVED.labels(campaign.name).inc()
        if not settings.hours.is_open(at):
            await self._after_hours(agi, campaign, settings, ani, matches, attempt_id, now)
            return
        call = LiveInbound(attempt_id, campaign.name, agi.uniqueid or f"a{attempt_id}",
                           channel=agi.uniqueid or agi.channel)  # fmt: skip
        self.live[attempt_id] = call
        await self.queue.track(campaign.name, attempt_id, call.call_id, self.owner)
        await self.queue.count_arrival(campaign.name, now, settings.hours.zone)
        try:
            await agi.exec("Playback", settings.greeting_sound)
            # The caller enters the queue once the greeting has played: the wait (service
            # level, wallboard, pacing, the attempt's queued_at) counts from here.
            call.queued = self.clock()
            await self.queue.join(campaign.name, call.call_id, call.queued)
            await asyncio.to_thread(records.mark_queued, self.sql, attempt_id, _utc(call.queued))
            agent_id = await self._wait_for_agent(agi, call, campaign, settings)
            await self._bridge(agi, call, campaign, settings, matches, ani, agent_id)
        except AGIHangup:
            await self._abandoned(call)
            raise
        except asyncio.CancelledError:
            # The route's time limit (or shutdown): the caller goes to the failure
            # message; the queue entry and the attempt are closed all the same.
            if call.agent_id is None:
                await asyncio.shield(self._abandoned(call))
            raise
        except Exception:
            # A store outage or a bug: the caller goes to the failure message; the
            # attempt is closed and the caller leaves the queue, never left "waiting"
            # (holding back outbound calls) by a call nobody serves any more.
            if call.agent_id is None:
                await asyncio.shield(self._close_unanswered(call, "failed", "lost"))
            raise
        finally:
            if call.agent_id is None:
                self.live.pop(attempt_id, None)

    async def _wait_for_agent(self, agi: AGISession, call: LiveInbound,
                              campaign: records.CampaignRef, settings: InboundSettings) -> int:  # fmt: skip
        """Music and the caller's position until an agent is reserved (or the caller goes)."""
        announce_at = self.clock()
        music = False
        while True:
            agent_id = await self._reserve(call, campaign, settings)
            if agent_id is not None:
                if music:
                    await agi.exec("StopMusicOnHold")
                return agent_id
            now = self.clock()
            if now >= announce_at:
                announce_at = now + settings.announce_every_seconds
                position = await self.queue.position(call.campaign, call.call_id) or 1
                if music:
                    await agi.exec("StopMusicOnHold")
                    music = False
                await agi.exec("Playback", POSITION_PROMPTS[0])
                await agi.exec("SayNumber", str(position))
                await agi.exec("Playback", POSITION_PROMPTS[1])
            if not music:
                await agi.exec("StartMusicOnHold", settings.hold_class)
                music = True
            await agi.command("NOOP waiting")  # a hung-up caller surfaces here
            await asyncio.sleep(self.poll_seconds)

    async def _reserve(self, call: LiveInbound, campaign: records.CampaignRef,
                       settings: InboundSettings) -> int | None:  # fmt: skip
        """Reserve the best ready agent atomically (agent_state.reserve), then make sure
        the agent is still there (logged out meanwhile: keep waiting)."""
        waited = self.clock() - call.queued if call.queued is not None else 0.0
        overflow = waited >= settings.overflow_after_seconds
        # A skill group spans campaigns, and so does overflow: then every campaign's agents.
        wide = overflow or settings.skill_group is not None
        names = await asyncio.to_thread(_campaign_names, self.sql) if wide else [campaign.name]
        skills = await asyncio.to_thread(skill_members, self.sql, settings.skill_group) \
            if settings.skill_group else set()  # fmt: skip
        ready: list[ReadyAgent] = []
        for name in names:
            for a in await self.agents.list(name):
                if a.state is AgentState.ready:
                    group = frozenset({settings.skill_group or ""}) if a.agent_id in skills \
                        else frozenset()  # fmt: skip
                    ready.append(ReadyAgent(a.agent_id, a.campaign, a.since, group))
        # The longest waiting caller of the campaign goes first.
        head = await self.queue.waiting(call.campaign)
        if head and head[0].call_id != call.call_id and not overflow:
            return None
        for agent_id in candidates(ready, campaign.name, settings.skill_group, waited,
                                   settings.overflow_after_seconds):  # fmt: skip
            if not await self.agents.reserve(agent_id, call.attempt_id):
                continue
            try:
                await self.agents.talking(agent_id, call.attempt_id)
            except AgentStateError:
                log.info("inbound attempt %s: agent %s left while reserved; still waiting",
                         call.attempt_id, agent_id)  # fmt: skip
                continue
            return agent_id
        return None

    async def _bridge(self, agi: AGISession, call: LiveInbound, campaign: records.CampaignRef,
                      settings: InboundSettings, matches: list[records.AccountMatch], ani: Ani,
                      agent_id: int) -> None:  # fmt: skip
        now = self.clock()
        recorder = await self.recorders(call.campaign)
        if recorder is not None:  # as for outbound: MixMonitor before the bridge
            await recorder.at_answer(agi, call.attempt_id, cv.ACTION_BRIDGE)
        try:
            await agi.set_variable(cv.BRIDGE, cv.agent_bridge(agent_id))
            await agi.set_variable(cv.AGENT_ID, str(agent_id))
            await agi.set_variable(cv.INBOUND_STATE, "bridged")
            await agi.set_variable(cv.ACTION, ACTION_BRIDGE)
        except AGIHangup:
            # Gone between the reservation and the bridge. The agent is already talking
            # (`_reserve`), and talking may not go straight to ready: released through
            # wrap-up, as after any call (dialer/loop/answer.py does the same). A move to
            # ready here was refused and left the agent talking on a call that was gone.
            with contextlib.suppress(AgentStateError):
                await self.agents.wrap_up(agent_id)
            raise
        call.agent_id = agent_id
        if recorder is not None and call.channel:  # on_demand start/stop from the console
            recorder.attach_inbound(call.attempt_id, call.channel, agent_id)
        waited = await self.queue.leave(call.campaign, call.call_id, now, "answered")
        m.INBOUND_ANSWERED.labels(call.campaign).inc()
        m.INBOUND_WAIT.labels(call.campaign, "answered").observe(waited)
        await asyncio.to_thread(
            records.mark_bridged, self.sql, call.attempt_id, agent_id, _utc(now)
        )
        pop = InboundPop(
            attempt_id=call.attempt_id, agent_id=agent_id, campaign=campaign.name,
            ani_status=ani.status.value, account_ids=tuple(x.account_id for x in matches),
            account_id=matches[0].account_id if len(matches) == 1 else None,
            verification=tuple(settings.verification), waited_seconds=round(waited, 1),
            published_at=time.time(),
        )  # fmt: skip
        await self._publish(pop.CHANNEL, pop.to_json())
        log.info("inbound attempt %s: agent %s after %.1f s", call.attempt_id, agent_id, waited)

    async def _abandoned(self, call: LiveInbound) -> None:
        """The caller hung up before an agent took the call (greeting or queue); a caller
        gone during the greeting never entered the queue and waited 0 s."""
        waited = await self._close_unanswered(call, "queue_abandoned", "abandoned")
        m.INBOUND_ABANDONED.labels(call.campaign).inc()
        m.INBOUND_WAIT.labels(call.campaign, "abandoned").observe(waited)
        log.info(
            "inbound attempt %s: caller hung up after %.1f s in queue", call.attempt_id, waited
        )

    async def _close_unanswered(self, call: LiveInbound, result: str, outcome: str) -> float:
        """Close a call no agent took: the attempt in SQL first (evidence), then the
        queue entry in Redis. Either store may be away: what one could not do, the
        housekeeping finishes from the other (dialer/inbound/housekeeping.py)."""
        now = self.clock()
        waited = max(0.0, now - call.queued) if call.queued is not None else 0.0
        recorder = await self.recorders(call.campaign)
        if recorder is not None:  # gone while MixMonitor was starting: closed with its reason
            recorder.close(call.attempt_id, now)
        try:
            await asyncio.to_thread(records.close_attempt, self.sql, call.attempt_id,
                                    result=result, ended_at=_utc(now), waited=waited)  # fmt: skip
        except SQLAlchemyError as exc:
            log.warning("inbound attempt %s not closed yet (%s)", call.attempt_id, exc)
        try:
            await self.queue.leave(call.campaign, call.call_id, now, outcome)
            await self.queue.untrack(call.campaign, call.attempt_id)
        except (RedisError, OSError) as exc:
            log.warning("inbound attempt %s: queue entry not removed yet (%s)",
                        call.attempt_id, type(exc).__name__)  # fmt: skip
        return waited

    async def _after_hours(self, agi: AGISession, campaign: records.CampaignRef,
                           settings: InboundSettings, ani: Ani,
                           matches: list[records.AccountMatch], attempt_id: int,
                           now: float) -> None:  # fmt: skip
        """Closed: the request is written first (nothing lost if the caller hangs up),
        then the caller hears when the center opens."""
        at = _utc(now)
        await self.queue.count_arrival(campaign.name, now, settings.hours.zone)
        own = [x for x in matches if x.campaign_id == campaign.id] or matches
        if own:
            match = own[0]
            target = CallbackTarget(
                country=match.country, account_timezone=match.timezone, phone_e164=ani.e164,
                region=match.region, profile=campaign.profile, campaign=campaign.name,
                compliance_overrides=campaign.config.get("compliance"),
            )  # fmt: skip
            due = callback_due(at, settings.hours, target, self.checker)
            await asyncio.to_thread(records.request_callback, self.sql, attempt_id=attempt_id,
                                    match=match, campaign_id=campaign.id, due_at=due, now=at)  # fmt: skip
        else:
            await asyncio.to_thread(records.record_unmatched_callback, self.sql,
                                    attempt_id=attempt_id, ani=ani.e164 or "")  # fmt: skip
        m.INBOUND_CALLBACK_REQUESTS.labels(campaign.name).inc()
        await asyncio.to_thread(records.close_attempt, self.sql, attempt_id, result="after_hours",
                                ended_at=at)  # fmt: skip
        opening = settings.hours.next_opening(at)
        with contextlib.suppress(AGIHangup):
            if settings.closed_sound:
                await agi.exec("Playback", settings.closed_sound)
            else:
                await agi.exec("Playback", CLOSED_PROMPTS)
            if opening is not None:
                zone = settings.hours.zone.key
                await agi.exec(
                    "SayUnixTime", f"{int(opening.timestamp())},{zone},ABdY 'digits/at' IMp"
                )
            await agi.exec("Playback", CALLBACK_PROMPT)
            await agi.set_variable(cv.ACTION, ACTION_HANGUP)

    async def _unrouted(self, agi: AGISession, did: str, raw_ani: str, now: float) -> None:
        """A DID no campaign owns: evidence and a message, never silence."""
        ani = normalise_ani(raw_ani, "MX")
        attempt_id = await asyncio.to_thread(
            records.open_attempt, self.sql, campaign_id=None, account_id=None, phone_id=None,
            ani=ani.e164 or "", ani_status=ani.status, did=did, started_at=_utc(now),
            uniqueid=agi.uniqueid, matches=0,
        )  # fmt: skip
        await asyncio.to_thread(records.close_attempt, self.sql, attempt_id, result="unrouted",
                                ended_at=_utc(now))  # fmt: skip
        log.warning("inbound call to a DID no campaign owns (attempt %s)", attempt_id)
        with contextlib.suppress(AGIHangup):
            await agi.exec("Playback", UNROUTED_PROMPT)
            await agi.set_variable(cv.ACTION, ACTION_HANGUP)

    # -- the `inbound_end` route (h extension) ----------------------------------

    async def handle_end(self, agi: AGISession) -> None:
        """A bridged inbound call ended (h extension, arguments: attempt id, agent id):
        close its attempt, the agent goes to wrap-up. Sends no command: the channel is gone."""
        args = list(agi.args) + ["", ""]
        if not args[0].isdigit() or not args[1].isdigit():
            log.warning("inbound_end without attempt/agent arguments: %r", agi.args)
            return
        await self.end(int(args[0]), int(args[1]))

    async def end(self, attempt_id: int, agent_id: int) -> None:
        call = self.live.pop(attempt_id, None)
        recorder = await self.recorders(call.campaign) if call is not None else None
        if recorder is not None:
            recorder.close(attempt_id, self.clock())
        await asyncio.to_thread(records.close_attempt, self.sql, attempt_id, result="contact",
                                ended_at=_utc(self.clock()), agent_id=agent_id)  # fmt: skip
        # From the closed attempt: the agent (if still on it), then the queue's entry; a
        # Redis outage here is finished by the housekeeping from the closed row.
        await self.agents.release(agent_id, attempt_id)
        if call is not None:  # else another process served it: its entry goes with it
            await self.queue.untrack(call.campaign, attempt_id)


async def _no_recorder(_campaign: str) -> Recorder | None:
    return None


def _campaign_names(sql: Engine) -> list[str]:
    with Session(sql) as s:
        return list(s.scalars(select(Campaign.name).order_by(Campaign.id)))


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
