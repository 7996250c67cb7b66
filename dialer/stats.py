"""Campaign call statistics in Redis, shared by every dialer of a campaign:
human answers and abandons (for the rolling abandonment windows) and recent
ring and handle samples for the pacing snapshot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

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


def _key(campaign: str, what: str) -> str:
    return f"cobrador:stats:{{{campaign}}}:{what}"


def _json(raw: object) -> list[Any]:
    return list(json.loads(raw if isinstance(raw, str | bytes) else str(raw)))


class CampaignStats:
    def __init__(self, redis: aioredis.Redis, campaign: str) -> None:
        self.redis = redis
        self.campaign = campaign

    async def record_end(self, *, attempt_id: int, now: float, human_at: float | None,
                         abandoned: bool, ring_seconds: float, ring_outcome: str,
                         talk_seconds: float | None) -> None:  # fmt: skip
        pipe = self.redis.pipeline(transaction=False)
        member = str(attempt_id)
        if human_at is not None:
            pipe.zadd(_key(self.campaign, "human"), {member: human_at})
            if abandoned:
                pipe.zadd(_key(self.campaign, "abandoned"), {member: human_at})
        pipe.zadd(_key(self.campaign, "rings"),
                  {json.dumps([member, round(ring_seconds, 3), ring_outcome]): now})  # fmt: skip
        if talk_seconds is not None:
            pipe.zadd(
                _key(self.campaign, "talks"), {json.dumps([member, round(talk_seconds, 3)]): now}
            )
        for what, keep in (("human", KEEP_SECONDS), ("abandoned", KEEP_SECONDS),
                           ("rings", RING_SAMPLE_WINDOW_SECONDS),
                           ("talks", HANDLE_SAMPLE_WINDOW_SECONDS)):  # fmt: skip
            pipe.zremrangebyscore(_key(self.campaign, what), "-inf", now - keep)
        await pipe.execute()

    async def abandonment(
        self, now: float, windows: Sequence[float] = WINDOWS
    ) -> tuple[AbandonWindow, ...]:
        pipe = self.redis.pipeline(transaction=False)
        for w in windows:
            pipe.zcount(_key(self.campaign, "human"), now - w, "+inf")
            pipe.zcount(_key(self.campaign, "abandoned"), now - w, "+inf")
        counts = await pipe.execute()
        return tuple(
            AbandonWindow(w, int(counts[2 * i]), int(counts[2 * i + 1]))
            for i, w in enumerate(windows)
        )

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
