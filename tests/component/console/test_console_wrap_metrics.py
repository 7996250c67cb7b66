"""The console observes an agent's wrap-up and handle time when the agent leaves a
call's wrap-up (Disponible, the page's timer after the disposition, a pause): before,
only the synthetic floor moved cobrador_call_wrap_seconds and
cobrador_call_handle_seconds, and a real floor's 'Talk, wrap and handle time' panel
showed talk alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine

from dialer.agent_state import AgentState, AgentStates, Left
from metrics.definitions import REGISTRY
from metrics.roles import CONSOLE, DIALER, registry_for

MX = {"campaign": "mx-demo"}
# Bridged 3 minutes before the console's clock, ended 40 s before it: 140 s of talk.
BRIDGED = NOW - timedelta(minutes=3)
ENDED = NOW - timedelta(seconds=40)


def observed() -> dict[str, float]:
    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name, MX) or 0.0

    return {
        "wraps": value("cobrador_call_wrap_seconds_count"),
        "wrap": value("cobrador_call_wrap_seconds_sum"),
        "handles": value("cobrador_call_handle_seconds_count"),
        "handle": value("cobrador_call_handle_seconds_sum"),
    }


async def in_wrap_up(states: AgentStates, agent: int, attempt: int) -> None:
    """The agent talked on `attempt`, and the dialer ended the call (release)."""
    await states.login(agent, "mx-demo")
    await states.set_ready(agent)
    assert await states.reserve(agent, attempt)
    await states.talking(agent, attempt)
    assert await states.release(agent, attempt)


async def disposed(client: TestClient, token: str, attempt: int) -> None:
    resp = await client.post(
        "/api/agent/disposition",
        json={"attempt_id": attempt, "party": "tercero", "outcome": "numero_equivocado"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 200, await resp.text()


async def test_given_a_wrap_up_when_the_agent_goes_ready_then_wrap_and_handle_observed_once(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    ana = seed.users["ana"]
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, ana, bridged_at=BRIDGED, ended_at=ENDED)
    await in_wrap_up(AgentStates(aredis), ana, attempt)
    await disposed(client, token, attempt)
    before = observed()
    ready = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert ready.status == 200, await ready.text()
    assert observed() == {"wraps": before["wraps"] + 1, "wrap": before["wrap"] + 40,
                          "handles": before["handles"] + 1,
                          "handle": before["handle"] + 180}  # fmt: skip
    # Ready again from ready (a second click, the timer after it): no wrap-up ended.
    again = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert again.status == 200
    assert observed()["wraps"] == before["wraps"] + 1
    # The console serves them; the dialer, which never sees a wrap-up end, does not.
    console = {metric.name for metric in registry_for(CONSOLE).collect()}
    dialer = {metric.name for metric in registry_for(DIALER).collect()}
    wanted = {"cobrador_call_wrap_seconds", "cobrador_call_handle_seconds"}
    assert wanted <= console and not wanted & dialer


async def test_given_a_wrap_up_when_the_agent_pauses_then_its_end_is_observed(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    ana = seed.users["ana"]
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, ana, bridged_at=BRIDGED, ended_at=ENDED)
    await in_wrap_up(AgentStates(aredis), ana, attempt)
    await disposed(client, token, attempt)
    before = observed()
    paused = await client.post("/api/agent/pause", json={"reason": "break"},
                               headers={"X-CSRF-Token": token})  # fmt: skip
    assert paused.status == 200, await paused.text()
    assert (await paused.json())["state"]["state"] == "paused"
    assert observed() == {"wraps": before["wraps"] + 1, "wrap": before["wrap"] + 40,
                          "handles": before["handles"] + 1,
                          "handle": before["handle"] + 180}  # fmt: skip


async def test_given_an_inbound_call_or_a_call_not_ended_then_no_wrap_up_observed(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    ana = seed.users["ana"]
    token = await login(client, "ana")
    states = AgentStates(aredis)
    before = observed()
    inbound = make_attempt(engine, seed.account_id, ana, bridged_at=BRIDGED, ended_at=ENDED,
                           direction="inbound", source="inbound")  # fmt: skip
    await in_wrap_up(states, ana, inbound)
    await disposed(client, token, inbound)
    assert (await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})).status == 200
    # Disposed in the call: the agent stays on it, Disponible is refused (before, it
    # made them ready with the debtor on the line); a wrap-up left by an older console
    # while the call is up, ended by a pause, observes nothing.
    open_call = make_attempt(engine, seed.account_id, ana, bridged_at=BRIDGED, result=None)
    assert await states.reserve(ana, open_call)
    await states.talking(ana, open_call)
    await disposed(client, token, open_call)
    assert (await states.get(ana)).state is AgentState.talking
    assert (await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})).status == 409
    await states.wrap_up(ana)
    paused = await client.post("/api/agent/pause", json={"reason": "break"},
                               headers={"X-CSRF-Token": token})  # fmt: skip
    assert paused.status == 200
    assert observed() == before


async def test_given_two_readies_at_once_then_only_one_leaves_the_wrap_up(
    aredis: aioredis.Redis,
) -> None:
    states = AgentStates(aredis)
    await in_wrap_up(states, 41, 9)
    moves = await asyncio.gather(states.set_ready_from(41), states.set_ready_from(41))
    left = sorted((move[0] for move in moves), key=lambda one: one.state.value)
    assert left == [Left(AgentState.ready, None), Left(AgentState.wrap_up, 9)]
    # A pause from wrap-up says so too, with its attempt.
    await in_wrap_up(states, 42, 10)
    left_by_pause, after = await states.pause_from(42, "descanso")
    assert (left_by_pause, after.state) == (Left(AgentState.wrap_up, 10), AgentState.paused)
