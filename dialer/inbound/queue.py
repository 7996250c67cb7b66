"""Inbound queue state in Redis: who waits since when, arrivals by hour, outcomes.

Keys, hash-tagged per campaign (Redis Cluster: one campaign's keys in one slot):

    cobrador:inbound:{<campaign>}:waiting          zset  call id -> queue entry (epoch s)
    cobrador:inbound:{<campaign>}:arrivals:<date>  hash  local hour (0-23) -> calls; 8 days
    cobrador:inbound:{<campaign>}:done             zset  "<call>|<result>|<wait>" -> end; 1 day
    cobrador:inbound:{<campaign>}:calls            hash  attempt id -> {"owner", "call"}

The dial loop and the pacing snapshot read `waiting` and `arrival_rate`; the
wallboard and /metrics read `outcomes`. `calls` names the dialer process that
serves each open inbound call, so the others can close what a dead one left
(dialer/inbound/housekeeping.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

MAX_WAIT_SECONDS = 3600.0  # the inbound route's time limit (dialer/service.py)
ARRIVAL_DAYS = 7
DONE_SECONDS = 86400.0
# "lost": the dialer serving the caller died (closed by another's housekeeping).
RESULTS = ("answered", "abandoned", "lost")


def waiting_key(campaign: str) -> str:
    return f"cobrador:inbound:{{{campaign}}}:waiting"


def arrivals_key(campaign: str, day: str) -> str:
    return f"cobrador:inbound:{{{campaign}}}:arrivals:{day}"


def done_key(campaign: str) -> str:
    return f"cobrador:inbound:{{{campaign}}}:done"


def calls_key(campaign: str) -> str:
    return f"cobrador:inbound:{{{campaign}}}:calls"


@dataclass(frozen=True)
class Tracked:
    attempt_id: int
    owner: str
    call_id: str


@dataclass(frozen=True)
class Waiting:
    call_id: str
    since: float


@dataclass(frozen=True)
class Outcomes:
    answered: int
    abandoned: int
    answered_within: int  # answered within the service-level target
    lost: int = 0  # callers dropped because their dialer died: never in service level

    @property
    def service_level(self) -> float | None:
        total = self.answered + self.abandoned + self.lost
        return self.answered_within / total if total else None


# A caller leaves the queue and, when counted, their outcome is recorded in one step:
# a reader between the two (the wallboard, the dial loop) saw the caller gone and not
# counted. KEYS[1]=waiting, KEYS[2]=done; ARGV[1]=call id, ARGV[2]=now, ARGV[3]=result
# ("" when not counted), ARGV[4]=how long outcomes are kept. Returns the wait.
_LEAVE_LUA = """
local since = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
local now = tonumber(ARGV[2])
local waited = 0
if since then waited = math.max(0, now - tonumber(since)) end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1] .. '|' .. ARGV[3] .. '|' .. string.format('%.3f', waited))
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
end
return string.format('%.6f', waited)
"""


class InboundQueue:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._leave = redis.register_script(_LEAVE_LUA)
        # The wallboard's per-window outcomes, refreshed every few seconds (board.py).
        self.outcomes_cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def join(self, campaign: str, call_id: str, now: float) -> None:
        """A caller starts waiting (after the greeting): the queue wait counts from `now`."""
        await self._redis.zadd(waiting_key(campaign), {call_id: now})

    async def count_arrival(self, campaign: str, now: float, zone: ZoneInfo) -> None:
        """A call arrived (open or closed), counted in the campaign's local hour."""
        local = datetime.fromtimestamp(now, zone)
        key = arrivals_key(campaign, local.date().isoformat())
        pipe = self._redis.pipeline(transaction=True)
        pipe.hincrby(key, str(local.hour), 1)
        pipe.expire(key, (ARRIVAL_DAYS + 1) * 86400)
        await pipe.execute()

    async def leave(self, campaign: str, call_id: str, now: float, result: str | None) -> float:
        """The caller stops waiting (answered, abandoned, or None: not counted); returns the wait."""
        counted = result if result in RESULTS else ""
        waited = await self._leave(keys=[waiting_key(campaign), done_key(campaign)],
                                   args=[call_id, repr(float(now)), counted, DONE_SECONDS])  # fmt: skip
        return float(_text(waited))

    async def waiting(self, campaign: str) -> list[Waiting]:
        rows = await self._redis.zrange(waiting_key(campaign), 0, -1, withscores=True)
        pairs: list[tuple[object, float]] = list(rows)  # type: ignore[arg-type]
        return [Waiting(_text(member), float(score)) for member, score in pairs]

    async def count(self, campaign: str) -> int:
        return int(await self._redis.zcard(waiting_key(campaign)))

    async def position(self, campaign: str, call_id: str) -> int | None:
        """1 for the caller who has waited longest."""
        rank: object = await self._redis.zrank(waiting_key(campaign), call_id)
        return int(rank) + 1 if isinstance(rank, int) else None

    async def waiting_and_rate(self, campaign: str, at: float, zone: ZoneInfo,
                               others: Sequence[str] = ()) -> tuple[list[Waiting], float,
                                                                     dict[str, list[Waiting]]]:  # fmt: skip
        """`waiting` and `arrival_rate` of `campaign`, and `waiting` of each of `others`
        (only those with callers), in one round trip (the dial loop asks every tick)."""
        local = datetime.fromtimestamp(at, zone)
        others = [o for o in others if o != campaign]
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrange(waiting_key(campaign), 0, -1, withscores=True)
        for other in others:
            pipe.zrange(waiting_key(other), 0, -1, withscores=True)
        for back in range(ARRIVAL_DAYS):
            day = (local.date() - timedelta(days=back)).isoformat()
            pipe.hget(arrivals_key(campaign, day), str(local.hour))
        rows, *rest = await pipe.execute()
        waiting = [Waiting(_text(member), float(score)) for member, score in rows]
        elsewhere = {o: [Waiting(_text(m), float(sc)) for m, sc in r]
                     for o, r in zip(others, rest[: len(others)], strict=True) if r}  # fmt: skip
        counts = rest[len(others) :]
        rate = sum(int(v) for v in counts if v is not None) / (ARRIVAL_DAYS * 3600.0)
        return waiting, rate, elsewhere

    async def oldest(self, campaigns: Sequence[str]) -> dict[str, float]:
        """Campaign -> queue entry time of its longest-waiting caller, for the campaigns
        with callers queued; one round trip."""
        if not campaigns:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for campaign in campaigns:
            pipe.zrange(waiting_key(campaign), 0, 0, withscores=True)
        rows = await pipe.execute()
        return {c: float(r[0][1]) for c, r in zip(campaigns, rows, strict=True) if r}

    async def arrival_rate(self, campaign: str, at: float, zone: ZoneInfo) -> float:
        """Calls per second expected in the local hour of `at`: the mean of that hour
        over the last ARRIVAL_DAYS days (today's hour included)."""
        local = datetime.fromtimestamp(at, zone)
        pipe = self._redis.pipeline(transaction=False)
        for back in range(ARRIVAL_DAYS):
            day = (local.date() - timedelta(days=back)).isoformat()
            pipe.hget(arrivals_key(campaign, day), str(local.hour))
        counts = [int(v) if v is not None else 0 for v in await pipe.execute()]
        return sum(counts) / (ARRIVAL_DAYS * 3600.0)

    async def outcomes(self, campaign: str, now: float, window: float,
                       within_seconds: float) -> Outcomes:  # fmt: skip
        rows = await self._redis.zrangebyscore(done_key(campaign), now - window, "+inf")
        answered = abandoned = within = lost = 0
        for raw in rows:
            _, result, wait = _text(raw).rsplit("|", 2)  # type: ignore[arg-type]
            if result == "answered":
                answered += 1
                within += float(wait) <= within_seconds
            elif result == "lost":
                lost += 1
            else:
                abandoned += 1
        return Outcomes(answered, abandoned, within, lost)

    async def track(self, campaign: str, attempt_id: int, call_id: str, owner: str) -> None:
        """The open inbound call `attempt_id` is served by the dialer process `owner`."""
        value = json.dumps({"owner": owner, "call": call_id})
        await self._redis.hset(calls_key(campaign), str(attempt_id), value)  # type: ignore[misc]

    async def untrack(self, campaign: str, attempt_id: int) -> bool:
        """The call's attempt is closed; True if this caller removed the entry (so two
        dialers closing one dead dialer's call never both do it)."""
        removed = await self._redis.hdel(calls_key(campaign), str(attempt_id))  # type: ignore[misc]
        return bool(removed)

    async def tracked(self, campaign: str) -> list[Tracked]:
        raw: dict[Any, Any] = await self._redis.hgetall(calls_key(campaign))  # type: ignore[misc]
        out = []
        for key, value in raw.items():
            try:
                data = json.loads(value)
                out.append(Tracked(int(key), str(data["owner"]), str(data["call"])))
            except (ValueError, KeyError, TypeError):
                continue
        return out


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
