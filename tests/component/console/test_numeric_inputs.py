"""Numbers and ids from requests stay inside their column's range: 400 or 404 with
a reason, never stored rounded to 0, never a 500."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login
from sqlalchemy import Engine

from console.params import INT32_MAX, ParamError, parse_decimal, parse_id
from store.db import transaction
from store.models import Campaign

HUGE = "9" * 25


@pytest.mark.parametrize(
    "value",
    ["0.00001", "0.004", "1e999999", "-1e999999", "1e-999999", "NaN", "-Infinity", "101", "1" * 40],
)
async def test_given_abandon_target_out_of_range_when_saving_then_400_with_reason_and_unchanged(
    client: TestClient, seed: Seed, engine: Engine, value: str
) -> None:
    token = await login(client, "sofia")
    resp = await client.post(
        f"/supervisor/campaigns/{seed.campaign_id}",
        data={"_csrf": token, "action": "target", "abandon_target": value},
    )
    assert resp.status == 400
    assert "entre 0.01 y 100" in await resp.text()
    with transaction(engine) as session:
        campaign = session.get(Campaign, seed.campaign_id)
        assert campaign is not None and campaign.abandon_target == Decimal("0.03")


async def test_given_smallest_abandon_target_when_saving_then_kept_not_zero(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "sofia")
    resp = await client.post(
        f"/supervisor/campaigns/{seed.campaign_id}",
        data={"_csrf": token, "action": "target", "abandon_target": "0,01"},
        allow_redirects=False,
    )
    assert resp.status == 302
    with transaction(engine) as session:
        campaign = session.get(Campaign, seed.campaign_id)
        assert campaign is not None and campaign.abandon_target == Decimal("0.0001")


@pytest.mark.parametrize("account_id", [HUGE, str(2**63), "0", "-1", "١٢", "1e3"])
async def test_given_an_id_no_account_can_have_when_an_agent_asks_then_400_not_500(
    client: TestClient, account_id: str
) -> None:
    await login(client, "ana")
    resp = await client.get(f"/api/agent/accounts/{account_id}")
    assert resp.status == 400
    assert "account_id" in (await resp.json())["reason"]


@pytest.mark.parametrize("path", [f"/auditor/decisions/{HUGE}", f"/auditor/decisions/{2**63}"])
async def test_given_a_huge_decision_id_when_an_auditor_asks_then_404_not_500(
    client: TestClient, path: str
) -> None:
    await login(client, "raul")
    assert (await client.get(path)).status == 404


@pytest.mark.parametrize("campaign_id", [HUGE, str(INT32_MAX + 1)])
async def test_given_a_campaign_id_beyond_its_column_when_controlling_then_404_not_500(
    client: TestClient, campaign_id: str
) -> None:
    token = await login(client, "sofia")
    resp = await client.post(
        f"/supervisor/campaigns/{campaign_id}", data={"_csrf": token, "action": "start"}
    )
    assert resp.status == 404


@pytest.mark.parametrize("field", [("/api/supervisor/monitor", "sofia", {"mode": "listen", "agent_id": HUGE}),
                                   ("/api/agent/preview/dial", "ana", {"account_id": HUGE}),
                                   ("/api/agent/preview/skip", "ana", {"account_id": str(2**64)})])  # fmt: skip
async def test_given_a_huge_id_in_a_json_body_then_400_not_500(
    client: TestClient, field: tuple[str, str, dict[str, str]]
) -> None:
    path, user, body = field
    token = await login(client, user)
    resp = await client.post(path, json=body, headers={"X-CSRF-Token": token})
    assert resp.status == 400


@pytest.mark.parametrize("text", ["", "abc", "-3", "0", "1.5", " 12 ", HUGE, "٣"])
def test_given_not_a_positive_bounded_integer_then_param_error(text: str) -> None:
    if text.strip() == "12":
        assert parse_id(text, "x") == 12
        return
    with pytest.raises(ParamError):
        parse_id(text, "x")


def test_given_decimal_too_small_for_its_places_then_refused_not_zero() -> None:
    with pytest.raises(ParamError, match="too small"):
        parse_decimal("0.00001", "x", Decimal(0), Decimal(100), 2)
    assert parse_decimal("2,5", "x", Decimal(0), Decimal(100), 2) == Decimal("2.50")
