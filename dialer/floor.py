"""One campaign's floor as every dialer process on it sees it: the calls in flight
(ringing, and answered waiting for an agent) of all of them, and the pacing turn.

Several dialers on one campaign must pace like one: each publishes its own calls in
flight (a key per dialer that expires unless renewed, so a dead dialer's calls drop
out), and a pacing decision is taken by one dialer at a time, at most once per tick
interval, from the calls of all (the turn: a Redis key with a short lease; the
dialer holding it may decide again, another waits until it goes). The
dialer holding the turn reads the floor, asks its policy, places the calls and
publishes them before it lets the turn go, so the next decision counts them. A
dialer that cannot read the floor or take the turn places nothing (fail closed).

Keys (hash-tagged per campaign):
    cobrador:floor:{<campaign>}:dialers          set of dialer owners that published
    cobrador:floor:{<campaign>}:calls:<owner>    JSON [[dialed_at, kind], ...], expires
                                                 (and [seconds, "b"]: the dialer's wait bound)
    cobrador:floor:{<campaign>}:turn             the owner deciding now, expires
    cobrador:floor:{<campaign>}:turn_last        the owner of the last decision, expires
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from dialer.call_state import Call, CallState

RINGING = "r"
WAITING = "w"
# Not a call: the most one of this dialer's calls may still need an agent after it was
# dialed (its ring timeout, the answering-machine detection, its connect grace), so a
# pausing agent's deadline follows the dialers' settings (dialer/pause_rule.py). An
# entry of the same [number, kind] shape: a reader that does not know it skips it.
BOUND = "b"
# A dialer's published calls outlive a few missed ticks, not a crash: past this the
# others stop counting them (its calls end in Asterisk meanwhile, or soon after).
PUBLISH_TTL_SECONDS = 5.0
# The most a turn is held while its dialer places calls; a dialer that dies holding
# it stops the floor's dialing for this long at most.
TURN_HOLD_SECONDS = 5.0
MAX_ENTRIES = 5000  # per dialer: bounds what one (even corrupt) key may cost to read

# Take the turn when it is free. The turn is held while deciding and then, as a gate,
# for the rest of one tick interval: the floor gets at most one decision per
# interval. With other live dialers on the floor, the gate binds its holder too, and
# the dialer that took the last decision yields the next one to the others for one
# more interval (`last`, set when the turn ends): without it the dialer that decided
# first kept deciding, its next tick always falling before any other's, and the
# others never placed a call (their Asterisk servers idle). Alone on the floor a
# dialer keeps its own turn whenever it ticks.
# KEYS: turn, last, dialers set; ARGV: owner, ms to hold it. Returns 1 when taken.
_TAKE_TURN_LUA = """
local others = redis.call('SCARD', KEYS[3]) - redis.call('SISMEMBER', KEYS[3], ARGV[1])
local holder = redis.call('GET', KEYS[1])
if holder then
  if holder ~= ARGV[1] or others > 0 then return 0 end
elseif others > 0 and redis.call('GET', KEYS[2]) == ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# Let the turn go at `ARGV[2]` ms from now (the rest of the interval), only if we
# still hold it, and mark this dialer as the last decider for ARGV[2] + ARGV[3] ms.
# KEYS: turn, last; ARGV: owner, ms, ms to yield.
_END_TURN_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ms = tonumber(ARGV[2])
if ms <= 0 then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ms) end
local yield_ms = tonumber(ARGV[3])
if yield_ms > 0 then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', math.max(ms, 0) + yield_ms)
else
  redis.call('DEL', KEYS[2])
end
return 1
"""


# Every live dialer's published calls; members whose key expired leave the set.
# KEYS[1]=dialers set; ARGV[1]=prefix of the calls keys (same hash tag).
_READ_LUA = """
local out = {}
for _, owner in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local raw = redis.call('GET', ARGV[1] .. owner)
  if raw then table.insert(out, raw) else redis.call('SREM', KEYS[1], owner) end
end
return out
"""


def floor_key(campaign: str, what: str) -> str:
    return f"cobrador:floor:{{{campaign}}}:{what}"


@dataclass(frozen=True)
class FloorView:
    """The calls in flight of every live dialer of the campaign."""

    ringing: tuple[float, ...]  # dialed_at of each call placed and not answered yet
    waiting: int  # answered by a person (or in detection), no agent yet
    dialers: int  # dialers whose calls are counted
    # dialed_at of every call ringing or waiting: what a pausing agent waits for
    # (dialer/pause_rule.py).
    in_flight: tuple[float, ...] = ()
    # The longest wait bound the dialers published (BOUND); None when none did.
    wait_seconds: float | None = None


@dataclass(frozen=True)
class Published:
    """One dialer's published entry, read."""

    ringing: list[float]
    waiting: list[float]
    wait_seconds: float | None = None


