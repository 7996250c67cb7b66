"""Payment plans followed by the payments import: a kept instalment moves the
account's hold to the next one (the plan is kept with its last); a broken one
breaks the plan, cancels the instalments left and puts the account back in the
queue at once (the refill ranks broken promises first, dialer/priority.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Account, AccountStatus, PaymentPlan, PlanStatus, Promise

AuditFn = Callable[..., Any]
# The date an instant falls on for an account's debtor (compliance/debtor_time.py
# account_day: over only once over in every zone they may be in). Given by the caller:
# the store knows no zones.
DebtorDay = Callable[[datetime, Account], date]


def promise_hold_until(due_date: date) -> datetime:
    """The day after a promise's date at UTC's midnight: for the store's callers
    that know no debtor (see debtor_hold_until for the hold an account is given)."""
    return datetime.combine(due_date + timedelta(days=1), datetime.min.time(), UTC)


def debtor_hold_until(due_date: date, account: Account, debtor_day: DebtorDay) -> datetime:
    """The hold a promise puts on its account: until the first minute of the day after
    its date for the debtor (`debtor_day`: over once over in every zone they may be
    in), as dialer/recycle.py's promise_hold_until holds it from the zones, which the
    store does not read. UTC's midnight was 18:00 of the promised day in Mexico City:
    the debtor was called while they could still pay. Every zone's midnight lies
    between 14 hours before UTC's and 12 hours after it, and debtor_day only moves
    forward with time: the minute is found by halving that span."""
    utc_midnight = promise_hold_until(due_date)
    earliest = utc_midnight - timedelta(hours=14)
    low, high = 0, 26 * 60  # minutes after `earliest`: still the date / already past it
    if debtor_day(earliest, account) > due_date:
        return earliest
    while high - low > 1:
        middle = (low + high) // 2
        if debtor_day(earliest + timedelta(minutes=middle), account) > due_date:
            high = middle
        else:
            low = middle
    return earliest + timedelta(minutes=high)


def break_overdue_everywhere(
    session: Session, now: datetime, debtor_day: DebtorDay
) -> list[Promise]:
    """Every open promise whose date has passed for its debtor (`debtor_day`; UTC's date
    broke a Mexican debtor's promise at 18:00 of its own day) is broken, whether or not
    a payment of its account came in this import (ix_promises_open_due: no scan)."""
    # No zone is more than 14 hours ahead of UTC: nothing due on or after that date
    # can be over for anyone yet.
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    latest = (aware.astimezone(UTC) + timedelta(hours=14)).date()
    rows = session.execute(
        select(Promise, Account)
        .join(Account, Account.id == Promise.account_id)
        .where(Promise.status == "open", Promise.due_date < latest)
        .order_by(Promise.due_date, Promise.id)
    ).all()
    broken = []
    for promise, account in rows:
        if promise.due_date < debtor_day(now, account):
            promise.status = "broken"
            promise.resolved_at = now
            broken.append(promise)
    return broken


def follow_plans(
    session: Session,
    kept: Iterable[Promise],
    broken: Iterable[Promise],
    now: datetime,
    audit: AuditFn,
    actor: str,
    *,
    debtor_day: DebtorDay,
) -> None:
    """Bring the plans of these promises (if any) up to date; audited per plan."""
    for promise in broken:
        if promise.plan_id is not None:
            _break_plan(session, promise, now, audit, actor)
    for promise in kept:
        if promise.plan_id is not None:
            _advance_plan(session, promise, audit, actor, debtor_day)


def _break_plan(
    session: Session, promise: Promise, now: datetime, audit: AuditFn, actor: str
) -> None:
    plan = session.get(PaymentPlan, promise.plan_id)
    if plan is None or plan.status != PlanStatus.active.value:
        return
    plan.status = PlanStatus.broken.value
    rest = session.scalars(
        select(Promise).where(Promise.plan_id == plan.id, Promise.status == "open")
    ).all()
    for other in rest:
        other.status = "cancelled"
        other.resolved_at = now
    account = session.get(Account, plan.account_id)
    requeued = account is not None and account.status == AccountStatus.active.value
    if account is not None and requeued:
        account.next_attempt_at = now
        account.hopper_since = None
    audit(session, "payment_plan", {
        "plan_id": plan.id, "account_id": plan.account_id, "action": "broken",
        "status": plan.status, "instalment": promise.instalment,
        "cancelled": [p.id for p in rest], "requeued": requeued,
    }, actor=actor, subject=f"account:{plan.account_id}")  # fmt: skip


def _advance_plan(
    session: Session, promise: Promise, audit: AuditFn, actor: str, debtor_day: DebtorDay
) -> None:
    plan = session.get(PaymentPlan, promise.plan_id)
    if plan is None or plan.status != PlanStatus.active.value:
        return
    following = session.scalars(
        select(Promise)
        .where(Promise.plan_id == plan.id, Promise.status == "open")
        .order_by(Promise.due_date, Promise.id)
        .limit(1)
    ).first()
    account = session.get(Account, plan.account_id)
    if following is None:
        plan.status = PlanStatus.kept.value
        audit(session, "payment_plan", {"plan_id": plan.id, "account_id": plan.account_id,
                                        "action": "kept", "status": plan.status},
              actor=actor, subject=f"account:{plan.account_id}")  # fmt: skip
    elif account is not None and account.later_than_its_date(
        hold := debtor_hold_until(following.due_date, account, debtor_day)
    ):
        # Not called while the debtor keeps to the plan: held to the next instalment.
        account.next_attempt_at = hold
        account.hopper_since = None
