"""The agent's recording controls and notice: on_demand start/stop reach the
dialer's command channel only for a live call; the script opens with the
recording notice when the campaign's notice is the script."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine
from support.polling import until

from console import agent_service
from console.call_script import RECORDING_NOTICE_LINE
from dialer.agent_state import AgentStates
from store.db import transaction
from store.models import Campaign


def set_config(engine: Engine, seed: Seed, **values: object) -> None:
    with transaction(engine) as session:
        campaign = session.get(Campaign, seed.campaign_id)
        assert campaign is not None
        campaign.config = {**(campaign.config or {}), **values}


async def test_given_no_live_call_when_recording_asked_then_409_and_nothing_sent(
    client: TestClient, seed: Seed, commands: list[dict]
) -> None:
    token = await login(client, "ana")
    for action in ("start", "stop"):
        resp = await client.post(f"/api/agent/recording/{action}", headers={"X-CSRF-Token": token})
        assert resp.status == 409
    assert not [c for c in commands if str(c.get("type", "")).startswith("recording_")]


async def test_given_live_call_when_agent_starts_and_stops_recording_then_dialer_is_told(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    token = await login(client, "ana")
    agent_id = seed.users["ana"]
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    await states.login(agent_id, "mx-demo")
    await states.set_ready(agent_id)
    await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    for action in ("start", "stop"):
        resp = await client.post(f"/api/agent/recording/{action}", headers={"X-CSRF-Token": token})
        assert resp.status == 200

    def sent() -> list[tuple[str, int, int]]:
        return [(c["type"], c["attempt_id"], c["agent_id"]) for c in commands
                if c.get("agent_id") == agent_id and str(c.get("type")).startswith("recording_")]  # fmt: skip

    await until(lambda: len(sent()) >= 2, lambda: f"two recording commands, not {sent()}")
    assert sent() == [("recording_start", attempt, agent_id), ("recording_stop", attempt, agent_id)]


def test_given_script_notice_when_popped_then_the_opening_gives_the_notice_to_whoever_answers(
    seed: Seed, engine: Engine
) -> None:
    pop = agent_service.build_pop(engine, seed.account_id, None, None, NOW, "pop", audit=False)
    assert pop is not None
    assert pop["recording"] == {"mode": "all", "notice": "script"}  # MX profile default
    # Whoever answers is recorded: the notice is in the opening, before identity is asked.
    assert pop["opening"].split("\n")[1] == RECORDING_NOTICE_LINE


def test_given_prompt_or_no_recording_when_popped_then_no_notice_line(
    seed: Seed, engine: Engine
) -> None:
    set_config(engine, seed, recording_notice="prompt", recording="on_demand")
    pop = agent_service.build_pop(engine, seed.account_id, None, None, NOW, "pop", audit=False)
    assert pop is not None and pop["recording"] == {"mode": "on_demand", "notice": "prompt"}
    assert RECORDING_NOTICE_LINE not in pop["opening"]
    set_config(engine, seed, recording="none")
    pop = agent_service.build_pop(engine, seed.account_id, None, None, NOW, "pop", audit=False)
    assert pop is not None and pop["recording"] == {"mode": "none", "notice": None}
    assert RECORDING_NOTICE_LINE not in pop["opening"]
