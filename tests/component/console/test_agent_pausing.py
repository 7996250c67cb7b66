"""A pause asked while calls ring for the floor (dialer/agent_state.py on real Redis,
the clock injected): pausing, given a call only as a last resort, paused after."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from dialer.agent_state import AgentState, AgentStateError, AgentStates, agent_key
from dialer.pause_rule import ask


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def ready_agent(aredis: aioredis.Redis, agent_id: int, clock: Clock) -> AgentStates:
    states = AgentStates(aredis, clock=clock)
    await states.login(agent_id, "mx")
    await states.set_ready(agent_id)
    return states


async def test_given_calls_in_flight_when_a_ready_agent_pauses_then_pausing_with_reason_and_deadline(
    aredis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 1, clock)
    snap = await states.pause(1, "break", ask("break", 1000.0, (990.0,), wait_seconds=37.0))
    assert snap.state is AgentState.pausing and snap.reason == "break" and snap.since == 1000.0
    assert snap.as_dict()["pause_deadline"] == 1037.0
    # Taken for no new call (inbound, chat, transfer, a ready-only reserve).
    assert await states.reserve(1, 55) is False


async def test_given_nothing_in_flight_when_a_ready_agent_pauses_then_paused_at_once(
    aredis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 2, clock)
    snap = await states.pause(2, "break", ask("break", 1000.0, ()))
    assert (snap.state, snap.reason, snap.since) == (AgentState.paused, "break", 1000.0)


async def test_given_pausing_when_the_waited_calls_are_over_then_paused_from_then(
    aredis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 3, clock)
    await states.pause(3, "break", ask("break", 1000.0, (990.0,), wait_seconds=37.0))
    listed = await states.list("mx")
    # A call placed after the ask does not hold the pause back; the waited one does.
    still = await states.settle_pausing(listed, (990.0, 1001.0), 1005.0)
    assert still[0].state is AgentState.pausing
    done = await states.settle_pausing(still, (1001.0,), 1008.0)
    assert (done[0].state, done[0].reason, done[0].since) == (AgentState.paused, "break", 1008.0)
    assert not {b"pause_mark", b"pause_deadline"} & set(await aredis.hkeys(agent_key(3)))


async def test_given_pausing_past_the_deadline_when_anyone_reads_then_paused_since_the_deadline(
    aredis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 4, clock)
    await states.pause(4, "lunch", ask("break", 1000.0, None, wait_seconds=37.0))
    clock.now = 1036.9
    assert (await states.get(4)).state is AgentState.pausing
    clock.now = 1100.0  # no dialer left to see the calls end: the read settles it
    snap = await states.get(4)
    assert (snap.state, snap.reason, snap.since) == (AgentState.paused, "lunch", 1037.0)
    # A reserve for a debtor now finds a paused agent.
    assert await states.reserve(4, 9, pausing_too=True) is False


async def test_given_pausing_when_reserved_as_last_resort_then_wrap_up_ends_paused_with_the_reason(
    aredis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 5, clock)
    await states.pause(5, "break", ask("break", 1000.0, (999.0,), wait_seconds=37.0))
    assert await states.reserve(5, 77) is False  # only the answer path's last resort
    clock.now = 1010.0
    assert await states.reserve(5, 77, pausing_too=True) is True
    snap = await states.get(5)
    assert (snap.state, snap.attempt_id, snap.pause_after) == (AgentState.reserved, 77, "break")
    # A late settle of the pause decided before the reservation changes nothing.
    assert (await states.settle_pausing([snap], (), 1011.0))[0].state is AgentState.reserved
    await states.talking(5, 77)
    snap = await states.pause(5, "lunch")  # during the call: a new reason for after it
    assert (snap.state, snap.pause_after) == (AgentState.talking, "lunch")
    assert await states.release(5, 77)
    assert (await states.get(5)).pause_after == "lunch"
    clock.now = 1100.0
    snap = await states.set_ready(5)  # the end of the wrap-up
    assert (snap.state, snap.reason, snap.since) == (AgentState.paused, "lunch", 1100.0)
    assert snap.pause_after == ""
    snap = await states.set_ready(5)  # then back to work by choice
    assert snap.state is AgentState.ready


async def test_given_pausing_when_taken_back_then_ready_and_may_ask_again(
    aredis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 6, clock)
    await states.pause(6, "break", ask("break", 1000.0, (999.0,), wait_seconds=37.0))
    clock.now = 1004.0
    snap = await states.cancel_pause(6)
    assert (snap.state, snap.since, snap.as_dict()["pause_deadline"]) == (
        AgentState.ready,
        1004.0,
        None,
    )
    with pytest.raises(AgentStateError):
        await states.cancel_pause(6)  # nothing left to take back
    snap = await states.pause(6, "bano", ask("bano", 1004.0, (1003.0,), wait_seconds=37.0))
    assert (snap.state, snap.reason) == (AgentState.pausing, "bano")
    snap = await states.pause(6, "lunch")  # a new reason while pausing: the same wait
    assert (snap.state, snap.reason, snap.as_dict()["pause_deadline"]) == (
        AgentState.pausing, "lunch", 1041.0,
    )  # fmt: skip
    assert (await states.set_ready(6)).state is AgentState.ready  # Disponible takes it back too


async def test_given_a_pause_kept_for_after_the_call_when_taken_back_then_wrap_up_ends_ready(
    aredis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 7, clock)
    await states.pause(7, "break", ask("break", 1000.0, (999.0,), wait_seconds=37.0))
    assert await states.reserve(7, 80, pausing_too=True)
    await states.talking(7, 80)
    snap = await states.cancel_pause(7)
    assert (snap.state, snap.pause_after) == (AgentState.talking, "")
    await states.wrap_up(7)
    assert (await states.set_ready(7)).state is AgentState.ready


async def test_given_wrap_up_when_pausing_then_paused_at_once_as_before(
    aredis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 8, clock)
    assert await states.reserve(8, 81)
    await states.talking(8, 81)
    await states.wrap_up(8)
    snap = await states.pause(8, "break")
    assert (snap.state, snap.reason) == (AgentState.paused, "break")


async def test_given_a_pause_for_after_the_call_then_kept_only_in_a_call_or_wrap_up(
    aredis: aioredis.Redis,
) -> None:
    """A scheduled break that comes due in a call or its wrap-up (console/break_taker.py)."""
    clock = Clock(1000.0)
    states = await ready_agent(aredis, 9, clock)
    with pytest.raises(AgentStateError):  # ready: no call to wait for
        await states.pause_after_call(9, "comida")
    assert (await states.get(9)).pause_after == ""
    assert await states.reserve(9, 55)
    await states.talking(9)
    await states.wrap_up(9)
    snap = await states.pause_after_call(9, "comida")
    assert (snap.state, snap.pause_after) == (AgentState.wrap_up, "comida")
    with pytest.raises(AgentStateError):
        await states.pause_after_call(9, "")
    done = await states.set_ready(9)
    assert (done.state, done.reason) == (AgentState.paused, "comida")
    with pytest.raises(AgentStateError):  # paused: nothing to wait for
        await states.pause_after_call(9, "comida")
