"""The supervisor names a campaign's skill group from the campaign controls."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login
from sqlalchemy import Engine, select

from dialer.inbound.skills import create_group
from store.db import transaction
from store.models import AuditEntry, Campaign


def _group(engine: Engine, campaign_id: int) -> str | None:
    with transaction(engine) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return ((campaign.config or {}).get("inbound") or {}).get("skill_group")


async def test_given_supervisor_when_naming_a_skill_group_then_saved_audited_and_clearable(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    create_group(engine, "mora-temprana")
    token = await login(client, "sofia")
    page = await (await client.get("/supervisor")).text()
    assert 'value="mora-temprana"' in page and "Grupo de habilidades" in page
    url = f"/supervisor/campaigns/{seed.campaign_id}"
    form = {"_csrf": token, "action": "skill_group", "skill_group": "mora-temprana"}
    resp = await client.post(url, data=form, allow_redirects=False)
    assert resp.status == 302
    assert _group(engine, seed.campaign_id) == "mora-temprana"
    page = await (await client.get("/supervisor")).text()
    assert '<option value="mora-temprana" selected>' in page
    resp = await client.post(url, data={**form, "skill_group": ""}, allow_redirects=False)
    assert resp.status == 302
    assert _group(engine, seed.campaign_id) is None
    with transaction(engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "campaign_change").order_by(AuditEntry.id)
        )
        changes = [(json.loads(r.payload), r.actor) for r in rows]
    assert [(c["skill_group"], c["previous_skill_group"], actor) for c, actor in changes] == [
        ("mora-temprana", None, "user:sofia"), (None, "mora-temprana", "user:sofia")
    ]  # fmt: skip


async def test_given_a_group_that_no_longer_exists_when_named_then_400_and_unchanged(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "sofia")
    resp = await client.post(
        f"/supervisor/campaigns/{seed.campaign_id}",
        data={"_csrf": token, "action": "skill_group", "skill_group": "fantasma"},
    )
    assert resp.status == 400
    assert "Ese grupo de habilidades ya no existe." in await resp.text()
    assert _group(engine, seed.campaign_id) is None
