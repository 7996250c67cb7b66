"""Campaign call statistics in Redis, shared by every dialer of a campaign:
answered calls by their role in the abandonment rate (persons, abandoned, AMD
machine drops, early hang-ups; dialer.call_state.abandonment_role) for the
rolling windows, and recent ring and handle samples for the pacing snapshot."""

from __future__ import annotations

import json
from collections.abc import Sequence
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


# Sorted sets of attempt ids scored by answer time, one per abandonment role:
# "human" holds every person answered (bridged or abandoned), "abandoned" the
# abandoned ones among them, "machine" AMD machine drops, "early" early hang-ups.
ROLE_SETS = {cs.HUMAN: ("human",), cs.ABANDONED: ("human", "abandoned"),
             cs.MACHINE_DROP: ("machine",), cs.EARLY: ("early",)}  # fmt: skip
COUNTED = ("human", "abandoned", "machine", "early")


def _key(campaign: str, what: str) -> str:
    return f"cobrador:stats:{{{campaign}}}:{what}"


def window_key(campaign: str, what: str) -> str:
    """Key of one of the COUNTED sets (for a rebuild of the windows from SQL)."""
    if what not in COUNTED:
        raise ValueError(f"unknown abandonment set {what!r}")
    return _key(campaign, what)


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


class CampaignStats:
    def __init__(self, redis: aioredis.Redis, campaign: str) -> None:
        self.redis = redis
        self.campaign = campaign

    async def record_end(self, *, attempt_id: int, now: float, result: str,
                         answered_at: float | None, ring_seconds: float, ring_outcome: str,
                         talk_seconds: float | None) -> None:  # fmt: skip
        pipe = self.redis.pipeline(transaction=False)
        member = str(attempt_id)
        role = cs.abandonment_role(result)
        if role is not None:
            for what in ROLE_SETS[role]:
                pipe.zadd(_key(self.campaign, what), {member: answered_at or now})
        pipe.zadd(_key(self.campaign, "rings"),
                  {json.dumps([member, round(ring_seconds, 3), ring_outcome]): now})  # fmt: skip
        if talk_seconds is not None:
            pipe.zadd(
                _key(self.campaign, "talks"), {json.dumps([member, round(talk_seconds, 3)]): now}
            )
        for what, keep in (*((c, KEEP_SECONDS) for c in COUNTED),
                           ("rings", RING_SAMPLE_WINDOW_SECONDS),
                           ("talks", HANDLE_SAMPLE_WINDOW_SECONDS)):  # fmt: skip
            pipe.zremrangebyscore(_key(self.campaign, what), "-inf", now - keep)
        await pipe.execute()

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
