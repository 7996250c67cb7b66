"""Campaign call statistics in Redis, shared by every dialer of a campaign:
answered calls by their role in the abandonment rate (persons, abandoned, AMD
machine drops, early hang-ups; dialer.call_state.abandonment_role) for the
rolling windows, and recent ring and handle samples for the pacing snapshot.

Redis only caches them: every figure is derived from an ended attempt's row by
one function, `figures_of` (the role from `abandonment_role`), the live path
(the dial loop at a call's end) and the rebuild from `call_attempts` (at start,
and when the built marker is gone: Redis flushed or restarted empty) alike, so
the windows read the same before and after a loss. The members are keyed by
attempt, so a rebuild over what is there adds nothing twice and may run while
other dialers write.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from dialer import call_state as cs
from dialer.pacing.snapshot import (
    HANDLE_SAMPLE_WINDOW_SECONDS,
    RING_SAMPLE_WINDOW_SECONDS,
    AbandonWindow,
    DurationSample,
    RingSample,
)

WINDOWS = (1800.0, 3600.0, 86400.0, 2592000.0)
WINDOW_LABELS = {3600.0: "1h", 86400.0: "24h", 2592000.0: "30d"}
KEEP_SECONDS = 2592000.0
SAMPLE_SECONDS = max(RING_SAMPLE_WINDOW_SECONDS, HANDLE_SAMPLE_WINDOW_SECONDS)
REBUILD_TRIES = 3

# Dialer results that never went through a call's end (never dialed, or closed by
# a reconciliation without its events): no figure comes from them.
NOT_ENDED_HERE = ("blocked", "not_placed", "lost")
RING_OUTCOMES = {"contact": "human", "abandoned": "human", cs.EARLY_HANGUP: "human",
                 "machine": "machine", "busy": "busy", "no_answer": "no_answer"}  # fmt: skip


# Sorted sets of attempt ids scored by answer time, one per abandonment role:
# "human" holds every person answered (bridged or abandoned), "abandoned" the
# abandoned ones among them, "machine" AMD machine drops, "early" early hang-ups.
ROLE_SETS = {cs.HUMAN: ("human",), cs.ABANDONED: ("human", "abandoned"),
             cs.MACHINE_DROP: ("machine",), cs.EARLY: ("early",)}  # fmt: skip
COUNTED = ("human", "abandoned", "machine", "early")


def _key(campaign: str, what: str) -> str:
    return f"cobrador:stats:{{{campaign}}}:{what}"


def built_key(campaign: str) -> str:
    """ "ready" once the windows were rebuilt from SQL; gone when Redis lost them."""
    return _key(campaign, "built")


@dataclass(frozen=True)
class AttemptTimes:
    """What an ended outbound attempt's row says (epoch seconds)."""

    attempt_id: int
    result: str
    started_at: float
    answered_at: float | None
    bridged_at: float | None
    ended_at: float


@dataclass(frozen=True)
class CallFigures:
    role: str | None  # dialer.call_state.abandonment_role; None: not an answered call
    answered_at: float  # the windows' time for it
    ring_seconds: float
    ring_outcome: str
    talk_seconds: float | None


