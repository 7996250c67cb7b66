"""A supervisor marks a protected person (deceased, minor, insolvency) or a third
party's number from the console: stored in SQL, audited with who and the rule, the
dialer told to drop the account, the agent's pop says so before anything else; a
supervisor of another campaign and an agent may not."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Commands, Seed, login
from sqlalchemy import Engine, select
from support.polling import until
from test_supervisor_scope import tie

from console.agent_service import build_pop
from store.db import transaction
from store.models import Account, AuditEntry, Phone


def account(engine: Engine, account_id: int) -> Account:
    with transaction(engine) as session:
        row = session.get(Account, account_id)
        assert row is not None
        session.expunge(row)
        return row


def entries(engine: Engine, kind: str) -> list[AuditEntry]:
    with transaction(engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == kind).order_by(AuditEntry.id)
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


async def until_command(commands: Commands, kind: str) -> dict[str, object]:
    def found() -> list[dict[str, object]]:
        return [c for c in commands if c.get("type") == kind]

    await until(found, lambda: f"no {kind} command in {commands}")
    return found()[0]


async def test_given_supervisor_when_marking_deceased_then_stored_audited_stopped_and_shown(
    client: TestClient, engine: Engine, seed: Seed, commands: Commands
) -> None:
    token = await login(client, "sofia")
    page = await (await client.get("/supervisor")).text()
    assert "Personas protegidas" in page and 'value="deceased"' in page
    resp = await client.post(
        "/supervisor/protection",
        data={
            "_csrf": token,
            "account": "MX-0001",
            "protection": "deceased",
            "evidence": "ACTA-DEF-2026-77",
        },  # fmt: skip
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    assert "done=protected" in resp.headers["Location"]
    row = account(engine, seed.account_id)
    assert (row.protection, row.protection_ref, row.protection_at) == (
        "deceased", "ACTA-DEF-2026-77", NOW
    )  # fmt: skip
    (entry,) = entries(engine, "protection_change")
    payload = json.loads(entry.payload)
    assert entry.actor.endswith("sofia") and payload["source"] == "console"
    assert payload["reason"] == "debtor_deceased" and payload["was"] is None
    stop = await until_command(commands, "stop_account")
    assert (stop["account_id"], stop["reason"], stop["campaign"]) == (
        seed.account_id, "debtor_deceased", "mx-demo"
    )  # fmt: skip
    # The agent reads it on the pop, before anyone is verified.
    pop = build_pop(engine, seed.account_id, None, None, NOW, "test", audit=False)
    assert pop is not None and pop["protection"]["code"] == "debtor_deceased"
    assert pop["protection"]["label"] == "Deudor fallecido"
    other = build_pop(engine, seed.other_account_id, None, None, NOW, "test", audit=False)
    assert other is not None and other["protection"] is None
    # Cleared (say the certificate was another person's): audited, nothing to stop.
    resp = await client.post("/supervisor/protection", allow_redirects=False,
                             data={"_csrf": token, "account": "MX-0001", "protection": "none"})  # fmt: skip
    assert resp.status == 302
    assert account(engine, seed.account_id).protection is None
    assert len(entries(engine, "protection_change")) == 2


async def test_given_supervisor_when_marking_a_third_party_number_then_never_used(
    client: TestClient, engine: Engine, seed: Seed, commands: Commands
) -> None:
    token = await login(client, "sofia")
    resp = await client.post(
        "/supervisor/third-party-number",
        data={"_csrf": token, "account": "MX-0001", "number": "55 1234 0001"},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    with transaction(engine) as session:
        phone = session.get(Phone, seed.phone_id)
        assert phone is not None and phone.status == "third_party"
    (entry,) = entries(engine, "phone_status_change")
    assert json.loads(entry.payload)["was"] == "active"
    stop = await until_command(commands, "stop_account")
    assert stop["reason"] == "third_party"
    # A number the account does not have: 404, nothing written.
    resp = await client.post(
        "/supervisor/third-party-number",
        data={"_csrf": token, "account": "MX-0001", "number": "55 9999 0001"},
    )
    assert resp.status == 404
    assert len(entries(engine, "phone_status_change")) == 1


async def test_given_supervisor_of_another_campaign_or_an_agent_when_marking_then_refused(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    tie(engine, "sofia", "co-demo")
    token = await login(client, "sofia")
    data = {"_csrf": token, "account": "MX-0001", "protection": "minor"}
    resp = await client.post("/supervisor/protection", data=data)
    assert resp.status == 404  # as a reference of no campaign (test_console_attacks_scope)
    resp = await client.post("/supervisor/protection", data={**data, "protection": "quiebra"})
    assert resp.status == 400
    await client.post("/logout", data={"_csrf": token})
    token = await login(client, "ana")
    resp = await client.post("/supervisor/protection", data={**data, "_csrf": token},
                             allow_redirects=False)  # fmt: skip
    assert resp.status in (302, 403)
    assert account(engine, seed.account_id).protection is None
    assert entries(engine, "protection_change") == []
