"""Console side of the phones: an agent's reconnect, a supervisor's monitoring
request; only supervisors (and admins) may monitor, and a refused request
publishes nothing, so no ChanSpy can be originated for it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login, make_attempt
from cryptography.fernet import Fernet
from sqlalchemy import Engine
from support.polling import until

from cobrador.ground.settings import Settings
from console.app import init_app
from dialer.agent_state import AgentState, AgentStates
from dialer.messages import COMMANDS_CHANNEL

MARK = {"type": "test_marker"}


async def published(aredis: aioredis.Redis, commands: list[dict]) -> list[dict]:
    """Everything published before a marker sent now (no fixed wait)."""
    await aredis.publish(COMMANDS_CHANNEL, json.dumps(MARK))
    await until(lambda: MARK in commands, "the marker read back from pub/sub")
    return [c for c in commands if c != MARK]


async def talking_agent(
    aredis: aioredis.Redis, agent_id: int, attempt_id: int = 77, campaign: str = "mx-demo"
) -> AgentStates:
    states = AgentStates(aredis)
    await states.login(agent_id, campaign)
    await states.set_ready(agent_id)
    assert await states.reserve(agent_id, attempt_id)
    await states.talking(agent_id, attempt_id)
    return states


async def test_given_supervisor_and_talking_agent_when_monitoring_then_202_and_command_published(
    client: TestClient, engine: Engine, seed: Seed, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], result=None)
    await talking_agent(aredis, seed.users["ana"], attempt)
    token = await login(client, "sofia")
    resp = await client.post("/api/supervisor/monitor", json={"agent_id": seed.users["ana"],
                             "mode": "whisper"}, headers={"X-CSRF-Token": token})  # fmt: skip
    assert resp.status == 202, await resp.text()
    body = await resp.json()
    sent = await published(aredis, commands)
    assert sent == [{"type": "monitor", "monitor_id": body["monitor_id"],
                     "supervisor_id": seed.users["sofia"], "agent_id": seed.users["ana"],
                     "mode": "whisper", "attempt_id": attempt}]  # fmt: skip


@pytest.mark.parametrize("who", ["beto", "raul"])
async def test_given_agent_or_auditor_when_monitoring_then_403_and_nothing_published(
    client: TestClient, seed: Seed, aredis: aioredis.Redis, commands: list[dict], who: str
) -> None:
    await talking_agent(aredis, seed.users["ana"])
    token = await login(client, who)
    resp = await client.post("/api/supervisor/monitor", json={"agent_id": seed.users["ana"],
                             "mode": "listen"}, headers={"X-CSRF-Token": token})  # fmt: skip
    assert resp.status == 403
    assert await published(aredis, commands) == []


async def test_given_forged_supervisor_role_in_session_when_monitoring_then_403_and_nothing(
    aiohttp_client: Any, settings: Settings, engine: Engine, seed: Seed,
    aredis: aioredis.Redis, commands: list[dict],
) -> None:  # fmt: skip
    """An agent whose session (built with the server's own key) claims 'supervisor'."""
    await talking_agent(aredis, seed.users["ana"])
    secret = base64.urlsafe_b64encode(b"k" * 32).decode()
    settings = settings.with_overrides(console_secret=secret)
    client = await aiohttp_client(init_app(settings, engine, aredis))
    key = base64.urlsafe_b64encode(b"k" * 32)
    data = json.dumps({"created": int(time.time()),
                       "session": {"uid": seed.users["beto"], "role": "supervisor", "csrf": "x"}})  # fmt: skip
    cookie = Fernet(key).encrypt(data.encode()).decode()
    client.session.cookie_jar.update_cookies({"cobrador_session": cookie})
    resp = await client.post("/api/supervisor/monitor", json={"agent_id": seed.users["ana"],
                             "mode": "barge"}, headers={"X-CSRF-Token": "x"})  # fmt: skip
    assert resp.status == 403
    assert await published(aredis, commands) == []


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"mode": "spy"}, 400),  # unknown mode
        ({"mode": "listen", "agent_id": "x"}, 400),
        ({"mode": "listen", "agent_id": 999999}, 404),  # not logged in / unknown
        ({"mode": "listen", "agent_id": "beto"}, 409),  # logged in, not in a call
    ],
)
async def test_given_bad_monitor_request_then_4xx_and_nothing_published(
    client: TestClient,
    seed: Seed,
    aredis: aioredis.Redis,
    commands: list[dict],
    fields: dict,
    status: int,
) -> None:
    states = AgentStates(aredis)
    await states.login(seed.users["beto"], "mx-demo")
    body = {"agent_id": seed.users["ana"], **fields}
    if body["agent_id"] == "beto":
        body["agent_id"] = seed.users["beto"]
    token = await login(client, "sofia")
    resp = await client.post("/api/supervisor/monitor", json=body, headers={"X-CSRF-Token": token})
    assert resp.status == status, await resp.text()
    assert (await resp.json())["ok"] is False
    assert await published(aredis, commands) == []


async def test_given_agent_without_audio_when_reconnecting_then_dialer_asked_and_ready_refused(
    client: TestClient, seed: Seed, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    agent = seed.users["ana"]
    token = await login(client, "ana")
    resp = await client.get("/api/agent/state")
    assert resp.status == 200
    states = AgentStates(aredis)
    await states.login(agent, "mx-demo")
    await states.no_audio(agent)
    resp = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert resp.status == 409
    assert (await states.get(agent)).state is AgentState.no_audio
    resp = await client.post("/api/agent/reconnect", headers={"X-CSRF-Token": token})
    assert resp.status == 200
    assert await published(aredis, commands) == [{"type": "agent_leg_reconnect", "agent_id": agent}]


async def test_given_supervisor_when_stopping_monitor_then_command_names_her(
    client: TestClient, seed: Seed, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    token = await login(client, "sofia")
    resp = await client.post("/api/supervisor/monitor/stop", json={"monitor_id": "ab" * 16},
                             headers={"X-CSRF-Token": token})  # fmt: skip
    assert resp.status == 200
    resp = await client.post("/api/supervisor/monitor/stop", json={"monitor_id": "../x"},
                             headers={"X-CSRF-Token": token})  # fmt: skip
    assert resp.status == 400
    assert await published(aredis, commands) == [
        {"type": "monitor_stop", "monitor_id": "ab" * 16, "supervisor_id": seed.users["sofia"]}
    ]
