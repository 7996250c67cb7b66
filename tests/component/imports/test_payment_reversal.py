"""A recorded payment undone from what it did (store/payment_reversal.py): a plan's last
instalment it paid is unpaid again and the plan active; an instalment whose date has
passed since is broken, and its plan with it; a payment recorded before its effects
were kept gives its amount back; a second reversal changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.debtor_time import account_day
from store.audit import append as audit_append
from store.importing.payments import record_payment
from store.models import (
    Account,
    AuditEntry,
    Campaign,
    Payment,
    PaymentPlan,
    PlanStatus,
    Promise,
)
from store.payment_reversal import reverse_payment

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


@pytest.fixture
def account_id(engine: Engine) -> int:
    with Session(engine) as s, s.begin():
        campaign = Campaign(name="mx", country="MX", profile="MX")
        s.add(campaign)
        s.flush()
        account = Account(external_ref="MX-1", debtor_name="Ana", country="MX", currency="MXN",
                          balance=Decimal("1000.00"), campaign_id=campaign.id,
                          next_attempt_at=NOW + timedelta(days=40))  # fmt: skip
        s.add(account)
        s.flush()
        return int(account.id)


def plan_of_two(engine: Engine, account_id: int, second_paid: bool = False) -> int:
    """A plan of two 500.00 instalments, the first kept already."""
    with Session(engine) as s, s.begin():
        plan = PaymentPlan(account_id=account_id, status=PlanStatus.active.value, currency="MXN",
                           balance=Decimal("1500.00"), total=Decimal("1000.00"),
                           discount=Decimal("0"), interval="monthly", schedule=[])  # fmt: skip
        s.add(plan)
        s.flush()
        s.add(Promise(account_id=account_id, amount=Decimal("500.00"), currency="MXN",
                      due_date=date(2026, 10, 30), status="kept", paid_amount=Decimal("500.00"),
                      plan_id=plan.id, instalment=1))  # fmt: skip
        s.add(Promise(account_id=account_id, amount=Decimal("500.00"), currency="MXN",
                      due_date=date(2026, 11, 30), status="open", plan_id=plan.id,
                      instalment=2))  # fmt: skip
        return int(plan.id)


def pay(engine: Engine, account_id: int, amount: str, at: datetime = NOW) -> int:
    with Session(engine) as s, s.begin():
        account = s.get_one(Account, account_id)
        payment = record_payment(s, account, Decimal(amount), at, at, audit_append, "test",
                                 debtor_day=account_day,
                                 source="mercadopago", provider="mercadopago",
                                 provider_payment_id=f"p-{amount}")  # fmt: skip
        return int(payment.id)


def reverse(engine: Engine, payment_id: int, now: datetime) -> Any:
    with Session(engine) as s, s.begin():
        return reverse_payment(s, s.get_one(Payment, payment_id), "charged_back", now,
                               audit_append, "test", debtor_day=account_day)  # fmt: skip


def state(engine: Engine, account_id: int) -> tuple[Any, ...]:
    with Session(engine) as s:
        account = s.get_one(Account, account_id)
        promises = [(p.instalment, p.status, p.paid_amount)
                    for p in s.scalars(select(Promise).order_by(Promise.id))]  # fmt: skip
        plans = [p.status for p in s.scalars(select(PaymentPlan).order_by(PaymentPlan.id))]
        return account.balance, account.status, account.next_attempt_at, promises, plans


def test_given_the_last_instalment_paid_then_reversed_then_unpaid_and_the_plan_active_again(
    engine: Engine, account_id: int
) -> None:
    plan_of_two(engine, account_id)
    payment_id = pay(engine, account_id, "1000.00")
    assert state(engine, account_id)[:2] == (Decimal("0.00"), "paid")
    assert state(engine, account_id)[4] == ["kept"]
    undone = reverse(engine, payment_id, NOW + timedelta(days=1))
    assert undone.reopened and undone.promises_reopened and not undone.promises_broken
    balance, status, next_at, promises, plans = state(engine, account_id)
    assert (balance, status, plans) == (Decimal("1000.00"), "active", ["active"])
    assert promises == [(1, "kept", Decimal("500.00")), (2, "open", Decimal("0.00"))]
    # Held by the instalment still open, as a promise holds an account: until the day
    # after it has begun for the debtor (a Mexican account of no known zone: Tijuana's
    # midnight, 08:00 UTC; UTC's midnight was 16:00 of its day there).
    assert next_at == datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_given_an_instalment_overdue_by_the_reversal_then_broken_with_its_plan(
    engine: Engine, account_id: int
) -> None:
    plan_of_two(engine, account_id)
    payment_id = pay(engine, account_id, "500.00")
    assert state(engine, account_id)[4] == ["kept"]
    later = datetime(2026, 12, 10, 17, 0, tzinfo=UTC)  # past the instalment's date
    undone = reverse(engine, payment_id, later)
    assert undone.promises_broken and not undone.reopened  # never paid: nothing to reopen
    balance, status, next_at, promises, plans = state(engine, account_id)
    assert (balance, status, plans) == (Decimal("1000.00"), "active", ["broken"])
    assert promises[1] == (2, "broken", Decimal("0.00"))
    assert next_at == later  # a broken plan puts the account back in the queue at once


def test_given_a_reversal_on_the_evening_of_the_instalments_day_then_open_not_broken(
    engine: Engine, account_id: int
) -> None:
    # The account is in Mexico City: 03:00 UTC on 1 December is 21:00 of 30 November
    # there, the instalment's own day. UTC's date broke it while the debtor could pay.
    with Session(engine) as s, s.begin():
        s.get_one(Account, account_id).region = "CMX"
    plan_of_two(engine, account_id)
    payment_id = pay(engine, account_id, "500.00")
    undone = reverse(engine, payment_id, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    assert undone.promises_reopened and not undone.promises_broken
    assert state(engine, account_id)[3][1] == (2, "open", Decimal("0.00"))


def test_given_a_payment_recorded_before_its_effects_were_kept_then_its_amount_comes_back(
    engine: Engine, account_id: int
) -> None:
    payment_id = pay(engine, account_id, "1000.00")
    with Session(engine) as s, s.begin():
        s.get_one(Payment, payment_id).applied = None  # as a row from before migration 0024
    undone = reverse(engine, payment_id, NOW)
    assert undone.balance == (Decimal("0.00"), Decimal("1000.00")) and undone.reopened
    with Session(engine) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.kind == "payment_reversed")).one()
        assert json.loads(entry.payload)["effects_known"] is False


def test_given_a_payment_reversed_twice_then_the_second_changes_nothing(
    engine: Engine, account_id: int
) -> None:
    payment_id = pay(engine, account_id, "400.00")
    assert reverse(engine, payment_id, NOW) is not None
    after = state(engine, account_id)
    assert after[0] == Decimal("1000.00")
    assert reverse(engine, payment_id, NOW + timedelta(hours=1)) is None
    assert state(engine, account_id) == after
    with Session(engine) as s:
        assert (
            len(s.scalars(select(AuditEntry).where(AuditEntry.kind == "payment_reversed")).all())
            == 1
        )


def test_given_partial_refunds_then_each_undoes_only_its_difference_never_above_the_payment(
    engine: Engine, account_id: int
) -> None:
    payment_id = pay(engine, account_id, "400.00")

    def refund(total: str) -> Any:
        with Session(engine) as s, s.begin():
            return reverse_payment(s, s.get_one(Payment, payment_id), "refunded", NOW,
                                   audit_append, "test", debtor_day=account_day,
                                   refunded=Decimal(total))  # fmt: skip

    assert refund("100.00").amount == Decimal("100.00")
    assert refund("100.00") is None  # the same total told again
    assert refund("50.00") is None  # an older, smaller total: nothing to give back
    later = refund("9999.00")  # more than the payment: only what is left of it
    assert (later.amount, later.full) == (Decimal("300.00"), True)
    assert refund("400.00") is None
    assert state(engine, account_id)[0] == Decimal("1000.00")
