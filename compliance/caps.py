"""Attempt and contact counters per debtor in Redis, over rolling windows.

Per account (hash-tagged, so one account's keys share a cluster slot):

    cobrador:caps:{acct:ID}:attempts  zset  member = attempt ref, score = epoch seconds
    cobrador:caps:{acct:ID}:contacts  zset  right-party (direct) contacts
    cobrador:caps:{acct:ID}:abandons  zset  abandoned calls
    cobrador:caps:{acct:ID}:loaded    "1" once rebuilt from SQL

A member names its channel: a call's is its attempt ref ("a:ID", as the dialer
writes it), any other channel's ends in "@channel" ("a:ID@sms"); each cap counts
the members of the channels it names (compliance/profile.py CapRule).

Redis is a cache: when `loaded` is missing (first use, expiry, a flushed or
restarted Redis) the account is rebuilt from SQL call_attempts before any
check. The final check at originate is one Lua script that checks every cap
over the account and the debtor's other accounts (compliance/debtor_accounts.py)
and, only if all pass, counts the attempt: two dialers can never both pass.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
import redis.asyncio as aioredis

from compliance.engine import CounterSnapshot
from compliance.profile import MAX_WINDOW_HOURS, Profile

log = logging.getLogger(__name__)

# How far back counters are kept and rebuilt: the longest window in any shipped
# profile is 7 days; a day of margin covers clock skew between processes.
DEFAULT_HORIZON = timedelta(hours=MAX_WINDOW_HOURS)

CHANNEL_LUA = """
local function channel_of(member)
  local at = string.find(member, '@', 1, true)
  if at then return string.sub(member, at + 1) end
  return 'call'
end
-- Members of `key` in (since, +inf) on a channel of `channels` (',call,sms,'), except
-- the member `skip` (may be false).
local function count_on(key, since, channels, skip)
  local n = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. since, '+inf')) do
    if m ~= skip and string.find(channels, ',' .. channel_of(m) .. ',', 1, true) then
      n = n + 1
    end
  end
  return n
end
"""

CHECK_AND_COUNT_LUA = (
    CHANNEL_LUA
    + """
-- KEYS: 4 per account (attempts, contacts, abandons, loaded): first the account whose
--       attempt is counted, then the other accounts of the same debtor (a number they
--       share, compliance/debtor_accounts.py): every cap counts them all together.
-- ARGV: now, member, ttl, cooldown_seconds, then quintuples
--       (kind, window_seconds, max, reason, channels as ',call,sms,')
local groups = #KEYS / 4
for g = 0, groups - 1 do
  if redis.call('EXISTS', KEYS[g * 4 + 4]) == 0 then return {'not_loaded'} end
end
local now = tonumber(ARGV[1])
-- The attempt itself may already be there (its SQL row was rebuilt in, or this is
-- a retried check): it never counts against itself.
local reasons = {}
local i = 5
while i <= #ARGV do
  local since = now - tonumber(ARGV[i + 1])
  local n = 0
  for g = 0, groups - 1 do
    if ARGV[i] == 'contacts' then
      n = n + count_on(KEYS[g * 4 + 2], since, ARGV[i + 4], false)
    else
      n = n + count_on(KEYS[g * 4 + 1], since, ARGV[i + 4], ARGV[2])
    end
  end
  if n >= tonumber(ARGV[i + 2]) then table.insert(reasons, ARGV[i + 3]) end
  i = i + 5
end
local cooldown = tonumber(ARGV[4])
if cooldown > 0 then
  local abandons = 0
  for g = 0, groups - 1 do
    abandons = abandons + redis.call('ZCOUNT', KEYS[g * 4 + 3], '(' .. (now - cooldown), '+inf')
  end
  if abandons > 0 then table.insert(reasons, 'recent_abandon') end
end
if #reasons > 0 then
  table.insert(reasons, 1, 'blocked')
  return reasons
