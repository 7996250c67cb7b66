"""Wallboard (live over WebSocket) and campaign controls."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, origin
from sqlalchemy import Engine, select

from dialer.agent_state import AgentStates
from dialer.messages import wallboard_key
from store.db import transaction
from store.models import AuditEntry, Campaign, Decision


async def test_given_agent_changes_state_then_supervisor_socket_sees_it_live(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    with transaction(engine) as session:
        for reasons in (["outside_hours"], ["outside_hours", "no_consent"], ["registry_listed"]):
            session.add(
                Decision(
                    campaign_id=seed.campaign_id,
                    allowed=False,
                    reasons=reasons,
                    evaluated_at=NOW - timedelta(minutes=5),
                )
            )
    live = {
        "calls_ringing": 3,
        "calls_connected": 2,
        "abandonment": {"1h": 0.01, "24h": 0.02, "30d": 0.025},
        "hopper": {"size": 0, "empty_reasons": {"outside_hours": 40}},
    }
    await aredis.set(wallboard_key("mx-demo"), json.dumps(live))
    await login(client, "sofia")
    ws = await client.ws_connect(
        "/ws/wallboard?campaign=mx-demo", headers={"Origin": origin(client)}
    )
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "wallboard" and first["agents"] == []
    assert first["live"]["calls_ringing"] == 3
    assert first["block_reasons"][0] == ["Fuera del horario permitido", 2]
    assert first["live_labels"]["empty_reasons"] == [
        {"label": "Fuera del horario permitido", "count": 40}
    ]
    assert first["campaign"]["abandon_target"] == 0.03
    states = AgentStates(aredis)
    await states.login(seed.users["ana"], "mx-demo")
    await states.set_ready(seed.users["ana"])
    for _ in range(10):
        snap = await ws.receive_json(timeout=5)
        agents = {a["name"]: a["state"] for a in snap["agents"]}
        if agents.get("Ana") == "ready":
            break
    assert agents == {"Ana": "ready"}
    assert snap["by_state"] == {"ready": 1}
    await ws.close()


async def test_given_supervisor_when_starting_and_changing_mode_then_saved_audited_and_published(
    client: TestClient, seed: Seed, engine: Engine, commands: list[dict]
) -> None:
    token = await login(client, "sofia")
    url = f"/supervisor/campaigns/{seed.campaign_id}"
    resp = await client.post(url, data={"_csrf": token, "action": "start"}, allow_redirects=False)
    assert resp.status == 302
    resp = await client.post(
        url,
        data={"_csrf": token, "action": "mode", "dial_mode": "predictive"},
        allow_redirects=False,
    )
    assert resp.status == 302
    resp = await client.post(
        url,
        data={"_csrf": token, "action": "target", "abandon_target": "2.5"},
        allow_redirects=False,
    )
    assert resp.status == 302
    with transaction(engine) as session:
        campaign = session.get(Campaign, seed.campaign_id)
        assert campaign is not None
        assert (campaign.status, campaign.dial_mode) == ("running", "predictive")
        assert campaign.abandon_target == Decimal("0.0250")
        changes = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "campaign_change")
        ).all()
        assert len(changes) == 3


async def test_given_target_above_profile_limit_when_saving_then_400_message_and_unchanged(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "sofia")
    url = f"/supervisor/campaigns/{seed.campaign_id}"
    for value, message in [
        ("3.5", "no puede superar el límite del perfil"),
        ("0", "entre 0.01 y 100"),
        ("mucho", "Escriba el objetivo"),
    ]:
        resp = await client.post(
            url, data={"_csrf": token, "action": "target", "abandon_target": value}
        )
        assert resp.status == 400
        assert message in await resp.text()
    bad_mode = await client.post(url, data={"_csrf": token, "action": "mode", "dial_mode": "turbo"})
    assert bad_mode.status == 400
    with transaction(engine) as session:
        campaign = session.get(Campaign, seed.campaign_id)
        assert campaign is not None
        assert campaign.abandon_target == Decimal("0.03") and campaign.dial_mode == "progressive"


async def test_given_profile_allows_more_when_target_4_percent_then_saved(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    with transaction(engine) as session:
        campaign = session.get(Campaign, seed.campaign_id)
        assert campaign is not None
        campaign.config = {**campaign.config, "profile_abandon_limit": "0.05"}
    token = await login(client, "sofia")
    resp = await client.post(
        f"/supervisor/campaigns/{seed.campaign_id}",
        data={"_csrf": token, "action": "target", "abandon_target": "4"},
        allow_redirects=False,
    )
    assert resp.status == 302


async def test_given_unknown_campaign_when_controlling_then_404(client: TestClient) -> None:
    token = await login(client, "sofia")
    resp = await client.post("/supervisor/campaigns/999", data={"_csrf": token, "action": "start"})
    assert resp.status == 404


async def test_given_wallboard_api_without_campaign_then_400(client: TestClient) -> None:
    await login(client, "sofia")
    assert (await client.get("/api/wallboard")).status == 400
