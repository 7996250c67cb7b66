"""An agent's disposition "no desea recibir mensajes": the debtor's messages stop
(SMS and WhatsApp at the number called, the account's e-mail) with the disposition as
evidence; calls go on; a third party cannot ask it for the debtor."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login, make_attempt
from sqlalchemy import Engine, select, update

from store.db import transaction
from store.models import Account, AuditEntry, ContactOptOut, Disposition, Phone


async def dispose(client: TestClient, token: str, **fields: object):  # type: ignore[no-untyped-def]
    return await client.post("/api/agent/disposition", json=fields, headers={"X-CSRF-Token": token})


async def test_given_debtor_asks_no_messages_when_disposed_then_message_channels_opted_out(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    with transaction(engine) as s:
        s.execute(update(Account).where(Account.id == seed.account_id)
                  .values(email="maria@example.mx", email_consent=True, email_consent_ref="F-1"))  # fmt: skip
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    resp = await dispose(client, token, attempt_id=attempt, party="titular", outcome="no_mensajes")
    assert resp.status == 200, await resp.text()
    with transaction(engine) as s:
        disposition = s.execute(select(Disposition)).scalar_one()
        rows = s.execute(select(ContactOptOut).order_by(ContactOptOut.id)).scalars().all()
        phone = s.get(Phone, seed.phone_id)
        account = s.get(Account, seed.account_id)
        assert phone is not None and account is not None
        assert [(r.channel, r.source) for r in rows] == [
            ("sms", "agent"),
            ("whatsapp", "agent"),
            ("email", "agent"),
        ]
        assert rows[0].address == phone.number_e164 and rows[2].address == "maria@example.mx"
        assert all(r.evidence == {"disposition_id": disposition.id, "attempt_id": attempt}
                   for r in rows)  # fmt: skip
        assert phone.opted_out == "sms,whatsapp" and account.opted_out == "email"
        assert account.status == "active"  # calls go on
        kinds = s.execute(select(AuditEntry.kind)).scalars().all()
        assert kinds.count("opt_out") == 3 and "disposition" in kinds


async def test_given_a_third_party_says_no_messages_then_nothing_is_opted_out(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    resp = await dispose(client, token, attempt_id=attempt, party="tercero", outcome="no_mensajes")
    assert resp.status == 400
    with transaction(engine) as s:
        assert s.execute(select(ContactOptOut)).first() is None
