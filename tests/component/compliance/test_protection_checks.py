"""A protected person in SQL (compliance/protection.py) blocks the final check of every
channel, in every process at its next check (facts are read from SQL, never from a
Redis copy: a flushed Redis changes nothing); set_protection audits the change."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import redis.asyncio as aioredis
from compliance_helpers import make_account
from sqlalchemy import Engine, select

from compliance.protection import set_protection
from compliance.service import ComplianceService
from store.db import transaction
from store.models import Account, AuditEntry

TUESDAY_NOON_CO = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)
CO_PHONE = "+573001234567"


async def test_given_debtor_in_insolvency_when_final_check_on_every_channel_then_blocked(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    account_id = make_account(
        engine, "CO-1", country="CO", region="DC",
        phones=[{"number_e164": CO_PHONE, "channels": "call,sms,whatsapp"}],
        email="juana@example.com", email_consent=True, email_consent_ref="form-email-1",
        visit_authorisation_ref="micro-1",
    )  # fmt: skip
    service = ComplianceService(engine, aredis)

    def items() -> list:
        with transaction(engine) as session:
            return [
                service.load_item(
                    session,
                    account_ref="CO-1",
                    channel=channel,
                    phone_e164=CO_PHONE if channel in ("call", "sms", "whatsapp") else None,
                )  # fmt: skip
                for channel in ("call", "sms", "whatsapp", "email", "visit")
            ]

    before = await service.evaluate_batch(items(), TUESDAY_NOON_CO)
    assert [d.reasons for d in before] == [()] * 5  # every channel open before
    with transaction(engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        assert set_protection(session, account, "insolvency", "RAD-11001-2026", actor="sup1",
                              source="console", now=TUESDAY_NOON_CO)  # fmt: skip
        # The same again changes nothing and writes nothing.
        assert not set_protection(session, account, "insolvency", "RAD-11001-2026",
                                  actor="sup1", source="console", now=TUESDAY_NOON_CO)  # fmt: skip
    await aredis.flushall()  # Redis holds no copy of it: nothing to lose
    for n, item in enumerate(items()):
        decision, _ = await service.final_check(item, TUESDAY_NOON_CO, f"a:{900 + n}")
        assert not decision.allowed, item.channel
        assert decision.reasons == ("insolvency_proceeding",), item.channel
    with transaction(engine) as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.kind == "protection_change")).all()  # fmt: skip
        decisions = [json.loads(e.payload) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "decision"))]  # fmt: skip
    assert len(entries) == 1 and entries[0].actor == "sup1"
    payload = json.loads(entries[0].payload)
    assert payload["protection"] == "insolvency" and payload["was"] is None
    assert payload["reason"] == "insolvency_proceeding" and "Ley 1116" in payload["rule"]
    assert {d["channel"] for d in decisions} == {"call", "sms", "whatsapp", "email", "visit"}
    assert all(d["reasons"] == ["insolvency_proceeding"] for d in decisions)


async def test_given_a_protected_debtor_on_one_account_when_the_other_shares_a_number_then_blocked(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    """The creditor marked one debt of the person (the card) deceased; the loan reaches
    the same person through the same number: blocked with the same reason."""
    card = make_account(engine, "MX-CARD", phones=[{"number_e164": "+525512345678"}])
    make_account(engine, "MX-LOAN", phones=[{"number_e164": "+525512345678"}])
    make_account(engine, "MX-OTHER", phones=[{"number_e164": "+525587654321"}])
    service = ComplianceService(engine, aredis)
    noon = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)

    def item(ref: str, number: str = "+525512345678"):  # type: ignore[no-untyped-def]
        with transaction(engine) as session:
            return service.load_item(session, account_ref=ref, phone_e164=number)

    with transaction(engine) as session:
        account = session.get(Account, card)
        assert account is not None
        set_protection(session, account, "deceased", "ACTA-1", actor="sup1", source="console",
                       now=noon)  # fmt: skip
    loan, other = item("MX-LOAN"), item("MX-OTHER", "+525587654321")
    decisions = await service.evaluate_batch([loan, other], noon)
    # (No REUS loaded in this test: both are also registry_unavailable.)
    assert ["debtor_deceased" in d.reasons for d in decisions] == [True, False]
    decision, _ = await service.final_check(loan, noon, "a:77")
    assert not decision.allowed and "debtor_deceased" in decision.reasons
