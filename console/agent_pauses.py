"""How long each agent was paused: the console records every pause the agent
ends from the agent page (or changes the reason of) as an interval in Redis,
kept two days; the supervisor's per-agent figures add them up from a start
instant. Productivity figures only: nothing decides on them, so losing Redis
loses the pauses so far (docs/redis.md)."""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

KEEP_SECONDS = 2 * 24 * 3600


def pauses_key(agent_id: int) -> str:
    return f"cobrador:agent_pauses:{agent_id}"


async def record_pause(redis: aioredis.Redis, agent_id: int, start: float, end: float) -> None:
    """One ended pause; older intervals than two days leave with it."""
    if end <= start or start <= 0:
        return
    key = pauses_key(agent_id)
    pipe = redis.pipeline(transaction=False)
    pipe.zadd(key, {f"{start:.3f}:{end:.3f}": end})
    pipe.zremrangebyscore(key, "-inf", end - KEEP_SECONDS)
    pipe.expire(key, KEEP_SECONDS)
    await pipe.execute()


async def paused_seconds(
    redis: aioredis.Redis,
    agent_ids: Iterable[int],
    since: float,
    now: float,
    paused_now: dict[int, float],
) -> dict[int, float]:
    """Seconds paused since ``since`` per agent: ended pauses plus the one going on
    (``paused_now``: agent -> when that pause began)."""
    ids = list(agent_ids)
    pipe = redis.pipeline(transaction=False)
    for agent_id in ids:
        pipe.zrangebyscore(pauses_key(agent_id), since, "+inf")
    rows = await pipe.execute()
    out: dict[int, float] = {}
    for agent_id, members in zip(ids, rows, strict=True):
        total = 0.0
        for member in members:
            text = member.decode() if isinstance(member, bytes) else str(member)
            start, _, end = text.partition(":")
            total += max(min(float(end), now) - max(float(start), since), 0.0)
        began = paused_now.get(agent_id)
        if began is not None:
            total += max(now - max(began, since), 0.0)
        out[agent_id] = total
    return out
