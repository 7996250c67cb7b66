"""ComplianceService.final_check on real SQL + Redis, for a message: the rules, the
channel's caps checked and the attempt counted atomically, the decision and its audit
entry written whatever the answer; what one channel counted binds the others."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import redis.asyncio as aioredis
from compliance_helpers import make_account
from sqlalchemy import Engine, select

from compliance.service import ComplianceService
from store.db import transaction
from store.models import AuditEntry, Decision

TUESDAY_NOON_CO = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)
CO_PHONE = "+573001234567"


def _co(engine: Engine) -> None:
    make_account(engine, "CO-1", country="CO", region="DC",
                 phones=[{"number_e164": CO_PHONE, "channels": "call,sms,whatsapp"}],
                 email="juana@example.com", email_consent=True,
                 email_consent_ref="form-email-1")  # fmt: skip


async def test_given_co_sms_passed_final_check_when_call_then_contact_cap_day(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    _co(engine)
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        sms = service.load_item(session, account_ref="CO-1", channel="sms", phone_e164=CO_PHONE)
        call = service.load_item(session, account_ref="CO-1", phone_e164=CO_PHONE)
        email = service.load_item(session, account_ref="CO-1", channel="email")
    decision, decision_id = await service.final_check(sms, TUESDAY_NOON_CO, "a:501",
                                                      actor="outreach")  # fmt: skip
    assert decision.allowed and decision.channel == "sms"
    # Counted in Redis at once (no SQL attempt row needed): no other contact today.
    later = TUESDAY_NOON_CO.replace(hour=19)
    assert [d.reasons for d in await service.evaluate_batch([call, email], later)] == [
        ("contact_cap_day",),
        ("contact_cap_day",),
    ]
    again, again_id = await service.final_check(sms, later, "a:502", actor="outreach")
    assert not again.allowed and again.reasons == ("contact_cap_day",)
    with transaction(engine) as session:
        rows = session.execute(select(Decision).order_by(Decision.id)).scalars().all()
        entries = session.execute(
            select(AuditEntry).where(AuditEntry.kind == "decision").order_by(AuditEntry.id)
        ).scalars().all()  # fmt: skip
    assert [(r.id, r.channel, r.stage, r.allowed) for r in rows] == [
        (decision_id, "sms", "send", True),
        (again_id, "sms", "send", False),
    ]
    payloads = [json.loads(e.payload) for e in entries]
    assert [(p["channel"], p["allowed"], p["phone"]) for p in payloads] == [
        ("sms", True, CO_PHONE),
        ("sms", False, CO_PHONE),
    ]
    assert entries[0].actor == "outreach"


async def test_given_two_senders_at_once_when_final_check_then_only_one_passes_the_cap(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    make_account(engine, phones=[{"number_e164": "+525512345678", "channels": "call,sms"}])
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        item = service.load_item(session, account_ref="ACC-1", channel="sms",
                                 phone_e164="+525512345678")  # fmt: skip
    at = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)
    from dataclasses import replace

    # No registry imported: make the profile registry-free for this test of the caps.
    item = replace(item, profile=replace(item.profile, registries=()))
    results = await asyncio.gather(
        *(service.final_check(item, at, f"a:{900 + i}") for i in range(5))
    )
    allowed = [d for d, _ in results if d.allowed]
    assert len(allowed) == 2  # MX: at most 2 SMS a day
    assert {d.reasons for d, _ in results if not d.allowed} == {("attempt_cap_day",)}


async def test_given_no_redis_when_final_check_then_blocked_and_recorded(engine: Engine) -> None:
    _co(engine)
    service = ComplianceService(engine, None)
    with transaction(engine) as session:
        item = service.load_item(session, account_ref="CO-1", channel="email")
    decision, decision_id = await service.final_check(item, TUESDAY_NOON_CO, "a:7")
    assert not decision.allowed
    with transaction(engine) as session:
        row = session.get(Decision, decision_id)
        assert row is not None and (row.channel, row.address, row.allowed) == (
            "email",
            "juana@example.com",
            False,
        )


async def test_given_sms_written_to_sql_after_counters_loaded_when_call_final_check_then_cap_day(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    # The outreach scheduler writes its message attempts in SQL; the dialer's final
    # check of a call re-reads them even when Redis already holds the account.
    from store.models import CallAttempt

    _co(engine)
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        call = service.load_item(session, account_ref="CO-1", phone_e164=CO_PHONE)
    assert service.caps is not None
    assert (await service.evaluate_batch([call], TUESDAY_NOON_CO))[0].allowed  # loads Redis
    with transaction(engine) as session:
        session.add(CallAttempt(account_id=call.account.id, phone_e164=CO_PHONE, channel="sms",
                                started_at=TUESDAY_NOON_CO.replace(hour=15), result="sent"))  # fmt: skip
    decision, _ = await service.final_check(call, TUESDAY_NOON_CO, "a:9001", stage="originate")
    assert not decision.allowed and decision.reasons == ("contact_cap_day",)


async def test_given_sms_written_to_sql_after_counters_loaded_when_email_batch_then_cap_day(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    # The scheduler's batch of messages sees what another process wrote only to SQL;
    # a batch of calls (the dialer's refill) reads Redis alone, as before.
    from store.models import CallAttempt

    _co(engine)
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        email = service.load_item(session, account_ref="CO-1", channel="email")
        call = service.load_item(session, account_ref="CO-1", phone_e164=CO_PHONE)
    assert (await service.evaluate_batch([email], TUESDAY_NOON_CO))[0].allowed  # loads Redis
    with transaction(engine) as session:
        session.add(CallAttempt(account_id=email.account.id, phone_e164=CO_PHONE, channel="sms",
                                started_at=TUESDAY_NOON_CO.replace(hour=15), result="sent"))  # fmt: skip
    [decision] = await service.evaluate_batch([email], TUESDAY_NOON_CO)
    assert decision.reasons == ("contact_cap_day",)
    # Now merged into Redis, the dialer's hopper check of a call sees it too.
    assert (await service.evaluate_batch([call], TUESDAY_NOON_CO))[0].reasons == (
        "contact_cap_day",
    )


async def test_given_sql_history_unreadable_when_message_batch_then_caps_fail_closed(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    _co(engine)
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        email = service.load_item(session, account_ref="CO-1", channel="email")
    assert (await service.evaluate_batch([email], TUESDAY_NOON_CO))[0].allowed
    assert service.caps is not None

    def broken(account_ids: object, since: object) -> None:
        raise ConnectionError("database gone")

    service.caps.loader = broken  # type: ignore[assignment]
    [decision] = await service.evaluate_batch([email], TUESDAY_NOON_CO)
    assert set(decision.reasons) == {"contact_cap_day", "channel_cap_week"}


# As long as an account's postal address may be (store/importing/account_rows.py).
POSTAL = ("Jr. Lampa 123, Cercado de Lima, " * 10)[:299] + "Z"


async def test_given_a_letter_when_final_check_then_the_decision_and_audit_name_the_postal_address(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    make_account(engine, "PE-1", country="PE", region="LIM", address=POSTAL,
                 phones=[{"number_e164": "+51912345678"}])  # fmt: skip
    make_account(engine, "PE-2", country="PE", region="LIM", address="   ",
                 phones=[{"number_e164": "+51912345679"}])  # fmt: skip
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        letter = service.load_item(session, account_ref="PE-1", channel="letter")
        nowhere = service.load_item(session, account_ref="PE-2", channel="letter")
    decision, decision_id = await service.final_check(letter, TUESDAY_NOON_CO, "a:31")
    refused, refused_id = await service.final_check(nowhere, TUESDAY_NOON_CO, "a:32")
    assert decision.allowed and (refused.allowed, refused.reasons) == (False, ("no_address",))
    with transaction(engine) as session:
        rows = {r.id: (r.channel, r.address, r.phone_e164)
                for r in session.execute(select(Decision)).scalars()}  # fmt: skip
        entries = session.execute(
            select(AuditEntry).where(AuditEntry.kind == "decision").order_by(AuditEntry.id)
        ).scalars().all()  # fmt: skip
    assert len(POSTAL) == 300
    assert rows == {decision_id: ("letter", POSTAL, None), refused_id: ("letter", None, None)}
    payloads = {p["decision_id"]: p for p in (json.loads(e.payload) for e in entries)}
    assert (payloads[decision_id]["channel"], payloads[decision_id]["address"]) == (
        "letter", POSTAL)  # fmt: skip
    assert payloads[refused_id]["address"] is None


async def test_given_an_sms_when_recorded_then_no_address_beside_the_number(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    _co(engine)
    make_account(engine, "CO-2", country="CO", region="DC", address="Calle 1 # 2-3",
                 phones=[{"number_e164": "+573001234568", "channels": "call,sms"}])  # fmt: skip
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        sms = service.load_item(session, account_ref="CO-2", channel="sms",
                                phone_e164="+573001234568")  # fmt: skip
    _, decision_id = await service.final_check(sms, TUESDAY_NOON_CO, "a:33")
    with transaction(engine) as session:
        row = session.get(Decision, decision_id)
        assert row is not None and (row.phone_e164, row.address) == ("+573001234568", None)