def figures_of(row: AttemptTimes) -> CallFigures:
    """What an ended attempt counts for, in the abandonment windows (its role, from
    `call_state.abandonment_role`, the one predicate, and the time it counts at)
    and in pacing's samples. The live path and the rebuild from SQL both call it.
    (The rebuild reads from SQL every attempt answered in the last 30 days, i.e.
    with an `answered_at`, and every attempt ended in the samples' windows.)"""
    answered = row.answered_at if row.answered_at is not None else row.started_at
    ring_end = row.answered_at if row.answered_at is not None else row.ended_at
    talk = row.ended_at - row.bridged_at if row.bridged_at is not None else None
    return CallFigures(role=cs.abandonment_role(row.result), answered_at=answered,
                       ring_seconds=max(0.0, ring_end - row.started_at),
                       ring_outcome=RING_OUTCOMES.get(row.result, "failed"),
                       talk_seconds=None if talk is None else max(0.0, talk))  # fmt: skip


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Answered calls in one rolling window, by abandonment role."""

    seconds: float
    humans: int  # persons answered: bridged or abandoned
    abandoned: int
    machine_drops: int
    early_hangups: int

    def legal(self, false_positive_ratio: float = 1.0) -> AbandonWindow:
        """The window as the law counts it (the figure pacing steers on)."""
        answered, abandoned = cs.legal_counts(
            self.humans, self.abandoned, self.machine_drops, false_positive_ratio
        )
        return AbandonWindow(self.seconds, answered, abandoned)

    @property
    def early_ratio(self) -> float:
        """Early hang-ups among the persons who answered or hung up early."""
        total = self.humans + self.early_hangups
        return self.early_hangups / total if total else 0.0


def _json(raw: object) -> list[Any]:
    return list(json.loads(raw if isinstance(raw, str | bytes) else str(raw)))


# Reads the campaign's ended outbound attempts from SQL (in a thread), except those
# in NOT_ENDED_HERE: every attempt answered since the first argument, every attempt
# ended since the second (dialer.attempt_store.ended_attempts).
LoadRows = Callable[[float, float], Awaitable[list[AttemptTimes]]]


class CampaignStats:
    def __init__(self, redis: aioredis.Redis, campaign: str) -> None:
        self.redis = redis
        self.campaign = campaign

    def _add(self, pipe: Any, row: AttemptTimes, now: float) -> None:
        f = figures_of(row)
        member = str(row.attempt_id)
        if f.role is not None and f.answered_at >= now - KEEP_SECONDS:
            for what in ROLE_SETS[f.role]:
                pipe.zadd(_key(self.campaign, what), {member: f.answered_at})
        if row.ended_at >= now - RING_SAMPLE_WINDOW_SECONDS:
            pipe.zadd(_key(self.campaign, "rings"),
                      {json.dumps([member, round(f.ring_seconds, 3), f.ring_outcome]): row.ended_at})  # fmt: skip
        if f.talk_seconds is not None and row.ended_at >= now - HANDLE_SAMPLE_WINDOW_SECONDS:
            pipe.zadd(_key(self.campaign, "talks"),
                      {json.dumps([member, round(f.talk_seconds, 3)]): row.ended_at})  # fmt: skip

    def _trim(self, pipe: Any, now: float) -> None:
        for what, keep in (*((c, KEEP_SECONDS) for c in COUNTED),
                           ("rings", RING_SAMPLE_WINDOW_SECONDS),
                           ("talks", HANDLE_SAMPLE_WINDOW_SECONDS)):  # fmt: skip
            pipe.zremrangebyscore(_key(self.campaign, what), "-inf", now - keep)

    async def record_end(self, row: AttemptTimes) -> None:
        """A call ended (the dial loop, with the row it writes to SQL)."""
        pipe = self.redis.pipeline(transaction=False)
        self._add(pipe, row, row.ended_at)
        self._trim(pipe, row.ended_at)
        await pipe.execute()

    async def ensure_built(self, now: float, load: LoadRows, *, force: bool = False) -> int:
        """Rebuild the windows and samples from SQL when Redis has lost them (the
        marker is gone) or when `force`d (a dialer starting); returns the rows added.
        The marker says "building" during the rebuild and "ready" only if it was not
        lost meanwhile (a flush during the rebuild means another one)."""
        key = built_key(self.campaign)
        added = 0
        for _ in range(REBUILD_TRIES):
            if not force and await self.redis.get(key) == b"ready":
                return added
            force = False
            await self.redis.set(key, "building")
            rows = await load(now - KEEP_SECONDS, now - SAMPLE_SECONDS)
            added += await self._add_rows(rows, now)
            if await self.redis.set(key, "ready", xx=True):
                return added
        return added

    async def _add_rows(self, rows: Iterable[AttemptTimes], now: float) -> int:
        pipe = self.redis.pipeline(transaction=False)
        n = 0
        for row in rows:
            self._add(pipe, row, now)
            n += 1
            if len(pipe) >= 2000:
                await pipe.execute()
        self._trim(pipe, now)
        await pipe.execute()
        return n

    async def windows(
        self, now: float, windows: Sequence[float] = WINDOWS
    ) -> tuple[WindowCounts, ...]:
        pipe = self.redis.pipeline(transaction=False)
        for w in windows:
            for what in COUNTED:
                pipe.zcount(_key(self.campaign, what), now - w, "+inf")
        counts = [int(c) for c in await pipe.execute()]
        n = len(COUNTED)
        return tuple(WindowCounts(w, *counts[n * i : n * (i + 1)]) for i, w in enumerate(windows))

    async def abandonment(
        self, now: float, windows: Sequence[float] = WINDOWS, false_positive_ratio: float = 1.0
    ) -> tuple[AbandonWindow, ...]:
        """The legal windows (see WindowCounts.legal)."""
        return tuple(c.legal(false_positive_ratio) for c in await self.windows(now, windows))

    async def samples(
        self, now: float
    ) -> tuple[tuple[RingSample, ...], tuple[DurationSample, ...]]:
        rings = await self.redis.zrangebyscore(
            _key(self.campaign, "rings"), now - RING_SAMPLE_WINDOW_SECONDS, "+inf"
        )
        talks = await self.redis.zrangebyscore(
            _key(self.campaign, "talks"), now - HANDLE_SAMPLE_WINDOW_SECONDS, "+inf"
        )
        ring_samples = tuple(RingSample(float(r[1]), str(r[2])) for r in map(_json, rings))
        talk_samples = tuple(DurationSample(float(t[1]), True) for t in map(_json, talks))
        return ring_samples, talk_samples
