"""What a dialer process does for inbound between calls, every few seconds, whether
or not any outbound dial loop runs:

- keeps its name alive in Redis (`cobrador:dialer-alive:{<owner>}`, with a TTL);
- exports the queue gauges of every campaign that can take inbound calls
  (waiting now, longest wait, service level per window) from the queue in Redis;
- closes what a dead dialer left: its callers still counted as waiting leave the
  queue as `lost`, and its open inbound attempts are closed as `lost` with an
  `inbound_end` audit entry naming the dead dialer (the agent of a bridged one
  goes to wrap-up). Every process does this, so a restart or any survivor cleans
  up; `untrack` decides which one closes each call;
- every RECORDINGS_EVERY_SECONDS, has the recordings those calls left open closed
  (`recordings`: the campaigns with no dial loop in this process, whose loop would
  otherwise do it; dialer/inbound/control.py).

A dialer that has not said it is alive may only be stalled (a blocked event loop,
a paused VM): its calls are asked for on this process' Asterisk first, and one
whose channel is still live there is left alone (its dialer, back, ends it as
usual; if it is dead, the call is closed once its channel has gone). A dialer on
another Asterisk has channels this one cannot see: those are closed as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dialer.agent_state import AgentState, AgentStateError, AgentStates
from dialer.inbound import records
from dialer.inbound.board import window_outcomes
from dialer.inbound.queue import MAX_WAIT_SECONDS, InboundQueue, Tracked, waiting_key
from metrics import definitions as m

log = logging.getLogger(__name__)

ALIVE_SECONDS = 15.0  # a dialer that has not said it is alive for this long is dead
# An open inbound attempt no dialer names, or a queue entry no dialer serves, older
# than this cannot be live: no caller waits longer than MAX_WAIT_SECONDS.
STALE_SECONDS = 2 * MAX_WAIT_SECONDS
CAMPAIGNS_EVERY_SECONDS = 10.0
STALE_EVERY_SECONDS = 60.0  # the last-resort sweep (an index range of open attempts)
# How often recordings left open are looked for, and how long after its call's end
# one is left to the process closing it (as a dial loop does for its own).
RECORDINGS_EVERY_SECONDS = 60.0
LOST_WAITING = "dialer stopped while the caller waited in queue"
LOST_CALL = "dialer stopped before the call ended"
LOST_UNTRACKED = "open with no dialer serving it"


def alive_key(owner: str) -> str:
    return f"cobrador:dialer-alive:{{{owner}}}"


class InboundHousekeeping:
    def __init__(self, *, sql: Engine, redis: aioredis.Redis, owner: str,
                 clock: Callable[[], float] = time.time, queue: InboundQueue | None = None,
                 alive_seconds: float = ALIVE_SECONDS,
                 live_calls: Callable[[], Awaitable[set[str] | None]] | None = None,
                 recordings: Callable[[list[str], float], Awaitable[object]] | None = None,
                 ) -> None:  # fmt: skip
        self.sql = sql
        self.redis = redis
        self.owner = owner
        self.clock = clock
        self.queue = queue or InboundQueue(redis)
        self.agents = AgentStates(redis, clock=clock)
        self.alive_seconds = alive_seconds
        # The Uniqueids of the channels live on this process' Asterisk; None from it:
        # Asterisk could not be asked now (nothing is closed until it can). Not given:
        # no Asterisk to ask (a silent dialer is dead).
        self.live_calls = live_calls
        # The inbound campaigns' names and now -> their left recordings closed.
        self.recordings = recordings
        self._recordings_at: float | None = None
        self._spared: set[int] = set()  # attempts left alone so far (said once in the log)
        self.campaigns: list[records.InboundCampaign] = []
        self._campaigns_at: float | None = None
        self._stale_at: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """A pass every third of `alive_seconds` until `stop` is set."""
        while not stop.is_set():
            try:
                await self.refresh()
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("inbound housekeeping skipped a pass: %s", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.alive_seconds / 3)

    async def announce(self) -> None:
        """This process is alive for `alive_seconds` more."""
        await self.redis.set(alive_key(self.owner), "1", px=int(self.alive_seconds * 1000))

    async def refresh(self) -> None:
        """One pass: alive, campaigns, recovery, gauges."""
        await self.announce()
        now = self.clock()
        if self._campaigns_at is None or abs(now - self._campaigns_at) >= CAMPAIGNS_EVERY_SECONDS:
            self._campaigns_at = now
            fresh = await asyncio.to_thread(records.inbound_campaigns, self.sql)
            for gone in {c.name for c in self.campaigns} - {c.name for c in fresh}:
                _forget_gauges(gone)
            self.campaigns = fresh
        tracked_ids: set[int] = set()
        for campaign in self.campaigns:
            tracked = await self.queue.tracked(campaign.name)
            tracked_ids |= {t.attempt_id for t in tracked}
            await self._recover(campaign.name, tracked, now)
            await self._export(campaign, now)
        if self._stale_at is None or abs(now - self._stale_at) >= STALE_EVERY_SECONDS:
            self._stale_at = now
            await self._close_untracked(now, tracked_ids)
        if self.recordings is not None and (
            self._recordings_at is None
            or abs(now - self._recordings_at) >= RECORDINGS_EVERY_SECONDS
        ):
            self._recordings_at = now
            await self.recordings([c.name for c in self.campaigns], now)

    async def _recover(self, campaign: str, tracked: list[Tracked], now: float) -> None:
        others = sorted({t.owner for t in tracked if t.owner != self.owner})
        dead: set[str] = set()
        if others:
            pipe = self.redis.pipeline(transaction=False)
            for owner in others:
                pipe.exists(alive_key(owner))
            dead = {o for o, alive in zip(others, await pipe.execute(), strict=True) if not alive}
        suspects = [t for t in tracked if t.owner in dead]
        asked = await self.live_calls() if suspects and self.live_calls is not None else set()
        if asked is None:
            log.warning("campaign %s: %d call(s) of silent dialers not closed yet: Asterisk "
                        "could not be asked whether they are live", campaign, len(suspects))  # fmt: skip
        live = asked or set()
        for call in suspects if asked is not None else []:
            if call.call_id in live:
                self._spare(call)
            elif await self.queue.untrack(campaign, call.attempt_id):
                self._spared.discard(call.attempt_id)
                await self._close_lost(campaign, call, now)
        # Queue entries nobody serves (older than any caller can wait): not waiting.
        served = {t.call_id for t in tracked}
        for waiting in await self.queue.waiting(campaign):
            if waiting.call_id not in served and now - waiting.since > STALE_SECONDS:
                await self.queue.leave(campaign, waiting.call_id, now, "lost")
                m.INBOUND_LOST.labels(campaign).inc()
                log.warning("campaign %s: queue entry %s served by no dialer removed",
                            campaign, waiting.call_id)  # fmt: skip

    def _spare(self, call: Tracked) -> None:
        if call.attempt_id not in self._spared:
            self._spared.add(call.attempt_id)
            log.warning("inbound attempt %s: dialer %s has not said it is alive for %.0f s but "
                        "the call is live on Asterisk; not closed", call.attempt_id, call.owner,
                        self.alive_seconds)  # fmt: skip

    async def _close_lost(self, campaign: str, call: Tracked, now: float) -> None:
        waited = None
        if await self.redis.zscore(waiting_key(campaign), call.call_id) is not None:
            waited = await self.queue.leave(campaign, call.call_id, now, "lost")
        lost = await asyncio.to_thread(
            records.close_lost, self.sql, call.attempt_id, ended_at=_utc(now), waited=waited,
            reason=LOST_WAITING if waited is not None else LOST_CALL, dead_dialer=call.owner,
            actor=f"dialer:{self.owner}",
        )  # fmt: skip
        if lost is None:
            return  # the call had closed itself: nothing was lost
        m.INBOUND_LOST.labels(campaign).inc()
        if lost.agent_id is not None:
            await self._free_agent(lost.agent_id, call.attempt_id)
        log.warning("inbound attempt %s of campaign %s closed as lost: dialer %s stopped (%s)",
                    call.attempt_id, campaign, call.owner,
                    "in queue" if waited is not None else "after the queue")  # fmt: skip

    async def _free_agent(self, agent_id: int, attempt_id: int) -> None:
        """The agent still shown on the lost call goes to wrap-up (to write what happened)."""
        agent = await self.agents.get(agent_id)
        if agent.attempt_id == attempt_id and agent.state in (AgentState.reserved,
                                                              AgentState.talking):  # fmt: skip
            with contextlib.suppress(AgentStateError):
                await self.agents.wrap_up(agent_id)

    async def _close_untracked(self, now: float, tracked: set[int]) -> None:
        stale = await asyncio.to_thread(records.stale_open_attempts, self.sql,
                                        _utc(now - STALE_SECONDS), tracked)  # fmt: skip
        for attempt_id in stale:
            lost = await asyncio.to_thread(
                records.close_lost, self.sql, attempt_id, ended_at=_utc(now), waited=None,
                reason=LOST_UNTRACKED, dead_dialer=None, actor=f"dialer:{self.owner}",
            )  # fmt: skip
            if lost is not None:
                log.warning("inbound attempt %s open with no dialer closed as lost", attempt_id)

    async def _export(self, campaign: records.InboundCampaign, now: float) -> None:
        name = campaign.name
        waits = [max(0.0, now - w.since) for w in await self.queue.waiting(name)]
        m.INBOUND_WAITING.labels(name).set(len(waits))
        m.INBOUND_LONGEST_WAIT.labels(name).set(max(waits, default=0.0))
        for counter in (m.INBOUND_RECEIVED, m.INBOUND_ANSWERED, m.INBOUND_ABANDONED,
                        m.INBOUND_CALLBACK_REQUESTS, m.INBOUND_LOST):  # fmt: skip
            counter.labels(name)  # the series exist from the start, at 0
        windows = await window_outcomes(self.queue, name, now, campaign.service_level_seconds)
        for label, window in windows.items():
            level = window["service_level"]
            if level is None:  # no call in the window: no ratio rather than a stale one
                with contextlib.suppress(KeyError):
                    m.INBOUND_SERVICE_LEVEL.remove(name, label)
            else:
                m.INBOUND_SERVICE_LEVEL.labels(name, label).set(level)


def _forget_gauges(campaign: str) -> None:
    for gauge in (m.INBOUND_WAITING, m.INBOUND_LONGEST_WAIT):
        with contextlib.suppress(KeyError):
            gauge.remove(campaign)
    for label in ("1h", "24h"):
        with contextlib.suppress(KeyError):
            m.INBOUND_SERVICE_LEVEL.remove(campaign, label)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
