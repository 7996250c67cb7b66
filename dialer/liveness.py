"""Which dialers of a campaign are alive: each dial loop renews a short key in Redis
(a heartbeat, every third of its TTL) and names the Asterisk it dials through; a
peer on the same Asterisk whose key is gone has died, and the survivors close what
it left (dialer/loop/reconcile.py) within seconds instead of waiting for its leases.

Only the verdict lives here; the facts stay where they are (attempts in SQL, each
naming the dialer that placed it and its Asterisk; leases in the hopper). The peers
judged are the members in Redis and those SQL names on open attempts (a flush loses
the members, never the attempts). Fail closed: no verdict while Redis cannot be
read, while this dialer's own heartbeats have not succeeded for a whole TTL in a row,
while its own key is gone (Redis lost its keys: a FLUSHALL gives every peer the time
to beat again), or while Redis itself has been up for less than a TTL, or cannot say
(a restart, even from its append-only file, gives every peer the time to beat again
before its silence counts; a Redis that refuses INFO leaves dead dialers to their
leases and the orphan grace); a peer on
another Asterisk is never judged by its silence (its live calls are out of this
dialer's sight: its leases protect them, as before).

Keys (hash-tagged per campaign, beside dialer/floor.py's):
    cobrador:floor:{<campaign>}:alive:<owner>   "1", expires after the TTL
    cobrador:floor:{<campaign>}:members         hash owner -> its Asterisk
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from dialer.floor import floor_key

log = logging.getLogger(__name__)

# Five missed beats of a third of it: a loaded machine's stall is not a death, a
# SIGKILL is seen within seconds.
ALIVE_SECONDS = 5.0

# Forget a dead peer only if it has not come back meanwhile (its key is still gone).
# KEYS[1]=members, KEYS[2]=its alive key; ARGV[1]=owner.
_FORGET_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
"""


def alive_key(campaign: str, owner: str) -> str:
    return floor_key(campaign, f"alive:{owner}")


