"""A number the carrier twice said does not exist (store/number_validity.py): the
agent reads on the account page that it is marked invalid, since when and why; the
supervisor sees it listed and reactivates it with a reason, audited. Bad requests:
an unknown id, another campaign's number, no reason, a reason too long, no CSRF."""

from __future__ import annotations

import json
from datetime import timedelta

from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine, select
from test_supervisor_scope import tie

from console.agent_service import build_pop
from console.i18n import activate
from store.db import transaction
from store.models import AuditEntry, Phone

MARKED_AT = NOW - timedelta(days=1)


def mark_dead(engine: Engine, phone_id: int) -> None:
    """As the rule leaves it (attempts 11 and 12 the proof)."""
    with transaction(engine) as session:
        phone = session.get(Phone, phone_id)
        assert phone is not None
        phone.status = "invalid"
        phone.status_reason = "carrier_no_such_number"
        phone.status_at = MARKED_AT
        phone.status_evidence = {"attempt_ids": [11, 12]}


def phone(engine: Engine, phone_id: int) -> Phone:
    with transaction(engine) as session:
        row = session.get(Phone, phone_id)
        assert row is not None
        session.expunge(row)
        return row


def changes(engine: Engine) -> list[AuditEntry]:
    with transaction(engine) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.kind == "phone_status_change")
            .order_by(AuditEntry.id)
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def test_given_a_marked_number_when_the_agent_opens_the_account_then_it_says_since_when_and_why(
    engine: Engine, seed: Seed
) -> None:
    mark_dead(engine, seed.phone_id)
    pop = build_pop(engine, seed.account_id, None, None, NOW, "test", audit=False)
    assert pop is not None
    [note] = [p for p in pop["phones"] if p["id"] == seed.phone_id]
    assert note["status"] == "invalid" and note["dialable"] is False
    assert note["status_label"] == "Número inválido: no se marca"
    assert "dos veces" in note["why"] and "24 horas" in note["why"]
    # The debtor's clock, its zone named (the account is in Mexico City).
    assert note["since"].endswith("(Ciudad de México)")
    assert note["attempt_ids"] == [11, 12]
    assert "1234" not in note["masked"][:-4]  # masked
    assert pop["no_number_left"] is True  # the seeded account has no other number
    activate("en")
    try:
        pop = build_pop(engine, seed.account_id, None, None, NOW, "test", audit=False)
        assert pop is not None
        [note] = [p for p in pop["phones"] if p["id"] == seed.phone_id]
        assert note["status_label"] == "Invalid number: not dialed"
        assert "twice" in note["why"]
    finally:
        activate("es")


async def test_given_supervisor_when_reactivating_with_a_reason_then_active_and_audited(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    mark_dead(engine, seed.phone_id)
    token = await login(client, "sofia")
    page = await (await client.get("/supervisor?campaign=mx-demo")).text()
    assert "Números marcados inválidos" in page
    assert f"/supervisor/phones/{seed.phone_id}/reactivate" in page
    resp = await client.post(
        f"/supervisor/phones/{seed.phone_id}/reactivate?campaign=mx-demo",
        data={"_csrf": token, "reason": "El deudor lo confirmó por WhatsApp  como suyo"},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    assert "done=reactivated" in resp.headers["Location"]
    row = phone(engine, seed.phone_id)
    assert (row.status, row.status_reason, row.status_at) == ("active", "reactivated", NOW)
    assert row.status_evidence is not None
    assert row.status_evidence["reason"] == "El deudor lo confirmó por WhatsApp como suyo"
    assert row.status_evidence["was_reason"] == "carrier_no_such_number"
    (entry,) = changes(engine)
    payload = json.loads(entry.payload)
    assert entry.actor.endswith("sofia")
    assert (payload["status"], payload["was"], payload["reason"]) == (
        "active", "invalid", "reactivated"
    )  # fmt: skip
    assert payload["why"] == "El deudor lo confirmó por WhatsApp como suyo"
    # The agent reads who brought it back and why.
    pop = build_pop(engine, seed.account_id, None, None, NOW, "test", audit=False)
    assert pop is not None
    [note] = [p for p in pop["phones"] if p["id"] == seed.phone_id]
    assert note["dialable"] and "WhatsApp" in note["why"]
    # Again: the number is active, nothing changes, nothing is written.
    resp = await client.post(
        f"/supervisor/phones/{seed.phone_id}/reactivate",
        data={"_csrf": token, "reason": "otra vez"},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert len(changes(engine)) == 1


async def test_given_bad_reactivations_then_each_is_refused_and_nothing_changes(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    mark_dead(engine, seed.phone_id)
    token = await login(client, "sofia")
    url = f"/supervisor/phones/{seed.phone_id}/reactivate"
    for reason in ("", "   ", "x" * 301):
        resp = await client.post(url, data={"_csrf": token, "reason": reason})
        assert resp.status == 400, reason
        assert "motivo" in await resp.text()
    missing = await client.post(url, data={"_csrf": token})
    assert missing.status == 400
    for bad in ("999999", "0", "abc", "-1", "9" * 30):
        resp = await client.post(f"/supervisor/phones/{bad}/reactivate",
                                 data={"_csrf": token, "reason": "ok"})  # fmt: skip
        assert resp.status == 404, bad
    no_csrf = await client.post(url, data={"reason": "ok"}, allow_redirects=False)
    assert no_csrf.status == 403
    assert phone(engine, seed.phone_id).status == "invalid"
    assert changes(engine) == []


async def test_given_a_supervisor_of_another_campaign_or_an_agent_when_reactivating_then_refused(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    mark_dead(engine, seed.phone_id)
    tie(engine, "sofia", "co-demo")
    token = await login(client, "sofia")
    url = f"/supervisor/phones/{seed.phone_id}/reactivate"
    resp = await client.post(url, data={"_csrf": token, "reason": "confirmado"})
    assert resp.status == 404  # as a number that does not exist
    await client.post("/logout", data={"_csrf": token})
    token = await login(client, "ana")
    resp = await client.post(url, data={"_csrf": token, "reason": "confirmado"},
                             allow_redirects=False)  # fmt: skip
    assert resp.status in (302, 403)
    assert phone(engine, seed.phone_id).status == "invalid"
    assert changes(engine) == []


async def test_given_a_number_that_is_not_invalid_when_reactivated_then_its_status_stays(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    """A wrong number or a third party's is undone elsewhere, never by this button."""
    with transaction(engine) as session:
        row = session.get(Phone, seed.phone_id)
        assert row is not None
        row.status = "wrong_number"
    token = await login(client, "sofia")
    resp = await client.post(f"/supervisor/phones/{seed.phone_id}/reactivate",
                             data={"_csrf": token, "reason": "confirmado"},
                             allow_redirects=False)  # fmt: skip
    assert resp.status == 302
    assert phone(engine, seed.phone_id).status == "wrong_number"
    assert changes(engine) == []
