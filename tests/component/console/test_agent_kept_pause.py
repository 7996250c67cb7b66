"""A pause kept for after the call (``pause_after``: the agent's, asked in the call, or
a scheduled break come due then) is taken however the call ends: the wrap-up's end,
a reservation given back before the bridge, a phone leg lost in the call or its
wrap-up. Before, any of these but the Disponible button left the agent ready (or
paused for a reconnect), while the pacing had counted them as paused."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from dialer.agent_state import AgentState, AgentStates
from dialer.pause_rule import PauseWait

AGENT = 4
LUNCH = "comida"


async def in_a_call(aredis: aioredis.Redis, *, talking: bool = True) -> AgentStates:
    """The agent reserved for attempt 9 (talking on it when `talking`), a scheduled
    lunch come due and kept for after the call."""
    states = AgentStates(aredis)
    await states.login(AGENT, "mx")
    await states.set_ready(AGENT)
    assert await states.reserve(AGENT, 9)
    if talking:
        await states.talking(AGENT, 9)
    await states.pause_after_call(AGENT, LUNCH)
    return states


@pytest.mark.parametrize("restored", [AgentState.ready, AgentState.paused])
async def test_given_a_kept_pause_when_the_leg_drops_in_the_call_and_comes_back_then_paused_with_it(
    aredis: aioredis.Redis, restored: AgentState
) -> None:
    states = await in_a_call(aredis)
    snap = await states.no_audio(AGENT)
    assert (snap.state, snap.pause_after) == (AgentState.no_audio, LUNCH)
    # The leg's restore asks ready or a reconnect's pause: the call is over, the kept
    # pause is taken instead.
    snap = await states.out_of_no_audio(AGENT, restored, "reconexión")
    assert (snap.state, snap.reason, snap.pause_after) == (AgentState.paused, LUNCH, "")


async def test_given_a_kept_pause_when_the_leg_drops_in_the_wrap_up_and_the_agent_ends_it_then_paused_with_it(
    aredis: aioredis.Redis,
) -> None:
    states = await in_a_call(aredis)
    await states.wrap_up(AGENT)
    await states.no_audio(AGENT)
    snap = await states.set_ready(AGENT)
    assert (snap.state, snap.reason, snap.pause_after) == (AgentState.paused, LUNCH, "")


async def test_given_no_kept_pause_when_the_leg_comes_back_then_where_the_restore_says(
    aredis: aioredis.Redis,
) -> None:
    states = await in_a_call(aredis)
    await states.cancel_pause(AGENT)  # the agent took the pause back in the call
    await states.no_audio(AGENT)
    snap = await states.out_of_no_audio(AGENT, AgentState.ready)
    assert (snap.state, snap.reason) == (AgentState.ready, "")


async def test_given_a_reserved_agent_with_a_kept_pause_when_the_reservation_is_given_back_then_paused_with_it(
    aredis: aioredis.Redis,
) -> None:
    states = await in_a_call(aredis, talking=False)
    assert await states.unreserve(AGENT, 9)
    snap = await states.get(AGENT)
    assert (snap.state, snap.reason, snap.pause_after, snap.attempt_id) == (
        AgentState.paused, LUNCH, "", None)  # fmt: skip


async def test_given_a_reserved_agent_when_the_reservation_is_given_back_then_ready_and_only_for_that_attempt(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis)
    await states.login(AGENT, "mx")
    await states.set_ready(AGENT)
    assert await states.reserve(AGENT, 9)
    assert await states.unreserve(AGENT, 8) is False  # another attempt's: left alone
    assert (await states.get(AGENT)).state is AgentState.reserved
    assert await states.unreserve(AGENT, 9)
    snap = await states.get(AGENT)
    assert (snap.state, snap.attempt_id) == (AgentState.ready, None)
    await states.reserve(AGENT, 10)
    await states.talking(AGENT, 10)
    assert await states.unreserve(AGENT, 10) is False  # bridged: its end is a wrap-up
    assert (await states.get(AGENT)).state is AgentState.talking


async def test_given_a_pausing_agent_given_an_answered_debtor_when_it_is_given_back_then_paused(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis, clock=lambda: 100.0)
    await states.login(AGENT, "mx")
    await states.set_ready(AGENT)
    await states.pause(AGENT, "baño", PauseWait("baño", 100.0, 100.0, 160.0))
    assert await states.reserve(AGENT, 9, pausing_too=True)
    assert await states.unreserve(AGENT, 9)
    snap = await states.get(AGENT)
    assert (snap.state, snap.reason) == (AgentState.paused, "baño")
