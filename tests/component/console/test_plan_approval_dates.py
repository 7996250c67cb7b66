"""A supervisor's approval near midnight: the plan's first instalment is checked against
the latest of the debtor's todays, so no plan starts on a day already over where the
debtor may be; an account of no known zone is read in its own country's zones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.selfservice_seed import seed_portal

from console.plan_service import PlanDecisionError, decide
from console.users import CurrentUser
from store.models import Account, PaymentPlan, Role, User

# 06:30 UTC on Wednesday 25 November: still 23:30 of the 24th in Tepic (Mazatlán's zone),
# already 00:30 of the 25th in Bahía de Banderas. Region NAY gives both, Mazatlán's
# first: the first zone alone reads the earlier date.
NAYARIT_MIDNIGHT = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)


def pending_plan(engine: Engine, first_due: date, **where: str | None) -> tuple[int, CurrentUser]:
    seed = seed_portal(engine)
    with Session(engine) as s:
        account = s.get(Account, seed.account_id)
        assert account is not None
        for name, value in where.items():
            setattr(account, name, value)
        sofia = User(username="sofia", display_name="Sofía", role="supervisor",
                     password_hash="x", campaign_id=seed.campaign_id)  # fmt: skip
        plan = PaymentPlan(
            account_id=seed.account_id, campaign_id=seed.campaign_id, status="pending",
            currency="MXN", balance=Decimal("6000.00"), total=Decimal("6000.00"),
            discount=Decimal(0), interval="monthly", approval_reasons=["instalments"],
            schedule=[{"number": 1, "amount": "3000.00", "due_date": first_due.isoformat()},
                      {"number": 2, "amount": "3000.00", "due_date": "2026-12-24"}],
        )  # fmt: skip
        s.add_all([sofia, plan])
        s.commit()
        user = CurrentUser(sofia.id, "sofia", "Sofía", Role.supervisor, seed.campaign_id)
        return plan.id, user


def test_given_zones_on_two_dates_when_the_first_instalment_is_the_earlier_today_then_refused(
    engine: Engine,
) -> None:
    # The 24th is still today in Tepic but already over in Bahía de Banderas: approving
    # would make a promise the debtor may have missed before it existed.
    plan_id, sofia = pending_plan(engine, date(2026, 11, 24), region="NAY", timezone=None)
    with pytest.raises(PlanDecisionError):
        decide(engine, sofia, plan_id, True, "", NAYARIT_MIDNIGHT, None)


def test_given_zones_on_two_dates_when_the_first_instalment_is_the_later_today_then_approved(
    engine: Engine,
) -> None:
    plan_id, sofia = pending_plan(engine, date(2026, 11, 25), region="NAY", timezone=None)
    assert decide(engine, sofia, plan_id, True, "", NAYARIT_MIDNIGHT, None).status == "active"


def test_given_a_peruvian_account_of_an_unusable_zone_then_lima_decides_what_is_past(
    engine: Engine,
) -> None:
    # 04:30 UTC on the 25th: 23:30 of the 24th in Lima. The first instalment on the 24th
    # is the debtor's today; read in UTC's date (no zone resolved) it was refused.
    plan_id, sofia = pending_plan(engine, date(2026, 11, 24), country="PE", region=None,
                                  timezone="GMT-5")  # fmt: skip
    at = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)
    assert decide(engine, sofia, plan_id, True, "", at, None).status == "active"
