"""The dialers' heartbeat (dialer/liveness.py) on a real Redis: who is dead, and the
fail-closed rules that keep a live peer from being judged dead."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from support.polling import until

from dialer.campaign_dialer import DialerOptions
from dialer.liveness import Liveness, alive_key, members_key

CAMPAIGN = "mx-alive"
PBX = "127.0.0.1:5038"


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


TTL = 1.0  # the tests' heartbeat TTL; their own clock moves past it


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(redis_url)
    # A redis-server up for less than a TTL gives no verdict (the rule tested below):
    # the session's own may have just started.
    await until(lambda: uptime(redis), "Redis up for a TTL", 10, 0.1)
    yield redis
    await redis.aclose()


async def uptime(redis: aioredis.Redis) -> bool:
    return float((await redis.info("server"))["uptime_in_seconds"]) >= TTL


def dialer(client: aioredis.Redis, owner: str, clock: Monotonic, pbx: str = PBX,
           alive_seconds: float = TTL) -> Liveness:  # fmt: skip
    return Liveness(client, CAMPAIGN, owner, pbx, alive_seconds, monotonic=clock)


async def died(client: aioredis.Redis, owner: str) -> None:
    """Its heartbeat expired (what a SIGKILL leads to, without waiting for the TTL)."""
    await client.delete(alive_key(CAMPAIGN, owner))


async def test_given_a_peer_on_this_asterisk_silent_when_this_dialer_has_beaten_for_a_ttl_then_it_is_dead(
    client: aioredis.Redis,
) -> None:
    clock = Monotonic()
    me, peer, alive = (dialer(client, o, clock) for o in ("d1", "d2", "d3"))
    for d in (me, peer, alive):
        await d.beat()
    clock.now += TTL
    await me.beat()
    await alive.beat()
    await died(client, "d2")
    assert await me.dead() == {"d2"}
    assert await alive.dead() == {"d2"}


async def test_given_this_dialers_beats_younger_than_a_ttl_then_no_peer_is_judged(
    client: aioredis.Redis,
) -> None:
    clock = Monotonic()
    me, peer = dialer(client, "d1", clock), dialer(client, "d2", clock)
    await peer.beat()
    await died(client, "d2")
    await me.beat()
    clock.now += TTL * 0.9
    assert not me.trusted
    assert await me.dead() == set()
    clock.now += TTL * 0.1
    assert await me.dead() == {"d2"}
    # A Redis error anywhere in the loop: trust starts again from the next beat.
    me.distrust()
    assert await me.dead() == set()
    await me.beat()
    clock.now += TTL
    assert await me.dead() == {"d2"}


async def test_given_a_peer_on_another_asterisk_silent_then_it_is_never_judged_dead(
    client: aioredis.Redis,
) -> None:
    clock = Monotonic()
    me = dialer(client, "d1", clock)
    elsewhere = dialer(client, "d9", clock, pbx="10.0.0.2:5038")
    await elsewhere.beat()
    await me.beat()
    clock.now += TTL
    await died(client, "d9")
    assert await me.dead() == set()


async def test_given_redis_up_for_less_than_a_ttl_then_no_peer_is_judged(
    client: aioredis.Redis,
) -> None:
    """A Redis restarted (even from its append-only file) may have let live peers'
    keys expire while it was down: its uptime must exceed the TTL first."""
    clock = Monotonic()
    ttl = 10.0**9  # longer than this redis-server has been up
    me, peer = dialer(client, "d1", clock, alive_seconds=ttl), dialer(client, "d2", clock)
    await peer.beat()
    await died(client, "d2")
    await me.beat()
    clock.now += ttl
    assert me.trusted
    assert await me.dead() == set()


async def test_given_a_dead_peer_that_came_back_then_it_is_not_forgotten(
    client: aioredis.Redis,
) -> None:
    clock = Monotonic()
    me, peer = dialer(client, "d1", clock), dialer(client, "d2", clock)
    await peer.beat()
    await me.beat()
    clock.now += TTL
    await died(client, "d2")
    assert await me.dead() == {"d2"}
    await peer.beat()  # a stall, not a death
    assert await me.dead() == set()
    assert not await me.forget("d2")
    assert await client.hexists(members_key(CAMPAIGN), "d2")
    await died(client, "d2")
    assert await me.forget("d2")
    assert await me.dead() == set()


async def test_given_a_clean_stop_then_its_heartbeat_goes_at_once_and_its_membership_stays(
    client: aioredis.Redis,
) -> None:
    clock = Monotonic()
    me, peer = dialer(client, "d1", clock), dialer(client, "d2", clock)
    await peer.beat()
    await me.beat()
    clock.now += TTL
    await peer.leave()
    assert await me.dead() == {"d2"}  # what it leaves in Asterisk is closed by the others


async def test_given_redis_unreachable_then_the_beat_fails_and_no_verdict_is_given() -> None:
    clock = Monotonic()
    unreachable = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    me = dialer(unreachable, "d1", clock)
    with pytest.raises(RedisConnectionError):
        await me.beat()
    clock.now += TTL
    assert not me.trusted
    assert await me.dead() == set()  # not even asked
    await unreachable.aclose()


async def test_given_a_ttl_not_positive_then_refused(client: aioredis.Redis) -> None:
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="alive_seconds"):
            Liveness(client, CAMPAIGN, "d1", PBX, bad)


async def test_given_redis_refuses_info_then_no_peer_is_judged(client: aioredis.Redis) -> None:
    """A managed Redis may refuse INFO: its uptime unknown, dead dialers are left to
    their leases (as before the heartbeat) rather than the loop failing every tick."""
    clock = Monotonic()
    me, peer = dialer(client, "d1", clock), dialer(client, "d2", clock)
    await peer.beat()
    await me.beat()
    clock.now += TTL
    await died(client, "d2")

    async def refused(*_args: object, **_kwargs: object) -> None:
        raise ResponseError("unknown command 'INFO'")

    me.redis.info = refused  # type: ignore[method-assign]
    assert await me.dead() == set()


async def test_given_a_pbx_name_then_the_heartbeat_names_that_asterisk_not_the_ami_address(
    make_floor: Callable[..., Awaitable[Any]],
) -> None:
    floor = await make_floor(accounts=1, agents=1, options=DialerOptions(
        owner="d1", refill_every_seconds=0.5, pbx_name="asterisk-1"))  # fmt: skip
    await floor.dialer.liveness.beat()
    assert await floor.redis.hget(members_key(floor.dialer.name), "d1") == b"asterisk-1"


async def test_given_no_pbx_name_then_the_heartbeat_names_the_ami_address(
    make_floor: Callable[..., Awaitable[Any]],
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    await floor.dialer.liveness.beat()
    address = f"127.0.0.1:{floor.ami_server.port}".encode()
    assert await floor.redis.hget(members_key(floor.dialer.name), "d1") == address


async def test_given_owners_named_when_silent_then_those_without_heartbeat_even_forgotten(
    client: aioredis.Redis,
) -> None:
    """silent() judges the owners it is handed (an agent leg's dialer), members or not:
    a dead peer forgotten once its attempts are closed is still dead; itself never;
    nobody while this dialer's beats are younger than a TTL."""
    clock = Monotonic()
    me, gone, alive = (dialer(client, o, clock) for o in ("d1", "d2", "d3"))
    for d in (me, gone, alive):
        await d.beat()
    await died(client, "d2")
    assert await me.silent({"d1", "d2", "d3", "d4"}) == set()  # not trusted yet
    clock.now += TTL
    await me.beat()
    await alive.beat()
    assert await me.forget("d2")
    assert await me.silent({"d1", "d2", "d3", "d4"}) == {"d2", "d4"}


async def test_given_redis_lost_every_key_then_no_peer_is_judged_until_this_dialer_beat_a_ttl_again(
    client: aioredis.Redis,
) -> None:
    """A FLUSHALL takes every heartbeat: a live peer looks silent until its next beat.
    This dialer's own key gone too says so; the verdict waits a TTL of beats."""
    clock = Monotonic()
    me, live, gone = (dialer(client, o, clock) for o in ("d1", "d2", "d3"))
    for d in (me, live, gone):
        await d.beat()
    clock.now += TTL
    await me.beat()
    await client.flushdb()
    # Before this dialer's next beat, and before the live peer's.
    assert await me.dead(known={"d2", "d3"}) == set()
    assert (me.keys_lost, me.trusted) == (1, False)
    await me.beat()
    await live.beat()
    clock.now += TTL * 0.9
    await me.beat()
    assert await me.dead(known={"d2", "d3"}) == set()
    clock.now += TTL * 0.1
    await me.beat()
    await live.beat()
    assert me.keys_lost == 1  # counted once per loss
    # The dead peer is no member any more (Redis forgot it); the caller knows it from SQL.
    assert await me.dead() == set()
    assert await me.dead(known={"d2", "d3"}) == {"d3"}


async def test_given_its_own_key_gone_when_this_dialer_beats_then_it_distrusts_its_verdict(
    client: aioredis.Redis,
) -> None:
    clock = Monotonic()
    me, peer = dialer(client, "d1", clock), dialer(client, "d2", clock)
    await peer.beat()
    await me.beat()
    clock.now += TTL
    await client.flushdb()
    await me.beat()  # it finds its key gone: the others' went with it
    assert (me.keys_lost, me.trusted) == (1, False)
    assert await me.dead(known={"d2"}) == set()
    clock.now += TTL
    await me.beat()
    assert await me.dead(known={"d2"}) == {"d2"}


async def test_given_peers_on_any_asterisk_when_asked_which_beat_then_those_whose_key_is_there(
    client: aioredis.Redis,
) -> None:
    """What keeps a live dialer's calls from being closed by the others (its leases
    may be lost with Redis): its key, wherever it dials; a missing key proves
    nothing while this dialer's own is missing too."""
    clock = Monotonic()
    me, near, gone = (dialer(client, o, clock) for o in ("d1", "d2", "d4"))
    far = dialer(client, "d3", clock, pbx="10.0.0.9:5038")
    everyone = {"d1", "d2", "d3", "d4"}
    assert await me.beating(everyone) == {"d2", "d3", "d4"}  # it never beat: no proof
    for d in (me, near, far, gone):
        await d.beat()
    await died(client, "d4")
    assert await me.beating(everyone) == {"d2", "d3"}  # no TTL of its beats needed
    await client.flushdb()
    assert await me.beating(everyone) == {"d2", "d3", "d4"}  # Redis lost keys
    await me.beat()
    assert await me.beating(everyone) == {"d2", "d3", "d4"}  # until a TTL of its beats
    clock.now += TTL
    for d in (me, near, far):
        await d.beat()
    assert await me.beating(everyone) == {"d2", "d3"}
    assert me.keys_lost == 1
