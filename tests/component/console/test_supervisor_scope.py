"""A supervisor tied to one campaign steers, watches and monitors only that
campaign: every supervisor route × scope (untied, own campaign, another one, admin)."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login, origin
from sqlalchemy import Engine, select
from test_console_phone import published, talking_agent

from store.db import transaction
from store.models import AuditEntry, Campaign, User

# scope of the user making the request -> may they act on campaign mx-demo?
SCOPES = {
    "untied_supervisor": ("sofia", None, True),
    "supervisor_of_mx_demo": ("sofia", "mx-demo", True),
    "supervisor_of_another": ("sofia", "co-demo", False),
    "admin": ("root", None, True),
}


def tie(engine: Engine, username: str, campaign: str | None) -> None:
    with transaction(engine) as session:
        other = Campaign(name="co-demo", country="CO", profile="CO", dial_mode="preview")
        session.add(other)
        session.flush()
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        if campaign is not None:
            user.campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == campaign))


def mx_demo(engine: Engine) -> Campaign:
    with transaction(engine) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.name == "mx-demo"))
        assert campaign is not None
        return campaign


CONTROLS = {
    "start": {"action": "start"},
    "stop": {"action": "stop"},
    "mode": {"action": "mode", "dial_mode": "predictive"},
    "target": {"action": "target", "abandon_target": "2"},
    "skill_group": {"action": "skill_group", "skill_group": ""},
}


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("control", CONTROLS)
async def test_given_scope_when_changing_mx_demo_then_allowed_only_in_scope(
    client: TestClient, engine: Engine, seed: Seed, scope: str, control: str
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    before = mx_demo(engine)
    token = await login(client, username)
    resp = await client.post(
        f"/supervisor/campaigns/{seed.campaign_id}",
        data={**CONTROLS[control], "_csrf": token},
        allow_redirects=False,
    )
    after = mx_demo(engine)
    if allowed:
        assert resp.status == 302, await resp.text()
    else:
        assert resp.status == 403
        assert (after.status, after.dial_mode, after.abandon_target) == (
            before.status, before.dial_mode, before.abandon_target
        )  # fmt: skip
        with transaction(engine) as session:
            assert (
                session.scalar(select(AuditEntry).where(AuditEntry.kind == "campaign_change"))
                is None
            )


@pytest.mark.parametrize("scope", SCOPES)
async def test_given_scope_when_reading_mx_demo_wallboard_then_allowed_only_in_scope(
    client: TestClient, engine: Engine, scope: str
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    await login(client, username)
    resp = await client.get("/api/wallboard?campaign=mx-demo")
    assert resp.status == (200 if allowed else 403)


@pytest.mark.parametrize("scope", SCOPES)
async def test_given_scope_when_opening_mx_demo_wallboard_socket_then_allowed_only_in_scope(
    client: TestClient, engine: Engine, scope: str
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    await login(client, username)
    if allowed:
        ws = await client.ws_connect("/ws/wallboard?campaign=mx-demo", origin=origin(client))
        data = await ws.receive_json(timeout=10)
        assert data["campaign"]["name"] == "mx-demo"
        await ws.close()
    else:
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws/wallboard?campaign=mx-demo", origin=origin(client))
        assert refused.value.status == 403


@pytest.mark.parametrize("scope", SCOPES)
async def test_given_scope_when_opening_the_supervisor_page_then_only_campaigns_in_scope(
    client: TestClient, engine: Engine, scope: str
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    await login(client, username)
    page = await (await client.get("/supervisor?campaign=mx-demo")).text()
    assert ("mx-demo" in page) is allowed


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
@pytest.mark.parametrize("scope", SCOPES)
async def test_given_scope_when_monitoring_an_mx_demo_agent_then_allowed_only_in_scope(
    client: TestClient,
    engine: Engine,
    seed: Seed,
    aredis: aioredis.Redis,
    commands: list[dict],
    scope: str,
    mode: str,
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    await talking_agent(aredis, seed.users["ana"])
    token = await login(client, username)
    resp = await client.post(
        "/api/supervisor/monitor",
        json={"agent_id": seed.users["ana"], "mode": mode},
        headers={"X-CSRF-Token": token},
    )
    sent = await published(aredis, commands)
    if allowed:
        assert resp.status == 202
        assert [c["type"] for c in sent] == ["monitor"]
    else:
        assert resp.status == 403
        assert "campaña" in json.dumps(await resp.json(), ensure_ascii=False)
        assert sent == []
