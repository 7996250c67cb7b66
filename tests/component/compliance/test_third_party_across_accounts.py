"""A number marked as a third party's on one account reaches that third party from every
account that lists it: the debtor's card and loan both carry the number the creditor
was given, the supervisor marks it on the card (the debtor's mother answers), and the
loan must not call or text her either. Read from SQL at every check (a flushed Redis
changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis
from compliance_helpers import make_account
from sqlalchemy import Engine

from compliance.protection import mark_third_party_number
from compliance.service import ComplianceService
from store.db import transaction

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
