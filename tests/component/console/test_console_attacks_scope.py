"""Attacks by a supervisor tied to one campaign: what the console tells them about the
accounts of another campaign when they type its reference."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login
from sqlalchemy import Engine, select
from test_supervisor_scope import tie

from store.db import transaction
from store.models import AuditEntry, Campaign

FORMS = {
    "protection": ("/supervisor/protection", {"protection": "minor"}),
    "third_party_number": ("/supervisor/third-party-number", {"number": "55 1234 0001"}),
}


@pytest.mark.parametrize("form", FORMS)
async def test_given_another_campaigns_reference_then_answered_as_one_that_does_not_exist(
    client: TestClient, engine: Engine, seed: Seed, form: str
) -> None:
    """The protection forms said "a campaign you do not supervise" (403) for a reference
    of another campaign and "does not exist" (404) for one of none: a supervisor tied to
    one campaign learnt which references the others hold, and typed names' outcomes."""
    tie(engine, "sofia", "co-demo")
    token = await login(client, "sofia")
    path, fields = FORMS[form]
    answers = []
    for ref in ("MX-0001", "MX-9999"):  # MX-0001 is mx-demo's, MX-9999 nobody's
        resp = await client.post(path, data={"_csrf": token, "account": ref, **fields},
                                 allow_redirects=False)  # fmt: skip
        page = (await resp.text()).replace(ref, "REF")
        answers.append((resp.status, page))
    assert answers[0][0] == 404
    assert answers[0] == answers[1]


async def test_given_another_campaigns_id_when_steering_it_then_answered_as_one_that_does_not_exist(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    """The campaign controls said 403 for another campaign's id and 404 for an id of
    none: a supervisor tied to one campaign counted the others' ids."""
    tie(engine, "sofia", "co-demo")
    with transaction(engine) as session:
        before = session.get(Campaign, seed.campaign_id).status  # type: ignore[union-attr]
    token = await login(client, "sofia")
    answers = []
    for campaign_id in (seed.campaign_id, 999999):
        resp = await client.post(f"/supervisor/campaigns/{campaign_id}",
                                 data={"_csrf": token, "action": "start" if before != "running" else "stop"},
                                 allow_redirects=False)  # fmt: skip
        answers.append((resp.status, await resp.text()))
    assert answers[0][0] == 404
    assert answers[0] == answers[1]
    with transaction(engine) as session:
        campaign = session.get(Campaign, seed.campaign_id)
        assert campaign is not None and campaign.status == before
        assert (
            session.scalar(select(AuditEntry).where(AuditEntry.kind == "campaign_change")) is None
        )


async def test_given_another_campaigns_name_when_reading_its_agents_then_answered_as_one_that_does_not_exist(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    """The per-agent figures said 403 for another campaign's name and 404 for a name
    of none: a supervisor tied to one campaign learnt the others' names."""
    tie(engine, "sofia", "co-demo")
    await login(client, "sofia")
    answers = []
    for name in ("mx-demo", "no-such-campaign"):
        resp = await client.get("/api/supervisor/agents", params={"campaign": name, "tz": "UTC"})
        answers.append((resp.status, await resp.json()))
    assert answers[0][0] == 404
    assert answers[0] == answers[1]
    own = await client.get("/api/supervisor/agents", params={"campaign": "co-demo", "tz": "UTC"})
    assert own.status == 200