def in_flight(calls: Iterable[Call]) -> list[list[float | str]]:
    """What pacing needs of one dialer's calls: ringing ones and those waiting."""
    out: list[list[float | str]] = []
    for c in calls:
        if c.is_ringing:
            out.append([round(c.dialed_at, 3), RINGING])
        elif c.state in (CallState.answered, CallState.human):
            out.append([round(c.dialed_at, 3), WAITING])
    return out


# A published wait bound past this is not believed (a corrupt or hostile key must not
# hold an agent's pause for hours): ten minutes is far beyond any ring timeout.
MAX_WAIT_SECONDS = 600.0


def parse(raw: bytes | str | None) -> Published | None:
    """One dialer's published calls (dialed_at of the ringing ones, of the waiting ones)
    and its wait bound; None if unreadable."""
    if raw is None:
        return None
    try:
        entries = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entries, list):
        return None
    ringing: list[float] = []
    waiting: list[float] = []
    wait: float | None = None
    for entry in entries[:MAX_ENTRIES]:
        if not (isinstance(entry, list) and len(entry) == 2):
            continue
        at, kind = entry
        if kind == RINGING and isinstance(at, int | float):
            ringing.append(float(at))
        elif kind == WAITING:
            # Counted whatever its time; an unreadable time is waited for by any pause.
            waiting.append(float(at) if isinstance(at, int | float) else float("-inf"))
        elif (
            kind == BOUND
            and isinstance(at, int | float)
            and not isinstance(at, bool)
            and 0.0 < at <= MAX_WAIT_SECONDS  # NaN and the absurd are not believed
        ):
            wait = float(at)
    return Published(ringing, waiting, wait)


class SharedFloor:
    def __init__(self, redis: aioredis.Redis, campaign: str, owner: str) -> None:
        self.redis = redis
        self.campaign = campaign
        self.owner = owner
        self.dialers_key = floor_key(campaign, "dialers")
        self.turn_key = floor_key(campaign, "turn")
        self.last_turn_key = floor_key(campaign, "turn_last")
        self._end_turn = redis.register_script(_END_TURN_LUA)
        self._read = redis.register_script(_READ_LUA)
        self._take_turn = redis.register_script(_TAKE_TURN_LUA)

    def calls_key(self, owner: str) -> str:
        return floor_key(self.campaign, f"calls:{owner}")

    async def publish(self, calls: Iterable[Call], wait_seconds: float | None = None) -> None:
        """This dialer's calls in flight, for the others' decisions (and its own), and
        how long after its dial one of its calls may still need an agent."""
        entries = in_flight(calls)
        if wait_seconds is not None:
            entries.append([round(wait_seconds, 3), BOUND])
        pipe = self.redis.pipeline(transaction=True)  # never the set without the key
        pipe.sadd(self.dialers_key, self.owner)
        pipe.set(self.calls_key(self.owner), json.dumps(entries),
                 px=int(PUBLISH_TTL_SECONDS * 1000))  # fmt: skip
        await pipe.execute()

    async def read(self) -> FloorView:
        """Every live dialer's calls; the owners whose key expired are forgotten (in one
        atomic step, so a dialer publishing meanwhile is never dropped)."""
        raws = await self._read(keys=[self.dialers_key], args=[self.calls_key("")])
        ringing: list[float] = []
        waiting: list[float] = []
        waits: list[float] = []
        for raw in raws:
            parsed = parse(raw)
            if parsed is not None:
                ringing.extend(parsed.ringing)
                waiting.extend(parsed.waiting)
                if parsed.wait_seconds is not None:
                    waits.append(parsed.wait_seconds)
        return FloorView(tuple(sorted(ringing)), len(waiting), len(raws),
                         tuple(sorted(ringing + waiting)), max(waits, default=None))  # fmt: skip

    async def take_turn(self) -> bool:
        """True when this dialer may take the campaign's next pacing decision: the turn
        is free, and this dialer did not take the last one (or is alone)."""
        held = await self._take_turn(keys=[self.turn_key, self.last_turn_key, self.dialers_key],
                                     args=[self.owner, int(TURN_HOLD_SECONDS * 1000)])  # fmt: skip
        return bool(held)

    async def end_turn(self, keep_seconds: float, yield_seconds: float = 0.0) -> None:
        """The decision is placed and published; the next one may come in `keep_seconds`,
        from another dialer if one takes it within `yield_seconds` after that."""
        await self._end_turn(keys=[self.turn_key, self.last_turn_key],
                             args=[self.owner, int(keep_seconds * 1000),
                                   int(yield_seconds * 1000)])  # fmt: skip

    async def release(self) -> None:
        """A clean stop: the turn goes at once. The calls this dialer leaves in Asterisk
        stay counted until its published key expires."""
        await self.end_turn(0)
