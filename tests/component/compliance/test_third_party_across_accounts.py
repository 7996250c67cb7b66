"""A number marked as a third party's on one account reaches that third party from every
account that lists it: the debtor's card and loan both carry the number the creditor
was given, the supervisor marks it on the card (the debtor's mother answers), and the
loan must not call or text her either. Read from SQL at every check (a flushed Redis
changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from compliance_helpers import make_account
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.protection import ProtectionError, confirm_own_number, mark_third_party_number
from compliance.service import ComplianceService
from store.db import transaction
from store.models import Account, AuditEntry, Phone, matchable_phone

NOON_CO = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)  # Tuesday, noon in Bogotá
MOTHER, OWN = "+573209876543", "+573101234567"


async def test_given_a_number_marked_on_one_account_when_another_account_lists_it_then_third_party(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    phones = [{"number_e164": MOTHER, "channels": "call,sms,whatsapp"}]
    make_account(engine, "CARD", country="CO", region="DC", phones=phones)
    make_account(engine, "LOAN", country="CO", region="DC",
                 phones=[*phones, {"number_e164": OWN, "channels": "call,sms,whatsapp"}])  # fmt: skip
    service = ComplianceService(engine, aredis)

    def items() -> list:
        with transaction(engine) as session:
            return [service.load_item(session, account_ref="LOAN", phone_e164=number,
                                      channel=channel)
                    for number in (MOTHER, OWN) for channel in ("call", "sms", "whatsapp")]  # fmt: skip

    before = await service.evaluate_batch(items(), NOON_CO)
    assert [d.reasons for d in before] == [()] * 6
    with transaction(engine) as session:
        mark_third_party_number(session, "CARD", MOTHER, actor="sup1", now=NOON_CO)
    await aredis.flushall()
    after = await service.evaluate_batch(items(), NOON_CO)
    assert [d.reasons for d in after[:3]] == [("third_party",)] * 3  # the mother, any channel
    assert [d.reasons for d in after[3:]] == [()] * 3  # the debtor's own number
    mother_call = items()[0]
    decision, _ = await service.final_check(mother_call, NOON_CO, "a:501")
    assert not decision.allowed and decision.reasons == ("third_party",)


async def test_given_the_mothers_own_account_confirmed_then_her_number_is_hers_there_only(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    """Both directions: the mark on her son's card binds his loan that lists her number
    (not confirmed: unsure, fail closed) and her own account until the number is
    confirmed as hers there; then only her own account may reach her on it."""
    phones = [{"number_e164": MOTHER, "channels": "call,sms,whatsapp"}]
    make_account(engine, "CARD", country="CO", region="DC", phones=phones)
    make_account(engine, "LOAN", country="CO", region="DC", phones=phones)
    make_account(engine, "HERS", country="CO", region="DC", phones=phones)
    service = ComplianceService(engine, aredis)

    def decide(ref: str) -> Any:
        with transaction(engine) as session:
            item = service.load_item(session, account_ref=ref, phone_e164=MOTHER, channel="call")
        return service.evaluate_batch([item], NOON_CO)

    with transaction(engine) as session:
        mark_third_party_number(session, "CARD", MOTHER, actor="sup1", now=NOON_CO)
    assert [(await decide(r))[0].reasons for r in ("CARD", "LOAN", "HERS")] == [
        ("third_party",)
    ] * 3  # unsure whose it is on HERS: the mark binds
    with transaction(engine) as session:
        change = confirm_own_number(session, "HERS", MOTHER, "llamada-2026-01-12-verificada",
                                    actor="sup1", now=NOON_CO)  # fmt: skip
    assert change.changed
    assert [(await decide(r))[0].reasons for r in ("CARD", "LOAN", "HERS")] == [
        ("third_party",), ("third_party",), (),
    ]  # fmt: skip
    with transaction(engine) as session:
        item = service.load_item(session, account_ref="HERS", phone_e164=MOTHER, channel="call")
    decision, _ = await service.final_check(item, NOON_CO, "a:601")
    assert decision.allowed
    with transaction(engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "phone_owner_change")
        ).one()
        assert "llamada-2026-01-12-verificada" in entry.payload and MOTHER not in entry.payload
    # An inbound call from her number finds her own account, never her son's.
    with Session(engine) as session:
        matched = session.scalars(select(Phone.account_id).where(
            Phone.number_e164 == MOTHER, matchable_phone(MOTHER))).all()  # fmt: skip
    assert matched == [account_id(engine, "HERS")]
    # Ending the confirmation: the mark binds her account again.
    with transaction(engine) as session:
        confirm_own_number(session, "HERS", MOTHER, None, actor="sup1", now=NOON_CO)
    assert (await decide("HERS"))[0].reasons == ("third_party",)


async def test_given_a_confirmation_when_marks_are_unreadable_or_it_is_marked_here_then_refused(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    phones = [{"number_e164": MOTHER, "channels": "call,sms,whatsapp"}]
    make_account(engine, "CARD", country="CO", region="DC", phones=phones)
    with transaction(engine) as session:
        mark_third_party_number(session, "CARD", MOTHER, actor="sup1", now=NOON_CO)
        with pytest.raises(ProtectionError, match="clear that mark first"):
            confirm_own_number(session, "CARD", MOTHER, "contrato", actor="sup1", now=NOON_CO)
        with pytest.raises(ProtectionError, match="longer"):
            confirm_own_number(session, "CARD", MOTHER, "x" * 500, actor="sup1", now=NOON_CO)
        with pytest.raises(LookupError):
            confirm_own_number(session, "CARD", OWN, "contrato", actor="sup1", now=NOON_CO)


def account_id(engine: Engine, ref: str) -> int:
    with Session(engine) as session:
        found = session.scalar(select(Account.id).where(Account.external_ref == ref))
        assert found is not None
        return int(found)
