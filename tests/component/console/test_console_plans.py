"""Payment plans on a call: the calculator, the read-back, the schedule of promises,
the supervisor's approval queue and the payments import that follows the plan."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine, select
from test_console_agent import dispose, verify

from compliance.debtor_time import account_day
from dialer.agent_state import AgentStates
from store.db import transaction
from store.importing.payments import import_payments
from store.models import Account, AuditEntry, Campaign, PaymentPlan, Promise, User

PLAN = {"party": "titular", "outcome": "convenio", "plan_discount": "0",
        "plan_instalments": "6", "plan_interval": "monthly", "plan_first_date": "2026-12-01"}  # fmt: skip


async def on_call(
    client: TestClient, engine: Engine, aredis: aioredis.Redis, seed: Seed
) -> tuple[str, int]:
    token = await login(client, "ana")
    agent_id = seed.users["ana"]
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    await states.login(agent_id, "mx-demo")
    await states.set_ready(agent_id)
    await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    return token, attempt


async def preview(client: TestClient, token: str, **fields: object):  # type: ignore[no-untyped-def]
    return await client.post(
        "/api/agent/plan/preview", json=fields, headers={"X-CSRF-Token": token}
    )


def plans_and_promises(engine: Engine) -> tuple[list[PaymentPlan], list[Promise]]:
    with transaction(engine) as session:
        plans = list(session.scalars(select(PaymentPlan).order_by(PaymentPlan.id)))
        promises = list(session.scalars(select(Promise).order_by(Promise.due_date)))
        session.expunge_all()
        return plans, promises


async def test_given_six_instalments_within_rules_when_confirmed_then_six_promises_and_held(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token, attempt = await on_call(client, engine, aredis, seed)
    # The calculator answers only for a verified person.
    assert (await preview(client, token, attempt_id=attempt, **PLAN)).status == 400
    assert (await verify(client, token, attempt)).status == 200
    pop = await (await client.get(f"/api/agent/accounts/{seed.account_id}")).json()
    assert pop["account"]["calculator"]["agent_discount"] == "10 %"
    assert pop["account"]["calculator"]["max_instalments"] == 12
    shown = await (await preview(client, token, attempt_id=attempt, **PLAN)).json()
    assert shown["plan"]["total"] == "$12,500.00 MXN"
    assert [i["amount"] for i in shown["plan"]["instalments"]] == ["$2,083.33 MXN"] * 5 + [
        "$2,083.35 MXN"
    ]
    # The agent reads each date aloud: in words, never ISO (ISO stays for machines).
    first = shown["plan"]["instalments"][0]
    assert (first["due_date"], first["due_date_shown"]) == ("2026-12-01", "1 de diciembre de 2026")
    readback = await dispose(client, token, attempt_id=attempt, **PLAN)
    assert readback.status == 409
    body = await readback.json()
    assert body["confirm"]["field"] == "plan"
    assert body["reason"] == (
        "Lea el plan al deudor y confírmelo: 6 pagos (mensual) de $2,083.33 MXN, el último de "
        "$2,083.35 MXN, del 1 de diciembre de 2026 al 1 de mayo de 2027; total $12,500.00 MXN "
        "(descuento 0 %)."
    )
    assert plans_and_promises(engine) == ([], [])
    saved = await dispose(client, token, attempt_id=attempt, **PLAN,
                          plan_confirm=body["confirm"]["value"])  # fmt: skip
    assert saved.status == 200, await saved.text()
    assert (await saved.json())["plan_pending"] is False
    plans, promises = plans_and_promises(engine)
    assert [p.status for p in plans] == ["active"]
    assert [(p.instalment, p.amount, p.due_date.isoformat()) for p in promises][0] == (
        1, Decimal("2083.33"), "2026-12-01")  # fmt: skip
    assert len(promises) == 6 and {p.plan_id for p in promises} == {plans[0].id}
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        # The day after the first instalment, begun in Mexico City (06:00 UTC).
        assert account.next_attempt_at == datetime(2026, 12, 2, 6, tzinfo=UTC)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.kind == "disposition")).one()
        assert json.loads(entry.payload)["plan"]["status"] == "active"


async def test_given_english_console_when_a_plan_is_read_back_then_dates_in_english_words(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token, attempt = await on_call(client, engine, aredis, seed)
    assert (await client.get("/agent?lang=en")).status == 200
    verified = await verify(client, token, attempt)
    assert "due since September 1, 2026." in (await verified.json())["pop"]["script"]
    shown = await (await preview(client, token, attempt_id=attempt, **PLAN)).json()
    dates = [i["due_date_shown"] for i in shown["plan"]["instalments"]]
    assert dates[0] == "December 1, 2026" and dates[-1] == "May 1, 2027"
    readback = await (await dispose(client, token, attempt_id=attempt, **PLAN)).json()
    assert "from December 1, 2026 to May 1, 2027" in readback["reason"]


async def test_given_discount_above_agent_limit_then_waits_and_supervisor_approves_audited(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token, attempt = await on_call(client, engine, aredis, seed)
    assert (await verify(client, token, attempt)).status == 200
    fields = PLAN | {"plan_discount": "20", "plan_instalments": "2"}
    too_much = await dispose(
        client, token, attempt_id=attempt, **(fields | {"plan_discount": "31"})
    )
    assert too_much.status == 400
    assert (await too_much.json())["errors"]["plan_discount"] == (
        "El descuento máximo en esta etapa es 30 %."
    )
    readback = await (await dispose(client, token, attempt_id=attempt, **fields)).json()
    assert readback["reason"].endswith(
        "Al guardarlo, el plan espera la aprobación de un supervisor."
    )
    saved = await dispose(client, token, attempt_id=attempt, **fields,
                          plan_confirm=readback["confirm"]["value"])  # fmt: skip
    assert (await saved.json())["plan_pending"] is True
    plans, promises = plans_and_promises(engine)
    assert [p.status for p in plans] == ["pending"] and promises == []
    assert plans[0].total == Decimal("10000.00")

    sup = await login(client, "sofia")
    page = await (await client.get("/supervisor")).text()
    assert "descuento mayor que el que autoriza un gestor" in page
    assert "$10,000.00 MXN" in page
    # The supervisor reads the schedule's first and last days in words, not ISO.
    assert "1 de diciembre de 2026 → 1 de enero de 2027" in page and "2026-12-01" not in page
    url = f"/supervisor/plans/{plans[0].id}"
    agent_denied = await client.post("/supervisor/plans/999999", data={"_csrf": sup, "action": "approve"},
                                     allow_redirects=False)  # fmt: skip
    assert agent_denied.status == 404
    bad = await client.post(url, data={"_csrf": sup, "action": "maybe"})
    assert bad.status == 400
    ok = await client.post(url, data={"_csrf": sup, "action": "approve", "note": "cliente cumplido"},
                           allow_redirects=False)  # fmt: skip
    assert ok.status == 302
    again = await client.post(url, data={"_csrf": sup, "action": "reject"})
    assert again.status == 409 and "ya fue decidido" in await again.text()
    plans, promises = plans_and_promises(engine)
    assert [p.status for p in plans] == ["active"] and len(promises) == 2
    assert plans[0].decided_by == seed.users["sofia"]
    with transaction(engine) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.kind == "payment_plan")).one()
        payload = json.loads(entry.payload)
        assert payload["action"] == "approved" and payload["note"] == "cliente cumplido"
        assert entry.actor.endswith("sofia")


async def test_given_pending_plan_when_rejected_then_account_back_in_queue(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token, attempt = await on_call(client, engine, aredis, seed)
    assert (await verify(client, token, attempt)).status == 200
    fields = PLAN | {"plan_instalments": "1", "plan_discount": "15"}
    readback = await (await dispose(client, token, attempt_id=attempt, **fields)).json()
    await dispose(
        client, token, attempt_id=attempt, **fields, plan_confirm=readback["confirm"]["value"]
    )
    plans, _ = plans_and_promises(engine)
    sup = await login(client, "sofia")
    resp = await client.post(f"/supervisor/plans/{plans[0].id}",
                             data={"_csrf": sup, "action": "reject"}, allow_redirects=False)  # fmt: skip
    assert resp.status == 302
    plans, promises = plans_and_promises(engine)
    assert [p.status for p in plans] == ["rejected"] and promises == []
    with transaction(engine) as session:
        assert session.get(Account, seed.account_id).next_attempt_at == NOW  # type: ignore[union-attr]


async def test_given_active_plan_when_payments_import_then_kept_advances_and_broken_requeues(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    token, attempt = await on_call(client, engine, aredis, seed)
    assert (await verify(client, token, attempt)).status == 200
    fields = PLAN | {"plan_instalments": "3"}
    readback = await (await dispose(client, token, attempt_id=attempt, **fields)).json()
    await dispose(
        client, token, attempt_id=attempt, **fields, plan_confirm=readback["confirm"]["value"]
    )
    # The first instalment is paid on time: kept, the hold moves to the second one.
    paid = tmp_path / "paid.csv"
    paid.write_text("external_ref,amount,paid_at\nMX-0001,4166.66,2026-12-01T10:00:00-06:00\n")
    import_payments(
        engine, paid, debtor_day=account_day, clock=lambda: datetime(2026, 12, 2, 12, tzinfo=UTC)
    )
    plans, promises = plans_and_promises(engine)
    assert [p.status for p in promises] == ["kept", "open", "open"]
    with transaction(engine) as session:
        held = session.get(Account, seed.account_id).next_attempt_at  # type: ignore[union-attr]
        # The day after the second instalment, begun in Mexico City (06:00 UTC).
        assert held == datetime(2027, 1, 2, 6, tzinfo=UTC)
    # The second passes its date with no payment: an import of anything breaks it.
    other = tmp_path / "other.csv"
    other.write_text("external_ref,amount,paid_at\nMX-0002,10.00,2027-01-05T10:00:00-06:00\n")
    later = datetime(2027, 1, 6, 12, tzinfo=UTC)
    import_payments(engine, other, debtor_day=account_day, clock=lambda: later)
    plans, promises = plans_and_promises(engine)
    assert [p.status for p in promises] == ["kept", "broken", "cancelled"]
    assert plans[0].status == "broken"
    with transaction(engine) as session:
        assert session.get(Account, seed.account_id).next_attempt_at == later  # type: ignore[union-attr]
        kinds = [json.loads(e.payload).get("action") for e in session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "payment_plan"))]  # fmt: skip
        assert kinds == ["broken"]


async def test_given_plan_outcome_with_bad_fields_then_400_per_field_and_nothing_saved(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token, attempt = await on_call(client, engine, aredis, seed)
    assert (await verify(client, token, attempt)).status == 200
    bad = {"plan_discount": "diez", "plan_instalments": "seis", "plan_first_date": "mañana"}
    resp = await dispose(client, token, attempt_id=attempt, **(PLAN | bad))
    assert resp.status == 400
    assert set((await resp.json())["errors"]) == set(bad)
    past = PLAN | {"plan_first_date": (NOW - timedelta(days=1)).date().isoformat()}
    resp = await preview(client, token, attempt_id=attempt, **past)
    assert "plan_first_date" in (await resp.json())["errors"]
    assert plans_and_promises(engine) == ([], [])


async def test_given_supervisor_of_another_campaign_then_plan_neither_listed_nor_decided(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token, attempt = await on_call(client, engine, aredis, seed)
    assert (await verify(client, token, attempt)).status == 200
    fields = PLAN | {"plan_instalments": "1", "plan_discount": "15"}
    readback = await (await dispose(client, token, attempt_id=attempt, **fields)).json()
    await dispose(
        client, token, attempt_id=attempt, **fields, plan_confirm=readback["confirm"]["value"]
    )
    plans, _ = plans_and_promises(engine)
    with transaction(engine) as session:
        other = Campaign(name="co-otra", country="CO", profile="CO")
        session.add(other)
        session.flush()
        sofia = session.get(User, seed.users["sofia"])
        assert sofia is not None
        sofia.campaign_id = other.id
    sup = await login(client, "sofia")
    page = await (await client.get("/supervisor")).text()
    assert "Ningún plan espera aprobación." in page and "María López" not in page
    resp = await client.post(f"/supervisor/plans/{plans[0].id}",
                             data={"_csrf": sup, "action": "approve"}, allow_redirects=False)  # fmt: skip
    assert resp.status == 404
    assert [p.status for p in plans_and_promises(engine)[0]] == ["pending"]
