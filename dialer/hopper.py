"""The hopper: per-campaign Redis queue of accounts ready to dial, with leases.

Keys are hash-tagged per campaign (``cobrador:hopper:{<campaign>}:...``) so a
Redis Cluster keeps one campaign's hopper on one slot and the Lua scripts stay
atomic. An account id is in at most one of: ``delayed`` (ZSET, score = when it
becomes eligible), ``ready`` (ZSET, score orders by priority then eligibility),
``leases`` (ZSET, score = lease expiry). A claim is one Lua step that promotes
due entries, takes back expired leases (a crashed dialer's claims return) and
leases the best N, so two dialers can never claim one account.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

# Ready score: higher priority first, then earlier eligibility. Priorities are
# 0..9999; eligibility is an epoch in seconds (< 1e10), so they never collide. One
# float holds both: eligibility is exact to about 16 ms at priority 9999 (2e-7 s at 0);
# closer times tie and go by account id.
PRIORITY_SCALE = 1e10
MAX_PRIORITY = 9999


def ready_score(priority: int, eligible_at: float) -> float:
    priority = max(0, min(MAX_PRIORITY, int(priority)))
    return -priority * PRIORITY_SCALE + eligible_at


@dataclass(frozen=True)
class HopperEntry:
    account_id: int
    priority: int = 0
    eligible_at: float = 0.0
    # What to dial and why: phone id, reason (fresh, recycle, callback, promise),
    # and for a personal callback the agent it belongs to.
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    account_id: int
    priority: int
    payload: dict[str, Any]


_ADD = """
-- KEYS: ready, delayed, leases, meta ; ARGV: now, then triples id, priority, eligible_at, payload
local added = 0
local now = tonumber(ARGV[1])
for i = 2, #ARGV, 4 do
  local id = ARGV[i]
  if not redis.call('ZSCORE', KEYS[3], id) then
    local prio = tonumber(ARGV[i + 1])
    local at = tonumber(ARGV[i + 2])
    redis.call('HSET', KEYS[4], id, cjson.encode({p = prio, d = ARGV[i + 3]}))
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    if at <= now then
      redis.call('ZADD', KEYS[1], -prio * 1e10 + at, id)
    else
      redis.call('ZADD', KEYS[2], at, id)
    end
    added = added + 1
  end
end
return added
"""

_CLAIM = """
-- KEYS: ready, delayed, leases, owners, meta ; ARGV: now, n, lease_seconds, owner
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local function ready_again(id, at)
  local meta = redis.call('HGET', KEYS[5], id)
  local prio = 0
  if meta then prio = cjson.decode(meta).p end
  redis.call('ZADD', KEYS[1], -prio * 1e10 + at, id)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, 5000)
for i = 1, #due, 2 do
  redis.call('ZREM', KEYS[2], due[i])
  ready_again(due[i], tonumber(due[i + 1]))
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 5000)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  ready_again(id, now)
end
local out = {#expired}
if n <= 0 then return out end
local picked = redis.call('ZPOPMIN', KEYS[1], n)
for i = 1, #picked, 2 do
  local id = picked[i]
  redis.call('ZADD', KEYS[3], now + lease, id)
  redis.call('HSET', KEYS[4], id, ARGV[4])
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[5], id) or '')
end
return out
"""

_RENEW = """
-- KEYS: leases, owners ; ARGV: expiry, owner, ids...
local renewed = 0
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[2] then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
    renewed = renewed + 1
  end
end
return renewed
"""

_RELEASE = """
-- KEYS: ready, delayed, leases, owners, meta ; ARGV: owner, id, eligible_at ('' = done), priority
if redis.call('HGET', KEYS[4], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[2])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[5], ARGV[2])
else
  local meta = redis.call('HGET', KEYS[5], ARGV[2])
  if meta and ARGV[4] ~= '' then
    local m = cjson.decode(meta)
    m.p = tonumber(ARGV[4])
    redis.call('HSET', KEYS[5], ARGV[2], cjson.encode(m))
  end
  redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[2])