end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - ttl))
for k = 1, 4 do redis.call('EXPIRE', KEYS[k], ttl) end
return {'counted'}
"""
)

SNAPSHOT_LUA = """
-- KEYS: 4 per account (attempts, contacts, abandons, loaded); ARGV: since
-- Returns one text: per account 'L|attempts|contacts|abandons' (L = 1 when loaded,
-- scores comma-separated, a channel other than call as 'score@channel'), accounts
-- separated by newlines: cheap to parse in bulk.
local out = {}
for a = 0, #KEYS / 4 - 1 do
  local k = a * 4
  if redis.call('EXISTS', KEYS[k + 4]) == 0 then
    out[#out + 1] = '0|||'
  else
    local parts = {'1'}
    for z = 1, 3 do
      local rows = redis.call('ZRANGEBYSCORE', KEYS[k + z], '(' .. ARGV[1], '+inf', 'WITHSCORES')
      local scores = {}
      for j = 2, #rows, 2 do
        local at = string.find(rows[j - 1], '@', 1, true)
        if at then
          scores[#scores + 1] = rows[j] .. string.sub(rows[j - 1], at)
        else
          scores[#scores + 1] = rows[j]
        end
      end
      parts[#parts + 1] = table.concat(scores, ',')
    end
    out[#out + 1] = table.concat(parts, '|')
  end
end
return table.concat(out, '\\n')
"""

REBUILD_LUA = """
-- KEYS: attempts, contacts, abandons, loaded
-- ARGV: ttl, n_attempts, n_contacts, then (score, member) pairs for attempts, contacts, abandons
-- Only when not loaded: a concurrent rebuild or a count made since must not be overwritten.
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local ttl = tonumber(ARGV[1])
local counts = {tonumber(ARGV[2]), tonumber(ARGV[3])}
local pos = 4
for k = 1, 3 do
  local n = counts[k]
  if k == 3 then n = (#ARGV - pos + 1) / 2 end
  for j = 1, n do
    redis.call('ZADD', KEYS[k], ARGV[pos], ARGV[pos + 1])
    pos = pos + 2
  end
  if n > 0 then redis.call('EXPIRE', KEYS[k], ttl) end
end
redis.call('SET', KEYS[4], '1', 'EX', ttl)
return 1
"""

MERGE_LUA = """
-- KEYS: attempts, contacts, abandons, loaded; ARGV: ttl, n_attempts, n_contacts, then
-- (score, member) pairs for attempts, contacts, abandons.
-- Adds what SQL holds and the counters may not: contacts and abandons (a right-party
-- disposition saved by the console) and the attempts of other channels than calls (a
-- message the outreach scheduler wrote), to a loaded account; members are attempt
-- refs, so re-adding is harmless.
if redis.call('EXISTS', KEYS[4]) == 0 then return 0 end
local ttl = tonumber(ARGV[1])
local n_attempts = tonumber(ARGV[2])
local n_contacts = tonumber(ARGV[3])
local pos = 4
local j = 0
while pos < #ARGV do
  local key = KEYS[3]
  if j < n_attempts then key = KEYS[1]
  elseif j < n_attempts + n_contacts then key = KEYS[2] end
  redis.call('ZADD', key, ARGV[pos], ARGV[pos + 1])
  redis.call('EXPIRE', key, ttl)
  pos = pos + 2
  j = j + 1
end
return 1
"""

RECORD_LUA = """
-- KEYS: zset, loaded; ARGV: score, member, ttl
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def account_keys(account_id: int) -> list[str]:
    tag = f"cobrador:caps:{{acct:{account_id}}}"
    return [f"{tag}:attempts", f"{tag}:contacts", f"{tag}:abandons", f"{tag}:loaded"]


@dataclass(frozen=True)
class Event:
    member: str
    at: float  # epoch seconds


@dataclass
class AccountHistory:
    """One account's events from SQL, for a rebuild."""

    attempts: list[Event] = field(default_factory=list)
    contacts: list[Event] = field(default_factory=list)
    abandons: list[Event] = field(default_factory=list)


HistoryLoader = Callable[
    [Sequence[int], datetime],
    Mapping[int, AccountHistory] | Awaitable[Mapping[int, AccountHistory]],
]
# The other accounts of an account's debtor (compliance/debtor_accounts.py), from SQL.
LinkedLoader = Callable[[int], Awaitable[Sequence[int]]]


class HistoryUnavailable(RuntimeError):
    """The SQL history could not be read."""


@dataclass(frozen=True)
class CapResult:
    allowed: bool
    reasons: tuple[str, ...]
    counted: bool


class CapStore:
    def __init__(
        self,
        client: aioredis.Redis,
        loader: HistoryLoader,
        horizon: timedelta = DEFAULT_HORIZON,
        sync_on_check: bool = True,
        linked: LinkedLoader | None = None,
    ) -> None:
        self.client = client
        self.loader = loader
        # The debtor's other accounts, whose events the final check counts in the same
        # script (None: each account is a debtor of its own).
        self.linked = linked
        self.horizon = horizon
        # Contacts and abandons are written to SQL by other processes (the console
        # saves a right-party disposition); the final check re-reads them so a
        # contact counts even when nobody told Redis.
        self.sync_on_check = sync_on_check
        self.ttl = int(horizon.total_seconds())
        self._check = client.register_script(CHECK_AND_COUNT_LUA)
        self._snapshot = client.register_script(SNAPSHOT_LUA)
        self._rebuild = client.register_script(REBUILD_LUA)
        self._record = client.register_script(RECORD_LUA)
        self._merge = client.register_script(MERGE_LUA)

    async def _load_history(
        self, account_ids: Sequence[int], now: datetime
    ) -> Mapping[int, AccountHistory]:
        result = self.loader(account_ids, now - self.horizon)
        if inspect.isawaitable(result):
            return await result
        return result

    async def rebuild(self, account_ids: Sequence[int], now: datetime) -> None:
        """Fill Redis from SQL for accounts that are not loaded (no-op for loaded ones)."""
        histories = await self._load_history(account_ids, now)
        pipe = self.client.pipeline(transaction=False)
        for account_id in account_ids:
            history = histories.get(account_id, AccountHistory())
            args: list[str | float | int] = [
                self.ttl,
                len(history.attempts),
                len(history.contacts),
            ]
            for events in (history.attempts, history.contacts, history.abandons):
                for event in events:
                    args += [f"{event.at:.6f}", event.member]
            await self._rebuild(keys=account_keys(account_id), args=args, client=pipe)
        await pipe.execute()

    async def check_and_count(
        self, account_id: int, profile: Profile, now: datetime, attempt_ref: str,
        channel: str = "call",
    ) -> CapResult:  # fmt: skip
        """The final check at placing: every cap of the channel checked and the attempt
        counted, atomically (a call at originate, a message at submit, a visit...),
        over the account and the debtor's other accounts together: two dialers placing
        calls to two accounts of one debtor in the same instant never both pass."""
        if now.tzinfo is None:
            return CapResult(False, ("timezone_unknown",), False)
        if profile.max_cap_window_seconds > self.ttl:
            log.error("profile %s looks back further than the counters keep", profile.full_version)
            return CapResult(False, _all_cap_reasons(profile, channel), False)
        args: list[str | float | int] = [
            f"{now.timestamp():.6f}",
            channel_member(attempt_ref, channel),
            self.ttl,
            profile.abandon_cooldown_hours * 3600 if channel == "call" else 0,
        ]
        for cap in profile.caps_for(channel):
            kind = "attempts" if cap.kind == "attempts" else "contacts"
            args += [kind, cap.window_seconds, cap.max, cap.reason,
                     "," + ",".join(sorted(cap.counted(channel))) + ","]  # fmt: skip
        try:
            accounts = [account_id, *await self._linked(account_id)]
            keys = [key for each in accounts for key in account_keys(each)]
            if self.sync_on_check:
                await self.merge_from_sql(accounts, now)
            for _ in range(3):
                reply = await self._check(keys=keys, args=args)
                status = _text(reply[0])
                if status == "counted":
                    return CapResult(True, (), True)
                if status == "blocked":
                    return CapResult(
                        False, tuple(dict.fromkeys(_text(r) for r in reply[1:])), False
                    )
                await self.rebuild(accounts, now)
        except (redis.RedisError, OSError, HistoryUnavailable):
            log.warning("caps unavailable for account %s; blocking", account_id, exc_info=True)
        # Redis or SQL down, or never loaded: the count is unknown, so every cap fails.
        return CapResult(False, _all_cap_reasons(profile, channel), False)

    async def _linked(self, account_id: int) -> list[int]:
        """The debtor's other accounts; HistoryUnavailable when SQL cannot say."""
        if self.linked is None:
            return []
        try:
            return [a for a in await self.linked(account_id) if a != account_id]
        except Exception as exc:  # unknown links: the debtor's count is unknown
            raise HistoryUnavailable(str(exc)) from exc

    async def merge_from_sql(self, account_ids: Sequence[int], now: datetime) -> None:
        """Add to loaded accounts what SQL holds and the counters may not (one query for
        the batch): contacts, abandons, and the attempts of other channels than calls
        (calls are counted by the final check that placed them; a message may have been
        written by a process that never told Redis). HistoryUnavailable: SQL is down."""
        if not account_ids:
            return
        try:
            histories = await self._load_history(account_ids, now)
        except Exception as exc:  # the database is down: the counts cannot be trusted
            raise HistoryUnavailable(str(exc)) from exc
        pipe = self.client.pipeline(transaction=False)
        queued = False
        for account_id in account_ids:
            history = histories.get(account_id)
            if history is None:
                continue
            others = [e for e in history.attempts if "@" in e.member]
            if not (others or history.contacts or history.abandons):
                continue
            args: list[str | int] = [self.ttl, len(others), len(history.contacts)]
            for event in [*others, *history.contacts, *history.abandons]:
                args += [f"{event.at:.6f}", event.member]
            await self._merge(keys=account_keys(account_id), args=args, client=pipe)
            queued = True
        if queued:
            await pipe.execute()

    async def snapshot(
        self, account_ids: Sequence[int], now: datetime
    ) -> dict[int, CounterSnapshot]:
        """Counters for a batch (hopper stage); never counts. Unreadable -> available=False."""
        since = f"{(now - self.horizon).timestamp():.6f}"
        out: dict[int, CounterSnapshot] = {}
        try:
            replies = await self._snapshot_batch(account_ids, since)
            missing = [a for a, r in zip(account_ids, replies, strict=True) if r[0] != "1"]
            if missing:
                await self.rebuild(missing, now)
                again = await self._snapshot_batch(missing, since)
                fixed = dict(zip(missing, again, strict=True))
                replies = [fixed.get(a, r) for a, r in zip(account_ids, replies, strict=True)]
        except (redis.RedisError, OSError):
            log.warning(
                "caps unavailable for %d accounts; blocking", len(account_ids), exc_info=True
            )
            return {a: CounterSnapshot(available=False) for a in account_ids}
        for account_id, reply in zip(account_ids, replies, strict=True):
            if reply[0] != "1":
                out[account_id] = CounterSnapshot(available=False)
                continue
            attempts, other_attempts = _stamps(reply[1])
            contacts, other_contacts = _stamps(reply[2])
            out[account_id] = CounterSnapshot(
                attempts, contacts, _floats(reply[3]),
                other_attempts=other_attempts, other_contacts=other_contacts,
            )  # fmt: skip
        return out

    async def _snapshot_batch(self, account_ids: Sequence[int], since: str) -> list[list[str]]:
        """One script call for the whole batch (on Redis Cluster: one call per slot group)."""
        if not account_ids:
            return []
        keys = [key for account_id in account_ids for key in account_keys(account_id)]
        text = _text(await self._snapshot(keys=keys, args=[since]))
        replies = [line.split("|") for line in text.split("\n")]
        if len(replies) != len(account_ids) or any(len(r) != 4 for r in replies):
            raise redis.RedisError("counter snapshot reply does not match the batch")
        return replies

    async def record(self, account_id: int, kind: str, member: str, at: datetime) -> None:
        """Record a contact or an abandoned call (attempts are counted by check_and_count)."""
        if kind not in ("contacts", "abandons", "attempts"):
            raise ValueError(f"unknown counter {kind!r}")
        keys = account_keys(account_id)
        key = keys[("attempts", "contacts", "abandons").index(kind)]
        await self._record(keys=[key, keys[3]], args=[f"{at.timestamp():.6f}", member, self.ttl])

    async def uncount(self, account_id: int, attempt_id: int, channel: str = "call") -> None:
        """An attempt counted by check_and_count that was never dialed (closed as
        not placed in SQL, which the ledger does not count): out of the counter, so
        a rebuild from SQL and Redis agree and the debtor is not held back by it."""
        member = channel_member(f"a:{attempt_id}", channel)
        await self.client.zrem(account_keys(account_id)[0], member)

    async def record_contact(
        self, account_id: int, attempt_id: int, at: datetime, channel: str = "call"
    ) -> None:
        """A direct contact on `channel` (a right-party call, a reply, a visit that met
        the debtor); the SQL row is the record, this tells the counters at once."""
        await self.record(account_id, "contacts", channel_member(f"a:{attempt_id}", channel), at)

    async def record_abandon(self, account_id: int, attempt_id: int, at: datetime) -> None:
        await self.record(account_id, "abandons", f"a:{attempt_id}", at)


def channel_member(attempt_ref: str, channel: str) -> str:
    """The counters' member of an attempt: a call's ref as is, another channel's tagged."""
    return attempt_ref if channel == "call" else f"{attempt_ref}@{channel}"


def _all_cap_reasons(profile: Profile, channel: str = "call") -> tuple[str, ...]:
    reasons = [cap.reason for cap in profile.caps_for(channel)]
    if profile.abandon_cooldown_hours and channel == "call":
        reasons.append("recent_abandon")
    return tuple(dict.fromkeys(reasons)) or ("attempt_cap_day",)


def _stamps(value: bytes | str) -> tuple[tuple[float, ...], tuple[tuple[str, float], ...]]:
    """Calls' times, and (channel, time) of the other channels, from a snapshot field."""
    text = _text(value)
    if not text:
        return (), ()
    calls: list[float] = []
    others: list[tuple[str, float]] = []
    for item in text.split(","):
        score, _, channel = item.partition("@")
        if channel:
            others.append((channel, float(score)))
        else:
            calls.append(float(score))
    return tuple(calls), tuple(others)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _floats(value: bytes | str) -> tuple[float, ...]:
    text = _text(value)
    return tuple(float(x) for x in text.split(",")) if text else ()
