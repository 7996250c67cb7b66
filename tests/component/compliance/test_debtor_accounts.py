"""One debtor, several accounts: the accounts that share a number reach the same
person, so the caps count their attempts and contacts together (RULES.md: caps
are per debtor), on real SQL and Redis, rebuilt from SQL after a flush."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from compliance_helpers import make_account
from sqlalchemy import Engine

from compliance.debtor_accounts import (
    MAX_PER_NUMBER,
    accounts_counted_together,
    accounts_sharing_numbers,
    cap_linked_accounts,
    linked_accounts,
    linked_protection,
)
from compliance.protection import confirm_own_number, mark_third_party_number
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


# A third party's number on two debtors' accounts does not make them one person.
# Linked wrongly, a contact with one debtor stops the other's calls and one's protection
# (deceased) is written on the other's decisions; not linked when they are one person,
# the debtor's caps are counted apart. Both directions, below.
OWN_A, OWN_B, NEIGHBOUR = "+51911110001", "+51922220002", "+51933330003"


def mark(engine: Engine, ref: str, number: str) -> None:
    with transaction(engine) as session:
        mark_third_party_number(session, ref, number, actor="sup1", now=NOW)


async def test_given_a_neighbours_number_on_two_debtors_when_marked_then_their_caps_are_apart(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    first = peruvian(engine, "PE-A", OWN_A, NEIGHBOUR)
    second = peruvian(engine, "PE-B", OWN_B, NEIGHBOUR)
    # Unmarked, the creditor gave the number as both debtors': one person, as before.
    assert accounts_sharing_numbers(engine, {first: (OWN_A, NEIGHBOUR)})[first] == (second,)
    mark(engine, "PE-A", NEIGHBOUR)
    assert accounts_sharing_numbers(
        engine, {first: (OWN_A, NEIGHBOUR), second: (OWN_B, NEIGHBOUR)}
    ) == {first: (), second: ()}
    assert linked_accounts(engine, first) == () and linked_accounts(engine, second) == ()
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        item = service.load_item(session, account_ref="PE-A", phone_e164=OWN_A)
    for n in range(3):  # the first debtor's day of attempts (PE: 3 per 24 h)
        decision, _ = await service.final_check(item, NOW - timedelta(minutes=3 - n), f"a:{n}")
        assert decision.allowed
    assert await reasons(service, "PE-A", OWN_A) == ("attempt_cap_day",)
    assert await reasons(service, "PE-B", OWN_B) == ()  # another person, her own caps
    with transaction(engine) as session:
        other = service.load_item(session, account_ref="PE-B", phone_e164=OWN_B)
    decision, _ = await service.final_check(other, NOW, "a:9")
    assert decision.allowed
    # The neighbour is reached from neither account.
    assert await reasons(service, "PE-B", NEIGHBOUR) == ("third_party",)


async def test_given_a_marked_number_when_the_debtors_own_number_is_shared_then_still_one_person(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    card = peruvian(engine, "PE-CARD", OWN_A, NEIGHBOUR)
    loan = peruvian(engine, "PE-LOAN", OWN_A)
    peruvian(engine, "PE-OTHER", OWN_B, NEIGHBOUR)
    mark(engine, "PE-CARD", NEIGHBOUR)
    assert linked_accounts(engine, card) == (loan,)
    assert linked_accounts(engine, loan) == (card,)
    attempts_in_sql(engine, card, count=3)
    service = ComplianceService(engine, aredis)
    assert await reasons(service, "PE-LOAN", OWN_A) == ("attempt_cap_day",)
    assert await reasons(service, "PE-OTHER", OWN_B) == ()


async def test_given_a_deceased_debtor_when_only_a_marked_number_is_shared_then_no_protection_passes(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    dead = make_account(engine, "PE-DEAD", country="PE", region=None, protection="deceased",
                        phones=[{"number_e164": OWN_A}, {"number_e164": NEIGHBOUR}])  # fmt: skip
    alive = peruvian(engine, "PE-ALIVE", OWN_B, NEIGHBOUR)
    same = peruvian(engine, "PE-SAME", OWN_A)  # the deceased debtor's other loan
    mark(engine, "PE-ALIVE", NEIGHBOUR)
    service = ComplianceService(engine, aredis)
    assert await reasons(service, "PE-ALIVE", OWN_B) == ()
    assert "debtor_deceased" in await reasons(service, "PE-SAME", OWN_A)
    # The field visit check reads the same links.
    assert linked_protection(engine, alive, (OWN_B, NEIGHBOUR)) is None
    assert linked_protection(engine, same, (OWN_A,)) == "deceased"
    assert linked_accounts(engine, dead) == (same,)


def test_given_a_number_marked_elsewhere_when_confirmed_as_the_mothers_own_then_her_loans_link(
    engine: Engine,
) -> None:
    """Her son's card marks her number; her two loans list it. Unconfirmed, the mark
    binds them (it is the number's): the number is no evidence that they are one
    person. Confirmed as hers on both, it links them, and never her son's card."""
    card = peruvian(engine, "PE-CARD", OWN_A, NEIGHBOUR)
    hers = peruvian(engine, "PE-HERS", NEIGHBOUR)
    second = peruvian(engine, "PE-HERS-2", NEIGHBOUR)
    mark(engine, "PE-CARD", NEIGHBOUR)
    assert [linked_accounts(engine, a) for a in (card, hers, second)] == [(), (), ()]
    # Her caps still count both loans (the safe side), never her son's card.
    assert [cap_linked_accounts(engine, a) for a in (card, hers, second)] == [
        (),
        (second,),
        (hers,),
    ]
    with transaction(engine) as session:
        confirm_own_number(session, "PE-HERS", NEIGHBOUR, "llamada-verificada", actor="sup1",
                           now=NOW)  # fmt: skip
    assert linked_accounts(engine, hers) == ()  # one confirmed row: nobody to link to
    with transaction(engine) as session:
        confirm_own_number(session, "PE-HERS-2", NEIGHBOUR, "contrato-2", actor="sup1", now=NOW)
    assert [linked_accounts(engine, a) for a in (card, hers, second)] == [(), (second,), (hers,)]


def test_given_a_wrong_number_or_a_reference_on_one_account_then_it_links_nothing(
    engine: Engine,
) -> None:
    first = make_account(engine, "PE-1", country="PE", region=None, phones=[
        {"number_e164": OWN_A, "status": "wrong_number"},
        {"number_e164": OWN_B, "phone_type": "reference"},
    ])  # fmt: skip
    second = peruvian(engine, "PE-2", OWN_A, OWN_B)
    assert linked_accounts(engine, first) == () and linked_accounts(engine, second) == ()


def test_given_the_debtors_numbers_in_other_states_then_they_still_link(engine: Engine) -> None:
    """A number the debtor asked not to be called on, or the creditor no longer lists,
    is still the debtor's: it links (the caps of one person stay one)."""
    first = make_account(engine, "PE-1", country="PE", region=None, phones=[
        {"number_e164": OWN_A, "status": "stopped"},
        {"number_e164": OWN_B, "status": "retired", "phone_type": "guarantor"},
    ])  # fmt: skip
    second = peruvian(engine, "PE-2", OWN_A)
    third = peruvian(engine, "PE-3", OWN_B)
    assert linked_accounts(engine, first) == (second, third)


def test_given_numbers_not_on_the_account_or_empty_then_they_link_nothing(engine: Engine) -> None:
    first = peruvian(engine, "PE-1", OWN_A)
    second = peruvian(engine, "PE-2", OWN_A)
    assert accounts_sharing_numbers(engine, {}) == {}
    assert accounts_sharing_numbers(engine, {first: ()}) == {first: ()}
    assert accounts_sharing_numbers(engine, {first: ("",)}) == {first: ()}
    # A number the account does not list says nothing about its debtor.
    assert accounts_sharing_numbers(engine, {999_999: (OWN_A,)}) == {999_999: ()}
    linked = accounts_sharing_numbers(engine, {first: (OWN_A, "+51900000000")})
    assert linked == {first: (second,)}


async def test_given_the_mothers_loans_sharing_only_her_marked_number_then_one_set_of_caps(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    """The corner an earlier note left: her son's card marks her number as a third
    party's; her two loans give it as hers, each with another number of its own. The
    number is no evidence that the loans are one person's, so no protection passes
    between them; but counted apart, she could be called on each loan's other number up
    to each loan's cap. Her caps count both loans, in the batch and at the final check."""
    peruvian(engine, "PE-SON", OWN_A, NEIGHBOUR)
    first = make_account(engine, "PE-MOM-1", country="PE", region=None, protection="deceased",
                         phones=[{"number_e164": NEIGHBOUR}, {"number_e164": "+51944440004"}])  # fmt: skip
    second = peruvian(engine, "PE-MOM-2", NEIGHBOUR, OWN_B)
    mark(engine, "PE-SON", NEIGHBOUR)
    assert accounts_counted_together(engine, {second: (NEIGHBOUR, OWN_B)}) == {second: (first,)}
    assert accounts_sharing_numbers(engine, {second: (NEIGHBOUR, OWN_B)}) == {second: ()}
    attempts_in_sql(engine, first, count=3)
    service = ComplianceService(engine, aredis)
    # Her day's attempts are spent; the first loan's protection is not the second's
    # (no "debtor_deceased"): the link is no evidence of that.
    assert await reasons(service, "PE-MOM-2", OWN_B) == ("attempt_cap_day",)
    with transaction(engine) as session:
        item = service.load_item(session, account_ref="PE-MOM-2", phone_e164=OWN_B)
    decision, _ = await service.final_check(item, NOW, "a:mom")
    assert not decision.allowed
    # Her son's caps are his own.
    assert await reasons(service, "PE-SON", OWN_A) == ()