end
return 1
"""

_REMOVE = """
-- KEYS: ready, delayed, leases, owners, meta ; ARGV: id
local owner = redis.call('HGET', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return owner or false
"""


_UNLOCK = """
-- KEYS: refill-lock ; ARGV: owner
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Hopper:
    """One campaign's hopper. Times are epoch seconds passed in by the caller."""

    def __init__(self, redis: aioredis.Redis, campaign: str) -> None:
        self.redis = redis
        self.campaign = campaign
        tag = f"cobrador:hopper:{{{campaign}}}"
        self.ready_key = f"{tag}:ready"
        self.delayed_key = f"{tag}:delayed"
        self.leases_key = f"{tag}:leases"
        self.owners_key = f"{tag}:owners"
        self.meta_key = f"{tag}:meta"
        self.refill_lock_key = f"{tag}:refill-lock"
        self._add = redis.register_script(_ADD)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._remove = redis.register_script(_REMOVE)
        self._unlock = redis.register_script(_UNLOCK)

    @property
    def _keys(self) -> list[str]:
        return [self.ready_key, self.delayed_key, self.leases_key, self.owners_key, self.meta_key]

    async def add(self, entries: Sequence[HopperEntry], now: float) -> int:
        """Add or re-prioritise entries; an account under lease is left alone."""
        added = 0
        for start in range(0, len(entries), 500):
            args: list[Any] = [now]
            for e in entries[start : start + 500]:
                args += [e.account_id, int(e.priority), e.eligible_at or now, json.dumps(e.payload)]
            added += int(
                await self._add(
                    keys=[self.ready_key, self.delayed_key, self.leases_key, self.meta_key],
                    args=args,
                )
            )
        return added

    async def claim(
        self, n: int, owner: str, now: float, lease_seconds: float
    ) -> tuple[list[Claim], int]:
        """Lease up to n entries; also returns how many expired leases came back."""
        raw = await self._claim(keys=self._keys, args=[now, n, lease_seconds, owner])
        expired = int(raw[0])
        claims = []
        for i in range(1, len(raw), 2):
            meta: dict[str, Any] = json.loads(raw[i + 1]) if raw[i + 1] else {"p": 0, "d": "{}"}
            claims.append(Claim(int(raw[i]), int(meta["p"]), json.loads(meta["d"] or "{}")))
        return claims, expired

    async def renew(
        self, owner: str, account_ids: Sequence[int], now: float, lease_seconds: float
    ) -> int:
        if not account_ids:
            return 0
        return int(await self._renew(keys=[self.leases_key, self.owners_key],
                                     args=[now + lease_seconds, owner, *account_ids]))  # fmt: skip

    async def release(self, owner: str, account_id: int, eligible_at: float | None,
                      priority: int | None = None) -> bool:  # fmt: skip
        """End a lease: back into the hopper at eligible_at (recycle), or out (None)."""
        args: list[str | int | float] = [owner, account_id, "" if eligible_at is None else eligible_at,
                "" if priority is None else int(priority)]  # fmt: skip
        return bool(await self._release(keys=self._keys, args=args))

    async def remove(self, account_id: int) -> str | None:
        """Take an account out at once (payment, do-not-contact); returns the dialer
        holding its lease, if any, so that dialer can hang up a call not yet answered."""
        owner = await self._remove(keys=self._keys, args=[account_id])
        return owner.decode() if isinstance(owner, bytes) else owner

    async def drop_refill_lock(self, owner: str) -> bool:
        """Give up the refill lock if this owner holds it (a dialer stopping)."""
        return bool(await self._unlock(keys=[self.refill_lock_key], args=[owner]))

    async def sizes(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(self.ready_key)
        pipe.zcard(self.delayed_key)
        pipe.zcard(self.leases_key)
        ready, delayed, leased = await pipe.execute()
        return {"ready": int(ready), "delayed": int(delayed), "leased": int(leased)}

    async def contains(self, account_ids: Sequence[int]) -> set[int]:
        """Which of these accounts the hopper already holds, in any state."""
        if not account_ids:
            return set()
        values = await self.redis.hmget(self.meta_key, [str(a) for a in account_ids])
        return {a for a, v in zip(account_ids, values, strict=True) if v is not None}

    async def held_by_others(self, owner: str, now: float) -> set[int]:
        """Accounts another dialer holds a live (unexpired) lease on: it is renewing
        them every tick, so the calls to them are its calls, alive on its Asterisk."""
        return {a for a, who in (await self.lease_holders(now)).items() if who != owner}

    async def lease_holders(self, now: float) -> dict[int, str]:
        """Every account under a live (unexpired) lease, and the dialer holding it."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.owners_key)
        pipe.zrangebyscore(self.leases_key, now, "+inf")
        owners, live = await pipe.execute()
        current = {int(x) for x in live}
        held: dict[int, str] = {}
        for account, who in owners.items():
            if int(account) in current:
                held[int(account)] = who.decode() if isinstance(who, bytes) else who
        return held

    async def owner_of(self, account_id: int) -> str | None:
        owner = await self.redis.hget(self.owners_key, str(account_id))
        return owner.decode() if isinstance(owner, bytes) else owner