def members_key(campaign: str) -> str:
    return floor_key(campaign, "members")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Liveness:
    def __init__(self, redis: aioredis.Redis, campaign: str, owner: str, pbx: str,
                 alive_seconds: float = ALIVE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        if alive_seconds <= 0:
            raise ValueError(f"alive_seconds must be positive, not {alive_seconds!r}")
        self.redis = redis
        self.campaign = campaign
        self.owner = owner
        self.pbx = pbx
        self.alive_seconds = alive_seconds
        self.monotonic = monotonic
        self._since: float | None = None  # first of this run of successful beats
        # How many times this dialer found its own key gone (Redis lost its keys, or
        # it stalled past its TTL): a reader owes a fresh look at what SQL knows.
        self.keys_lost = 0
        self._info_refused = False
        self._forget = redis.register_script(_FORGET_LUA)

    async def beat(self) -> None:
        """This dialer is alive for `alive_seconds` more, on its Asterisk."""
        own = alive_key(self.campaign, self.owner)
        pipe = self.redis.pipeline(transaction=True)  # never the member without its key
        pipe.exists(own)
        pipe.set(own, "1", px=int(self.alive_seconds * 1000))
        pipe.hset(members_key(self.campaign), self.owner, self.pbx)
        try:
            existed, *_ = await pipe.execute()
        except (RedisError, OSError):
            self._since = None
            raise
        if self._since is not None and not existed:
            self._lost_own_key()
        if self._since is None:
            self._since = self.monotonic()

    def _lost_own_key(self) -> None:
        """This dialer's key was gone though it had beaten: the peers' may be gone as
        well (a FLUSHALL, a failover to an empty replica), so their silence says
        nothing until they have had a TTL to beat again."""
        log.warning("dialer %s: its own heartbeat of campaign %s was gone (Redis lost keys, "
                    "or this dialer stalled); no dead peer judged for %.1f s",
                    self.owner, self.campaign, self.alive_seconds)  # fmt: skip
        self.keys_lost += 1
        self.distrust()

    def distrust(self) -> None:
        """Redis failed this dialer somewhere: no verdict until a TTL of beats again."""
        self._since = None

    @property
    def trusted(self) -> bool:
        """This dialer's own beats have succeeded for a whole TTL: a live peer has
        had the same Redis to beat in."""
        return self._since is not None and self.monotonic() - self._since >= self.alive_seconds

    async def _can_judge(self) -> bool:
        """A silence means a death: this dialer's beats held for a TTL and Redis has
        been up for one. Redis errors propagate (no verdict)."""
        if not self.trusted:
            return False
        try:
            info = await self.redis.info("server")
        except ResponseError as exc:  # INFO refused (a managed Redis): uptime unknown
            if not self._info_refused:
                log.warning("dialer %s: Redis refuses INFO (%s); dead dialers are left to "
                            "their leases", self.owner, exc)  # fmt: skip
            self._info_refused = True
            return False
        # Restarted: its keys may have expired while it was down.
        return float(info.get("uptime_in_seconds", 0)) >= self.alive_seconds

    async def _silent(self, owners: list[str]) -> set[str]:
        """Of `owners`, those whose key is gone, read in one transaction with this
        dialer's own key: if that one is gone too although this dialer beat within
        its TTL, Redis lost keys (a FLUSHALL, a failover to an empty replica) and the
        peers' with them, or this dialer stalled past its TTL: no verdict until a TTL
        of beats again (the live peers beat meanwhile)."""
        if not owners:
            return set()
        pipe = self.redis.pipeline(transaction=True)  # one slot: keys hash-tagged per campaign
        pipe.exists(alive_key(self.campaign, self.owner))
        for owner in owners:
            pipe.exists(alive_key(self.campaign, owner))
        own, *alive = await pipe.execute()
        if not own:
            if self._since is not None:
                self._lost_own_key()
            return set()
        return {o for o, up in zip(owners, alive, strict=True) if not up}

    async def dead(self, known: Collection[str] = ()) -> set[str]:
        """The peers on this dialer's Asterisk whose heartbeat is gone; none while
        the verdict cannot be trusted. `known`: peers the caller knows dialed through
        this Asterisk (SQL names them on their open attempts), judged also when Redis
        no longer has them as members (a flush). Redis errors propagate (no verdict)."""
        if not await self._can_judge():
            return set()
        members = await self.redis.hgetall(members_key(self.campaign))
        peers = {_text(o) for o, pbx in members.items() if _text(pbx) == self.pbx}
        peers |= {o for o in known if o}
        return await self._silent(sorted(peers - {self.owner}))

    async def silent(self, owners: Collection[str]) -> set[str]:
        """Of `owners` (dialers the caller knows dialed through this Asterisk), those
        whose heartbeat is gone, whether or not still members (a dead peer is forgotten
        once its attempts are closed); none while the verdict cannot be trusted.
        Redis errors propagate (no verdict)."""
        peers = sorted(o for o in set(owners) if o and o != self.owner)
        if not peers or not await self._can_judge():
            return set()
        return await self._silent(peers)

    async def beating(self, owners: Collection[str]) -> set[str]:
        """Of `owners` (dialers on any Asterisk), those that may be alive: whose
        heartbeat is there, or all of them while a missing key proves nothing (this
        dialer's own is missing too: it has not beaten yet, or Redis lost keys, less
        than a TTL of its beats ago). Unlike a verdict of death, a key that is there
        needs no TTL of this dialer's beats. Redis errors propagate."""
        peers = sorted(o for o in set(owners) if o and o != self.owner)
        if not peers:
            return set()
        if self.keys_lost and not self.trusted:
            return set(peers)
        pipe = self.redis.pipeline(transaction=True)
        pipe.exists(alive_key(self.campaign, self.owner))
        for owner in peers:
            pipe.exists(alive_key(self.campaign, owner))
        own, *alive = await pipe.execute()
        if not own:
            if self._since is not None:
                self._lost_own_key()
            return set(peers)
        return {o for o, up in zip(peers, alive, strict=True) if up}

    async def forget(self, owner: str) -> bool:
        """A dead peer whose attempts are all closed: no longer looked at."""
        members = members_key(self.campaign)
        done = await self._forget(keys=[members, alive_key(self.campaign, owner)], args=[owner])
        return bool(done)

    async def leave(self) -> None:
        """A clean stop: the heartbeat goes at once, so the others close at once what
        this dialer leaves in Asterisk (its membership stays until they have)."""
        await self.redis.delete(alive_key(self.campaign, self.owner))

    async def run(self, stop: asyncio.Event) -> None:
        """Beat every third of the TTL until `stop`."""
        failing = False
        while not stop.is_set():
            try:
                await self.beat()
                if failing:
                    log.info("dialer %s: heartbeat of campaign %s written again", self.owner,
                             self.campaign)  # fmt: skip
                failing = False
            except (RedisError, OSError) as exc:
                if not failing:
                    log.warning("dialer %s: heartbeat of campaign %s not written (%s)",
                                self.owner, self.campaign, exc)  # fmt: skip
                failing = True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.alive_seconds / 3)
