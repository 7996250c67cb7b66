"""Several dialers on one campaign pace one floor (dialer/floor.py), with the real dial
loop on pbxsim: another dialer's calls in flight count in this one's decision, one
dialer paces at a time, and a floor that cannot be read places nothing."""

from __future__ import annotations

import json
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.floor import (
    BOUND,
    PUBLISH_TTL_SECONDS,
    RINGING,
    WAITING,
    SharedFloor,
    floor_key,
    parse,
)
from store.models import CallAttempt


def attempts(floor: Any) -> int:
    with Session(floor.engine) as s:
        return int(s.scalar(select(func.count()).select_from(CallAttempt)) or 0)


async def another_dialer_rings(floor: Any, ringing: int, waiting: int = 0) -> SharedFloor:
    """A second dialer of mx-test ("d2") with calls in flight, as it publishes them."""
    other = SharedFloor(floor.redis, "mx-test", "d2")
    now = floor.clock()
    entries = [[now, RINGING]] * ringing + [[now, WAITING]] * waiting
    await floor.redis.sadd(other.dialers_key, "d2")
    await floor.redis.set(other.calls_key("d2"), json.dumps(entries),
                          px=int(PUBLISH_TTL_SECONDS * 1000))  # fmt: skip
    return other


async def test_given_another_dialer_ringing_for_every_ready_agent_then_this_one_places_nothing(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=10, agents=3)
    # Progressive: one call per ready agent not already covered. The other dialer's two
    # ringing calls and one answered debtor cover all three agents of the floor.
    await another_dialer_rings(floor, ringing=2, waiting=1)
    assert await floor.dialer.tick() == 0
    assert attempts(floor) == 0
    snapshot = await floor.dialer.snapshot(floor.clock())
    assert (len(snapshot.ringing), snapshot.waiting) == (2, 1)

    # Its calls end (it publishes none): this dialer covers the agents itself.
    await another_dialer_rings(floor, ringing=0)
    # The gate after its last decision and its yield to d2 are over.
    await floor.redis.delete(floor_key("mx-test", "turn"), floor_key("mx-test", "turn_last"))
    assert await floor.dialer.tick() == 3


async def test_given_a_dead_dialers_calls_when_its_key_expires_then_no_longer_counted(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=10, agents=3)
    other = await another_dialer_rings(floor, ringing=3)
    assert (await floor.dialer.floor.read()).ringing
    await floor.redis.delete(other.calls_key("d2"))  # what its expiry does
    view = await floor.dialer.floor.read()
    assert (view.ringing, view.dialers) == ((), 0)
    assert await floor.redis.smembers(other.dialers_key) == set()


async def test_given_another_dialer_holds_the_pacing_turn_then_this_one_places_nothing(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=10, agents=3)
    other = SharedFloor(floor.redis, "mx-test", "d2")
    assert await other.take_turn()
    assert await floor.dialer.tick() == 0
    assert attempts(floor) == 0
    # Its decision placed and published, the turn goes: this dialer paces the next one.
    await other.end_turn(0)
    assert await floor.dialer.tick() == 3
    # It kept the turn for one tick interval, published its calls, then let it go.
    assert await floor.redis.get(floor_key("mx-test", "turn")) in (None, b"d1")
    assert len((await other.read()).ringing) + (await other.read()).waiting >= 1


async def test_given_the_floor_cannot_be_read_then_nothing_is_placed(
    make_floor: Any, monkeypatch: Any
) -> None:
    floor = await make_floor(accounts=10, agents=3)

    async def unreadable() -> Any:
        raise RedisConnectionError("floor unavailable")

    monkeypatch.setattr(floor.dialer.floor, "read", unreadable)
    assert await floor.dialer.tick() == 0
    assert attempts(floor) == 0
    assert not floor.dialer.health.ok and "store unavailable" in floor.dialer.health.reason


async def test_given_two_live_dialers_then_the_last_decider_yields_the_next_turn(
    make_floor: Any,
) -> None:
    # The dialer whose ticks fall first kept every decision before: the others never
    # placed a call. Now the last decider lets the next turn go to another dialer.
    floor = await make_floor(accounts=10, agents=3)
    d1 = SharedFloor(floor.redis, "mx-test", "d1")
    d2 = await another_dialer_rings(floor, ringing=0)
    await d1.publish([])
    assert await d1.take_turn()
    assert not await d2.take_turn()  # d1 is deciding
    await d1.end_turn(0, yield_seconds=60)
    assert not await d1.take_turn()  # its own next tick: d2 goes first
    assert await d2.take_turn()
    await d2.end_turn(0, yield_seconds=60)
    assert not await d2.take_turn()
    assert await d1.take_turn()


async def test_given_the_gate_after_a_decision_then_nobody_decides_until_it_ends(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=10, agents=3)
    d1 = SharedFloor(floor.redis, "mx-test", "d1")
    d2 = await another_dialer_rings(floor, ringing=0)
    assert await d1.take_turn()
    await d1.end_turn(60, yield_seconds=60)
    assert not await d2.take_turn()
    assert not await d1.take_turn()


async def test_given_a_dialer_alone_on_the_floor_then_it_never_yields_to_itself(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=10, agents=3)
    d1 = SharedFloor(floor.redis, "mx-test", "d1")
    await d1.publish([])
    for _ in range(3):
        assert await d1.take_turn()
        await d1.end_turn(0, yield_seconds=60)
    # Nor does its own gate hold it back (a single dialer decides as it ticks).
    assert await d1.take_turn()
    await d1.end_turn(60, yield_seconds=60)
    assert await floor.redis.pttl(d1.turn_key) > 0
    assert await d1.take_turn()


async def test_given_the_other_dialer_does_not_take_its_turn_then_the_last_decider_goes_on(
    make_floor: Any,
) -> None:
    # A dialer that stopped ticking (stuck, or dead with its key not yet expired)
    # delays the floor's next decision by at most the yield, never stops it.
    floor = await make_floor(accounts=10, agents=3)
    d1 = SharedFloor(floor.redis, "mx-test", "d1")
    await another_dialer_rings(floor, ringing=0)
    await d1.publish([])
    assert await d1.take_turn()
    await d1.end_turn(0, yield_seconds=60)
    assert not await d1.take_turn()
    await floor.redis.delete(d1.last_turn_key)  # what the yield's expiry does
    assert await d1.take_turn()


async def test_given_dialers_publish_their_wait_bounds_then_the_floor_reads_the_longest(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    one = SharedFloor(floor.redis, "mx-test", "d7")
    two = SharedFloor(floor.redis, "mx-test", "d8")
    await one.publish([], 37.0)
    await two.publish([], 57.0)
    assert (await one.read()).wait_seconds == 57.0


def test_given_hostile_or_absent_wait_bounds_then_none_is_believed() -> None:
    # A corrupt key must not hold a pause for hours, nor break the calls beside it.
    for bound in ("NaN", "Infinity", "-5", "0", "601", "true", '"37"', "null"):
        raw = f'[[1.0, "{RINGING}"], [{bound}, "{BOUND}"]]'
        parsed = parse(raw)
        assert parsed is not None and parsed.wait_seconds is None, bound
        assert parsed.ringing == [1.0]
    parsed = parse(f'[[1.0, "{WAITING}"], [45.5, "{BOUND}"]]')
    assert parsed is not None and (parsed.waiting, parsed.wait_seconds) == ([1.0], 45.5)
    # What an older dialer publishes (no bound): the calls, no bound.
    parsed = parse(f'[[1.0, "{RINGING}"]]')
    assert parsed is not None and parsed.wait_seconds is None
