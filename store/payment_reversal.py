"""A recorded payment undone, in full or in part, when its provider reports it refunded
or charged back: the balance it took given back; an account it left paid reopened (its
status before the payment), so the refill takes it again through the usual eligibility
and final checks; the promises it kept no longer kept (open again, or broken once their
date has passed, and a plan they completed active again or broken); the payment row
marked; audited. What the payment did is read from the row (`Payment.applied`, written
by store/importing/payments.py record_payment), never guessed from the notification.

A partial refund undoes the payment last-in, first-out: what it paid beyond the
balance (or beyond its promises) comes back first, then what it took off the balance
(and the promises' shares, the latest due first). The row keeps how much was undone
(`Payment.refunded`), so the same refunded total told again changes nothing and a
larger one undoes only the difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Account, AccountStatus, Payment, PaymentPlan, PlanStatus, Promise
from store.plan_tracking import DebtorDay, debtor_hold_until, follow_plans

AuditFn = Callable[..., Any]
# A provider's statuses that take a recorded payment back.
REVERSAL_STATUSES = frozenset({"refunded", "charged_back", "cancelled"})
# The statuses a payment may have left paid (apply_payment): reopened as they were.
REOPENED_STATUSES = (AccountStatus.active.value, AccountStatus.disputed.value)
# A payment's `reversal` while only part of it is refunded (Mercado Pago's status_detail).
PARTIAL = "partially_refunded"


@dataclass(frozen=True)
class Reversal:
    account_id: int
    amount: Decimal  # the part of the payment undone now
    full: bool  # the payment is now undone in full
    balance: tuple[Decimal, Decimal]  # before, after
    status: tuple[str, str]
    reopened: bool  # a paid account is open again
    promises_reopened: tuple[int, ...]
    promises_broken: tuple[int, ...]


def _amount(raw: object, default: Decimal) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return default
    return value if value.is_finite() and value >= 0 else default


def _beyond(refunded: Decimal, first: Decimal) -> Decimal:
    """Of `refunded`, the part past the `first` amount that comes back before it."""
    return max(refunded - first, Decimal(0))


def reverse_payment(session: Session, payment: Payment, reversal: str, now: datetime,
                    audit: AuditFn, actor: str, *, debtor_day: DebtorDay,
                    refunded: Decimal | None = None) -> Reversal | None:  # fmt: skip
    """Undoes the payment in the caller's transaction: all of it, or when `refunded` (the
    provider's total refunded so far) is below its amount, only the part not undone
    before. None when nothing more is to undo (nothing changes). A payment recorded
    before its effects were kept (no `applied`) gives back its amount and reopens the
    account; its promises are left as they are (the audit entry says so)."""
    locked = session.get(Payment, payment.id, with_for_update=True, populate_existing=True)
    if locked is None or locked.reversed_at is not None:
        return None
    total = locked.amount
    cent = Decimal("0.01")
    target = total if refunded is None else min(max(refunded, Decimal(0)), total).quantize(cent)
    already = min(locked.refunded or Decimal(0), total)
    if target <= already:
        return None
    account = session.get_one(Account, locked.account_id, with_for_update=True)
    applied = locked.applied or {}
    taken = min(_amount(applied.get("balance"), total), total)
    back = _beyond(target, total - taken) - _beyond(already, total - taken)
    before = (account.balance, account.status)
    account.balance += back
    reopened = account.status == AccountStatus.paid.value and account.balance > 0
    if reopened:
        status = applied.get("status")
        account.status = status if status in REOPENED_STATUSES else AccountStatus.active.value
    raw_shares = applied.get("promises")
    shares: dict[str, Any] = raw_shares if isinstance(raw_shares, dict) else {}
    opened, broken = _unkeep(session, account, shares, (already, target), total,
                             debtor_day(now, account), now)  # fmt: skip
    follow_plans(session, [], broken, now, audit, actor, debtor_day=debtor_day)
    if reopened and account.status == AccountStatus.active.value:
        _requeue(session, account, now, debtor_day)
    full = target >= total
    locked.refunded = target
    locked.reversal = (reversal if full else PARTIAL)[:20]
    if full:
        locked.reversed_at = now
    result = Reversal(account.id, target - already, full, (before[0], account.balance),
                      (before[1], account.status), reopened, tuple(p.id for p in opened),
                      tuple(p.id for p in broken))  # fmt: skip
    audit(session, "payment_reversed", {
        "payment_id": locked.id, "provider": locked.provider,
        "provider_payment_id": locked.provider_payment_id, "reversal": locked.reversal,
        "amount": result.amount, "payment_amount": total, "refunded": [already, target],
        "full": full, "balance": list(result.balance), "status": list(result.status),
        "reopened": reopened, "promises_reopened": list(result.promises_reopened),
        "promises_broken": list(result.promises_broken),
        "effects_known": locked.applied is not None,
    }, actor=actor, subject=f"account:{account.id}")  # fmt: skip
    return result


def _unkeep(session: Session, account: Account, shares: dict[str, Any],
            refunded: tuple[Decimal, Decimal], total: Decimal, today: date,
            now: datetime) -> tuple[list[Promise], list[Promise]]:  # fmt: skip
    """Each promise's share of the refunded part taken back (refunded goes from
    `refunded[0]` to `refunded[1]` of the payment's `total`); one it kept is open again,
    or broken when its date has passed (as break_overdue would have found it without
    this payment)."""
    paid: list[tuple[Promise, Decimal]] = []
    for raw_id, raw_share in shares.items():
        if not str(raw_id).isdigit():
            continue
        promise = session.get(Promise, int(raw_id))
        if promise is None or promise.account_id != account.id:
            continue
        paid.append((promise, _amount(raw_share, Decimal(0))))
    # The latest due was paid last: its share comes back first.
    paid.sort(key=lambda ps: (ps[0].due_date, ps[0].id), reverse=True)
    beyond = max(total - sum((share for _, share in paid), Decimal(0)), Decimal(0))
    left = [_beyond(r, beyond) for r in refunded]  # promise money back before, after
    opened: list[Promise] = []
    broken: list[Promise] = []
    for promise, share in paid:
        back_before, back_after = min(share, left[0]), min(share, left[1])
        left = [left[0] - back_before, left[1] - back_after]
        if back_after <= back_before:
            continue
        promise.paid_amount = max(promise.paid_amount - (back_after - back_before), Decimal(0))
        if promise.status != "kept" or promise.paid_amount >= promise.amount:
            continue
        plan = session.get(PaymentPlan, promise.plan_id) if promise.plan_id else None
        if plan is not None and plan.status == PlanStatus.kept.value:
            plan.status = PlanStatus.active.value  # its last instalment is not paid after all
        if promise.due_date < today:  # the debtor's (debtor_day)
            promise.status, promise.resolved_at = "broken", now
            broken.append(promise)
        else:
            promise.status, promise.resolved_at = "open", None
            opened.append(promise)
    return opened, broken


def _requeue(session: Session, account: Account, now: datetime, debtor_day: DebtorDay) -> None:
    """Dialable again: at once, or after the earliest promise still open (its hold)."""
    due = session.scalar(
        select(Promise.due_date)
        .where(Promise.account_id == account.id, Promise.status == "open")
        .order_by(Promise.due_date)
        .limit(1)
    )  # fmt: skip
    hold = debtor_hold_until(due, account, debtor_day) if due is not None else None
    account.next_attempt_at = hold if hold is not None and hold > now else now
    account.hopper_since = None
