"""AgentStates in Redis: transitions, the atomic reserve, events for wallboards."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from dialer.agent_state import (
    AgentState,
    AgentStateError,
    AgentStates,
    agent_key,
    campaign_key,
)
from dialer.messages import AGENT_EVENTS_CHANNEL


async def test_given_login_then_paused_in_campaign_set_with_contract_keys(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis, clock=lambda: 100.0)
    snap = await states.login(7, "mx")
    assert snap.state is AgentState.paused and snap.campaign == "mx" and snap.since == 100.0
    assert await aredis.sismember(campaign_key("mx"), 7)
    assert agent_key(7) == "cobrador:agent:{7}"
    assert (await aredis.hget(agent_key(7), "state")) == b"paused"


async def test_given_ready_agent_when_two_reserves_race_then_exactly_one_wins(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis)
    await states.login(1, "mx")
    await states.set_ready(1)
    results = await asyncio.gather(*(states.reserve(1, attempt) for attempt in range(10, 20)))
    assert results.count(True) == 1
    snap = await states.get(1)
    assert snap.state is AgentState.reserved
    assert snap.attempt_id == 10 + results.index(True)


async def test_given_paused_agent_when_reserving_then_refused(aredis: aioredis.Redis) -> None:
    states = AgentStates(aredis)
    await states.login(2, "mx")
    assert await states.reserve(2, 5) is False
    assert (await states.get(2)).state is AgentState.paused


async def test_given_talking_agent_when_setting_ready_then_error_and_state_kept(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis)
    await states.login(3, "mx")
    await states.set_ready(3)
    assert await states.reserve(3, 9)
    await states.talking(3)
    with pytest.raises(AgentStateError):
        await states.set_ready(3)
    assert (await states.get(3)).state is AgentState.talking
    await states.wrap_up(3)
    snap = await states.set_ready(3)
    assert snap.state is AgentState.ready and snap.attempt_id is None


async def test_given_talking_agent_when_pausing_then_kept_for_after_the_call(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis)
    await states.login(3, "mx")
    await states.set_ready(3)
    assert await states.reserve(3, 9)
    await states.talking(3)
    snap = await states.pause(3, "break")
    # Still in the call; the pause waits for its wrap-up to end.
    assert (snap.state, snap.reason, snap.pause_after) == (AgentState.talking, "", "break")
    snap = await states.wrap_up(3)
    assert (snap.state, snap.pause_after) == (AgentState.wrap_up, "break")
    snap = await states.set_ready(3)
    assert (snap.state, snap.reason, snap.pause_after) == (AgentState.paused, "break", "")


async def test_given_reserved_agent_when_pausing_and_the_call_is_released_then_paused_after(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis)
    await states.login(3, "mx")
    await states.set_ready(3)
    assert await states.reserve(3, 9)
    assert (await states.pause(3, "lunch")).state is AgentState.reserved
    assert await states.release(3, 9)  # the debtor hung up before the bridge
    assert (await states.get(3)).pause_after == "lunch"
    assert (await states.set_ready(3)).state is AgentState.paused


async def test_given_logged_out_agent_when_setting_ready_then_error(aredis: aioredis.Redis) -> None:
    with pytest.raises(AgentStateError):
        await AgentStates(aredis).set_ready(4)


async def test_given_pause_without_reason_then_error(aredis: aioredis.Redis) -> None:
    states = AgentStates(aredis)
    await states.login(5, "mx")
    with pytest.raises(AgentStateError):
        await states.pause(5, "")


async def test_given_state_change_then_event_published_and_list_shows_agents(
    aredis: aioredis.Redis,
) -> None:
    pubsub = aredis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(AGENT_EVENTS_CHANNEL)
    states = AgentStates(aredis)
    await states.login(6, "co")
    await states.set_ready(6)
    seen = []
    for _ in range(20):
        message = await pubsub.get_message(timeout=0.5)
        if message:
            seen.append(json.loads(message["data"])["state"])
        if "ready" in seen:
            break
    await pubsub.aclose()
    assert seen[-1] == "ready"
    listed = await states.list("co")
    assert [(s.agent_id, s.state) for s in listed] == [(6, AgentState.ready)]
    await states.logout(6)
    assert await states.list("co") == []
    assert (await states.get(6)).state is AgentState.logged_out


async def test_given_an_agent_in_no_audio_when_two_restores_race_then_one_moves_her_and_only_from_no_audio(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis, clock=lambda: 100.0)
    await states.login(1, "mx")
    await states.no_audio(1)
    outcomes = await asyncio.gather(
        *(states.out_of_no_audio(1, AgentState.ready) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert all(isinstance(o, AgentStateError) for o in outcomes if isinstance(o, Exception))
    assert (await states.get(1)).state is AgentState.ready
    # An agent who went on meanwhile (reserved for a call) is left alone.
    assert await states.reserve(1, 42)
    with pytest.raises(AgentStateError):
        await states.out_of_no_audio(1, AgentState.paused, "reconexión")
    assert (await states.get(1)).state is AgentState.reserved
    await states.no_audio(1)
    snap = await states.out_of_no_audio(1, AgentState.paused, "reconexión")
    assert (snap.state, snap.reason) == (AgentState.paused, "reconexión")
    await states.no_audio(1)
    for state, reason in (
        (AgentState.paused, ""),
        (AgentState.talking, ""),
        (AgentState.wrap_up, "x"),
    ):
        with pytest.raises(AgentStateError):
            await states.out_of_no_audio(1, state, reason)
    assert (await states.get(1)).state is AgentState.no_audio
