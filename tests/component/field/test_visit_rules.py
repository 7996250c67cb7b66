"""The visit check the console uses, on the shipped profiles: CO only with the signed
authorisation, PE never on Saturdays nor 20:00-07:00, MX 07:00-22:00, one visit per
debtor a day counted from the contact ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from field_fixtures import FieldSeed, seed_field
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from compliance.profile import load_profiles
from field.visit_rules import plan_instant, profile_visit_check
from store.db import transaction
from store.models import Account, CallAttempt, Phone


@pytest.fixture
def seed(engine: Engine) -> FieldSeed:
    return seed_field(engine)


CHECK = profile_visit_check(load_profiles())
TUESDAY_10_MX = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 11:00 in Bogotá and Lima
SATURDAY_10_LIMA = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def decide(engine: Engine, account_id: int, at: datetime) -> tuple[bool, tuple[str, ...]]:
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        decision = CHECK(s, account, at)
        return decision.allowed, decision.reasons


def test_given_mx_debtor_then_visits_between_7_and_22_local(
    engine: Engine, seed: FieldSeed
) -> None:
    mx = seed.accounts["MX-0"]
    assert decide(engine, mx, TUESDAY_10_MX) == (True, ())
    late = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)  # 22:30 in Mexico City
    assert decide(engine, mx, late) == (False, ("outside_hours",))


def test_given_a_checkin_minutes_before_the_window_closes_then_refused_the_visit_would_overrun(
    engine: Engine, seed: FieldSeed
) -> None:
    mx, pe = seed.accounts["MX-0"], seed.accounts["PE-1"]
    mx_2145 = datetime(2026, 11, 25, 3, 45, tzinfo=UTC)  # Tuesday 21:45 in Mexico City
    assert decide(engine, mx, mx_2145) == (True, ())
    mx_2155 = mx_2145 + timedelta(minutes=10)  # the visit would talk past 22:00
    assert decide(engine, mx, mx_2155) == (False, ("outside_hours",))
    pe_1955 = datetime(2026, 11, 25, 0, 55, tzinfo=UTC)  # Tuesday 19:55 in Lima
    assert decide(engine, pe, pe_1955) == (False, ("outside_hours",))


def test_given_co_debtor_without_authorisation_then_refused_and_with_it_allowed(
    engine: Engine, seed: FieldSeed
) -> None:
    co = seed.accounts["CO-1"]
    allowed, reasons = decide(engine, co, TUESDAY_10_MX)
    assert not allowed and "visit_not_authorised" in reasons
    with transaction(engine) as s:
        s.execute(
            update(Account).where(Account.id == co).values(visit_authorisation_ref="MICRO-77")
        )
    assert decide(engine, co, TUESDAY_10_MX) == (True, ())


def test_given_pe_debtor_then_no_visits_on_saturday_nor_at_night(
    engine: Engine, seed: FieldSeed
) -> None:
    pe = seed.accounts["PE-1"]
    assert decide(engine, pe, TUESDAY_10_MX) == (True, ())
    allowed, reasons = decide(engine, pe, SATURDAY_10_LIMA)
    assert not allowed and "day_not_allowed" in reasons
    night = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)  # 20:30 in Lima
    assert decide(engine, pe, night) == (False, ("outside_hours",))


def test_given_a_visit_made_today_then_a_second_one_refused_by_the_cap(
    engine: Engine, seed: FieldSeed
) -> None:
    mx = seed.accounts["MX-1"]
    with transaction(engine) as s:
        s.add(CallAttempt(account_id=mx, channel="visit", source="field", address="Calle",
                          started_at=TUESDAY_10_MX - timedelta(hours=2), result="no_answer",
                          ended_at=TUESDAY_10_MX - timedelta(hours=2)))  # fmt: skip
    allowed, reasons = decide(engine, mx, TUESDAY_10_MX)
    assert (allowed, reasons) == (False, ("attempt_cap_day",))
    assert decide(engine, mx, TUESDAY_10_MX + timedelta(hours=23)) == (True, ())


def test_given_a_plan_day_then_checked_at_noon_of_the_debtors_day(
    engine: Engine, seed: FieldSeed
) -> None:
    with Session(engine) as s:
        pe = s.get(Account, seed.accounts["PE-1"])
        assert pe is not None
        at = plan_instant(pe, SATURDAY_10_LIMA.date())
    assert at is not None and at.isoformat() == "2026-11-28T12:00:00-05:00"


def test_given_a_visit_today_on_another_debt_of_the_same_number_then_refused_by_the_cap(
    engine: Engine, seed: FieldSeed
) -> None:
    # One person owes on two accounts (the same number on both): one visit a day in all.
    first, second = seed.accounts["MX-0"], seed.accounts["MX-1"]
    with transaction(engine) as s:
        for account_id in (first, second):
            s.add(Phone(account_id=account_id, position=9, number_e164="+525587654321",
                        phone_type="mobile", consent=True, consent_ref="form-9"))  # fmt: skip
        s.add(CallAttempt(account_id=first, channel="visit", source="field", address="Calle",
                          started_at=TUESDAY_10_MX - timedelta(hours=2), result="no_answer",
                          ended_at=TUESDAY_10_MX - timedelta(hours=2)))  # fmt: skip
    assert decide(engine, second, TUESDAY_10_MX) == (False, ("attempt_cap_day",))
    assert decide(engine, second, TUESDAY_10_MX + timedelta(hours=23)) == (True, ())


def test_given_a_protected_person_on_one_debt_then_no_visit_on_any_of_theirs(
    engine: Engine, seed: FieldSeed
) -> None:
    """Insolvency marked on one account; the other account of the same number is the
    same person: no visit on either (compliance/protection.py)."""
    first, second = seed.accounts["MX-0"], seed.accounts["MX-1"]
    with transaction(engine) as s:
        for account_id in (first, second):
            s.add(Phone(account_id=account_id, position=9, number_e164="+525587654321",
                        phone_type="mobile", consent=True, consent_ref="form-9"))  # fmt: skip
    assert decide(engine, second, TUESDAY_10_MX) == (True, ())
    with transaction(engine) as s:
        s.execute(update(Account).where(Account.id == first).values(protection="insolvency"))
    assert decide(engine, first, TUESDAY_10_MX) == (False, ("insolvency_proceeding",))
    assert decide(engine, second, TUESDAY_10_MX) == (False, ("insolvency_proceeding",))
