"""One debtor, several accounts: the accounts that share a number reach the same
person, so the caps count their attempts and contacts together (RULES.md: caps
are per debtor), on real SQL and Redis, rebuilt from SQL after a flush."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from compliance_helpers import make_account
from sqlalchemy import Engine

from compliance.debtor_accounts import MAX_PER_NUMBER, accounts_sharing_numbers
from compliance.service import ComplianceService
from store.db import transaction
from store.models import CallAttempt

NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)  # Tuesday 13:00 in Lima
NUMBER = "+51912345678"


def peruvian(engine: Engine, ref: str, *numbers: str) -> int:
    return make_account(engine, ref, country="PE", region=None,
                        phones=[{"number_e164": n} for n in numbers])  # fmt: skip


def attempts_in_sql(engine: Engine, account_id: int, *, count: int, contact: bool = False) -> None:
    with transaction(engine) as session:
        for i in range(count):
            session.add(CallAttempt(
                account_id=account_id, phone_e164=NUMBER, channel="call", direction="outbound",
                started_at=NOW - timedelta(hours=2 + i), result="contact" if contact else "no_answer",
                right_party_contact=contact,
            ))  # fmt: skip


async def reasons(service: ComplianceService, ref: str, number: str = NUMBER) -> tuple[str, ...]:
    with transaction(service.sql) as session:
        item = service.load_item(session, account_ref=ref, phone_e164=number)
    return (await service.evaluate_batch([item], NOW))[0].reasons


async def test_given_two_debts_of_one_number_when_the_first_used_the_days_attempts_then_the_second_is_capped(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    peruvian(engine, "PE-1", NUMBER)
    peruvian(engine, "PE-2", NUMBER, "+51987654321")
    peruvian(engine, "PE-3", "+51911112222")  # another person
    service = ComplianceService(engine, aredis)
    assert await reasons(service, "PE-2") == ()
    with transaction(engine) as session:
        item = service.load_item(session, account_ref="PE-1", phone_e164=NUMBER)
    for n in range(3):  # PE: 3 attempts per debtor per rolling 24 h
        decision, _ = await service.final_check(
            item, NOW - timedelta(minutes=3 - n), f"a:{900 + n}"
        )
        assert decision.allowed
    # The second debt's other number reaches the same person too.
    assert await reasons(service, "PE-2") == ("attempt_cap_day",)
    assert await reasons(service, "PE-2", "+51987654321") == ("attempt_cap_day",)
    assert await reasons(service, "PE-3", "+51911112222") == ()


async def test_given_a_conversation_on_one_debt_in_sql_only_when_the_other_is_checked_then_contact_cap(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    first = peruvian(engine, "PE-1", NUMBER)
    peruvian(engine, "PE-2", NUMBER)
    attempts_in_sql(engine, first, count=1, contact=True)
    await aredis.flushdb()  # Redis lost: the counters come back from SQL
    service = ComplianceService(engine, aredis)
    assert "contact_cap_week" in await reasons(service, "PE-2")


async def test_given_attempts_in_sql_and_a_flushed_redis_when_the_other_debt_is_checked_then_rebuilt_and_capped(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    first = peruvian(engine, "PE-1", NUMBER)
    peruvian(engine, "PE-2", NUMBER)
    attempts_in_sql(engine, first, count=3)
    await aredis.flushdb()
    service = ComplianceService(engine, aredis)
    assert await reasons(service, "PE-2") == ("attempt_cap_day",)


def test_given_a_number_on_many_accounts_when_linked_then_bounded(engine: Engine) -> None:
    ids = [peruvian(engine, f"PE-{i}", NUMBER) for i in range(MAX_PER_NUMBER + 5)]
    linked = accounts_sharing_numbers(engine, {ids[0]: (NUMBER,), ids[-1]: (NUMBER,)})
    assert len(linked[ids[0]]) <= MAX_PER_NUMBER
    assert ids[0] not in linked[ids[0]] and linked[ids[0]][0] == ids[1]


async def test_given_two_dialers_when_final_checks_of_two_linked_accounts_race_then_only_one_passes(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    first = peruvian(engine, "PE-1", NUMBER)
    second = peruvian(engine, "PE-2", NUMBER)
    attempts_in_sql(engine, first, count=2)  # PE: 3 attempts per debtor per 24 h; 2 used
    # Two dialer processes: their own service, their own Redis connection.
    dialers = [ComplianceService(engine, aredis), ComplianceService(engine, aredis.client())]
    with transaction(engine) as session:
        items = [dialers[0].load_item(session, account_ref="PE-1", phone_e164=NUMBER),
                 dialers[1].load_item(session, account_ref="PE-2", phone_e164=NUMBER)]  # fmt: skip
    # Both pass the batch check (two of three used): only the atomic count can hold one.
    assert [d.allowed for d in await dialers[0].evaluate_batch(items, NOW)] == [True, True]
    caps = [d.caps for d in dialers]
    assert caps[0] is not None and caps[1] is not None
    results = await asyncio.gather(
        caps[0].check_and_count(first, items[0].profile, NOW, "a:801"),
        caps[1].check_and_count(second, items[1].profile, NOW, "a:802"),
    )
    assert sorted(r.allowed for r in results) == [False, True]
    assert [r.reasons for r in results if not r.allowed] == [("attempt_cap_day",)]
    # Through the whole final check too (rules, count, decision row), twice more: none.
    decisions = await asyncio.gather(
        dialers[0].final_check(items[0], NOW + timedelta(seconds=1), "a:803"),
        dialers[1].final_check(items[1], NOW + timedelta(seconds=1), "a:804"),
    )
    assert [d.allowed for d, _ in decisions] == [False, False]


async def test_given_two_linked_accounts_when_both_final_checks_race_at_the_last_attempt_then_one(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    """The same race many times over, from a fresh (flushed) Redis each time: whichever
    runs first, one call passes."""
    first = peruvian(engine, "PE-1", NUMBER)
    second = peruvian(engine, "PE-2", NUMBER)
    attempts_in_sql(engine, second, count=2)
    services = [ComplianceService(engine, aredis), ComplianceService(engine, aredis.client())]
    with transaction(engine) as session:
        profile = services[0].load_item(session, account_ref="PE-1", phone_e164=NUMBER).profile
    for round_ in range(10):
        await aredis.flushall()
        caps = [s.caps for s in services]
        assert caps[0] is not None and caps[1] is not None
        order = [(caps[0], first), (caps[1], second)][:: 1 if round_ % 2 else -1]
        results = await asyncio.gather(*(
            c.check_and_count(a, profile, NOW, f"a:{700 + 2 * round_ + n}")
            for n, (c, a) in enumerate(order)
        ))  # fmt: skip
        assert sorted(r.allowed for r in results) == [False, True], round_
