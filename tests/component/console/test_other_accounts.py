"""The debtor's other accounts (console/other_accounts.py): the agent's, once the titular
is verified, only of the campaign on the call and masked; the supervisor's and the
auditor's on the attempt page, as far as their campaigns go; bounded."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine, select, update
from support.dialer_floor import load_reus

from cobrador.ground.settings import Settings
from compliance.engine import Decision
from compliance.profile import load_profiles
from compliance.service import ComplianceService, Item, account_facts, phone_facts
from console.i18n import activate
from console.keys import COMPLIANCE
from console.other_accounts import MAX_LISTED, call_today, first_time_today
from dialer.agent_state import AgentStates
from store.db import transaction
from store.models import Account, AuditEntry, Campaign, Phone, User

SHARED = "+525512340001"  # MX-0001's own number
DAYS_AGO = NOW - timedelta(days=3)


def add_account(engine: Engine, ref: str, campaign_id: int, number: str = SHARED, *,
                balance: str = "3200.00", status: str = "active", phone_type: str = "mobile",
                product: str = "tarjeta", name: str = "María López Hernández") -> int:  # fmt: skip
    with transaction(engine) as session:
        account = Account(external_ref=ref, debtor_name=name, country="MX",
                          timezone="America/Mexico_City", balance=Decimal(balance),
                          currency="MXN", stage="friendly", status=status,
                          campaign_id=campaign_id, custom_fields={"product": product})  # fmt: skip
        account.phones.append(Phone(number_e164=number, phone_type=phone_type, consent=True,
                                    consent_ref=f"C-{ref}"))  # fmt: skip
        session.add(account)
        session.flush()
        return account.id


def other_campaign(engine: Engine) -> int:
    with transaction(engine) as session:
        campaign = Campaign(name="mx-otro", country="MX", profile="MX",
                            config={"creditor": "Otra Financiera"})  # fmt: skip
        session.add(campaign)
        session.flush()
        return campaign.id


def the_debtor(engine: Engine, seed: Seed) -> dict[str, int]:
    """MX-0001's debtor: two more accounts in its campaign (one paid), one in another
    creditor's campaign; a fourth lists the number as a reference (someone else's); a
    fifth is her husband's, who shares the number (a household's landline)."""
    elsewhere = other_campaign(engine)
    return {
        "card": add_account(engine, "MX-0003", seed.campaign_id),
        "paid": add_account(engine, "MX-0004", seed.campaign_id, status="paid", balance="0"),
        "elsewhere": add_account(
            engine, "MX-0005", elsewhere, balance="999.00", product="auto"
        ),  # fmt: skip
        "reference": add_account(engine, "MX-0006", seed.campaign_id, phone_type="reference"),
        "husband": add_account(
            engine,
            "MX-0007",
            seed.campaign_id,
            balance="4321.00",
            name="Pedro Ramírez Soto",
            phone_type="home",
        ),  # fmt: skip
    }


async def on_call_with(client: TestClient, engine: Engine, aredis: aioredis.Redis,
                       seed: Seed, agent: str = "ana") -> tuple[str, int]:  # fmt: skip
    token = await login(client, agent)
    ready = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert ready.status == 200, await ready.text()
    attempt = make_attempt(engine, seed.account_id, seed.users[agent])
    states = AgentStates(aredis)
    assert await states.reserve(seed.users[agent], attempt)
    await states.talking(seed.users[agent])
    return token, attempt


async def verify(client: TestClient, token: str, attempt: int) -> None:
    body = {"attempt_id": attempt, "party": "titular", "answer_full_name": "maría lópez hernández",
            "answer_account_last4": "0001"}  # fmt: skip
    resp = await client.post("/api/agent/verify", json=body, headers={"X-CSRF-Token": token})
    assert resp.status == 200, await resp.text()


async def test_given_a_verified_titular_when_the_agent_asks_then_this_campaigns_accounts_masked(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    load_reus(engine, settings.redis_url or "", tmp_path, [], NOW)
    the_debtor(engine, seed)
    token, attempt = await on_call_with(client, engine, aredis, seed)
    url = f"/api/agent/accounts/{seed.account_id}/others"
    before = await client.get(url)
    assert before.status == 403
    assert (await before.json())["reason"] == "Se muestra al verificar la identidad del titular."
    await verify(client, token, attempt)

    resp = await client.get(url)
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    text = json.dumps(data, ensure_ascii=False)
    # Another creditor's account and a reference's are nowhere, not even counted.
    for leak in ("MX-0005", "Otra Financiera", "999", "auto", "MX-0006", "MX-0003", "MX-0004",
                 "Pedro", "4,321"):  # fmt: skip
        assert leak not in text, leak
    assert data["hidden"] == 0 and data["more"] == 0
    card, paid = data["accounts"]  # active first
    assert card == {
        "account_id": None, "ref": "MX•••••", "name": "", "creditor": "Financiera Ejemplo",
        "product": "tarjeta", "balance": "$3,200.00 MXN", "status": "active",
        "status_label": "Activa", "stage_label": "Amigable",
        # The debtor is on this call: one person, one set of caps (1 attempt an hour).
        "today": {"may": False, "text": "Ahora no: Límite de intentos del día"}, "href": None,
    }  # fmt: skip
    assert (paid["status_label"], paid["balance"]) == ("Pagada", "$0.00 MXN")
    assert paid["today"]["may"] is False and paid["today"]["text"].startswith("Hoy no: ")
    with transaction(engine) as session:
        views = [json.loads(p) for p in session.scalars(
            select(AuditEntry.payload).where(AuditEntry.kind == "pii_view"))]  # fmt: skip
    [seen] = [v for v in views if v.get("page") == "other_accounts"]
    assert seen["account_id"] == seed.account_id and len(seen["account_ids"]) == 2

    english = await (await client.get(url + "?lang=en")).json()
    assert english["accounts"][0]["today"]["text"] == "Not now: Daily attempt limit"


async def test_given_an_agent_not_on_the_accounts_call_when_asking_then_refused(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    the_debtor(engine, seed)
    token, attempt = await on_call_with(client, engine, aredis, seed, "ana")
    await verify(client, token, attempt)
    # The same debtor's other account, never popped to her: no list from there either.
    card = (await client.get(f"/api/agent/accounts/{seed.other_account_id}/others")).status
    assert card == 403
    await login(client, "beto")  # another agent: not his call
    resp = await client.get(f"/api/agent/accounts/{seed.account_id}/others")
    assert resp.status == 403
    assert "MX-0003" not in await resp.text()
    for bad in ("x", "-1", "9" * 40):
        assert (await client.get(f"/api/agent/accounts/{bad}/others")).status in (400, 403, 404)


async def test_given_a_supervisor_of_one_campaign_when_opening_an_attempt_then_its_accounts_and_a_count(
    client: TestClient, seed: Seed, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_reus(engine, settings.redis_url or "", tmp_path, [], NOW)
    ids = the_debtor(engine, seed)
    with transaction(engine) as session:
        session.execute(update(User).where(User.username == "sofia")
                        .values(campaign_id=seed.campaign_id))  # fmt: skip
    # Three days ago: no cap binds the debtor now.
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], started_at=DAYS_AGO)
    card_attempt = make_attempt(engine, ids["card"], None, started_at=DAYS_AGO)
    await login(client, "sofia")
    page = await (await client.get(f"/attempts/{attempt}")).text()
    section = page[page.index('id="other-accounts"') :]
    section = section[: section.index("</section>")]
    assert f'<a href="/attempts/{card_attempt}">MX-0003</a>' in section  # opened where she may
    assert "MX-0004" in section and "Pagada" in section  # no attempt yet: listed, not linked
    assert (
        "MX-0005" not in section and "Otra Financiera" not in section and "MX-0006" not in section
    )
    assert "Y 1 en campañas que no están a su cargo." in section
    assert "Pedro Ramírez Soto" in section and "María López Hernández" in section  # to judge
    assert "$3,200.00 MXN" in section and "Sí, ahora" in section


async def test_given_an_auditor_when_opening_an_attempt_then_every_account_bounded_with_how_many_more(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    ids = the_debtor(engine, seed)
    for n in range(MAX_LISTED):
        add_account(engine, f"MX-1{n:03d}", seed.campaign_id, balance=f"{100 + n}.00")
    elsewhere_attempt = make_attempt(engine, ids["elsewhere"], None)
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    await login(client, "raul")
    page = await (await client.get(f"/attempts/{attempt}")).text()
    section = page[page.index('id="other-accounts"') :]
    section = section[: section.index("</section>")]
    assert section.count('class="other-account"') == MAX_LISTED
    # 14 linked (4 + 10), 10 listed: active ones first, larger balances first.
    assert "Y 4 cuentas más de este deudor." in section
    assert f'<a href="/attempts/{elsewhere_attempt}">MX-0005</a>' in section  # any campaign
    assert "Otra Financiera" in section and "MX-0003" in section
    for left_out in (
        "MX-1000",
        "MX-1001",
        "MX-1002",
        "MX-0004",
        "MX-0006",
    ):  # smallest, paid, not linked
        assert left_out not in section, left_out
    assert "campañas que no están a su cargo" not in section
    english = await (await client.get(f"/attempts/{attempt}?lang=en")).text()
    assert "Other accounts of this debtor" in english and "And 4 more accounts" in english


async def test_given_an_account_alone_when_opening_its_attempt_then_no_section(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    await login(client, "raul")
    page = await (await client.get(f"/attempts/{attempt}")).text()
    assert 'id="other-accounts"' not in page


def test_given_the_hours_closed_now_then_the_first_time_today_they_open_or_none(
    engine: Engine, seed: Seed
) -> None:
    service = ComplianceService(engine, None, load_profiles())
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        item = Item(account_facts(account), phone_facts(account, SHARED),
                    service.profile_for(None, "MX"))  # fmt: skip
    early = datetime(2026, 11, 24, 11, 52, tzinfo=UTC)  # 05:52 in Mexico City
    first = first_time_today(item, early)
    assert first is not None and first.strftime("%H:%M %Z") == "07:00 CST"
    late = datetime(2026, 11, 25, 4, 1, tzinfo=UTC)  # 22:01: nothing left today
    assert first_time_today(item, late) is None
    assert re.fullmatch(r"\d\d:\d\d", first.strftime("%H:%M"))


TIJUANA = "+526641234567"  # a Baja California landline: America/Tijuana, UTC−8 in December


def tijuana_item(engine: Engine, seed: Seed) -> Item:
    """MX-0001 (its zone Mexico City, UTC−6) called at a Tijuana landline: the engine
    checks both zones, two hours apart, at every instant."""
    service = ComplianceService(engine, None, load_profiles())
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None and account.timezone == "America/Mexico_City"
        phone = dataclasses.replace(phone_facts(account, SHARED), e164=TIJUANA)
        return Item(account_facts(account), phone, service.profile_for(None, "MX"))


def test_given_a_number_whose_zone_is_behind_the_accounts_when_already_tomorrow_in_one_then_not_later_today(
    engine: Engine, seed: Seed
) -> None:
    item = tijuana_item(engine, seed)
    # 00:30 on Tuesday in Mexico City, still 22:30 on Monday in Tijuana: the first time
    # both allow (07:00 in Tijuana, 09:00 in Mexico City) is tomorrow for a debtor in
    # Tijuana, so it is not "later today" (the old cut at Mexico City's midnight said it was).
    assert first_time_today(item, datetime(2026, 12, 8, 6, 30, tzinfo=UTC)) is None


def test_given_a_number_whose_zone_is_behind_the_accounts_when_both_open_later_then_the_time_in_the_agent_pages_zone(
    engine: Engine, seed: Seed
) -> None:
    item = tijuana_item(engine, seed)
    now = datetime(2026, 12, 8, 13, 0, tzinfo=UTC)  # 07:00 in Mexico City, 05:00 in Tijuana
    first = first_time_today(item, now)
    # Both allow from 07:00 in Tijuana: 09:00 on the clock the agent page shows (Mexico City).
    assert first is not None and first == datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
    assert str(first.tzinfo) == "America/Mexico_City"
    closed = Decision(allowed=False, reasons=("outside_hours",), profile_version="MX",
                      registry_versions={}, local_time=None, timezone=None, evaluated_at=now)  # fmt: skip
    assert call_today([(item, closed)], now)["text"] == "Sí, desde las 09:00 (Ciudad de México)"
    activate("en")
    try:
        assert call_today([(item, closed)], now)["text"] == "Yes, from 09:00 (Mexico City)"
    finally:
        activate("es")


async def test_given_the_rules_unreadable_when_opening_an_attempt_then_listed_as_not_to_call(
    client: TestClient, seed: Seed, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    the_debtor(engine, seed)
    service = client.server.app[COMPLIANCE]  # type: ignore[union-attr]

    async def down(*_args: object, **_kwargs: object) -> None:
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(service, "evaluate_batch", down)
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    await login(client, "raul")
    resp = await client.get(f"/attempts/{attempt}")
    assert resp.status == 200
    page = await resp.text()
    assert "MX-0003" in page and "No se pudo comprobar: no llame" in page
    assert "Sí, ahora" not in page
