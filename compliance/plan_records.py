"""A payment plan in SQL: the row, active with one promise per instalment at once when
within the automatic limits, else pending for a supervisor (console/plan_service.py
decides it). The same for a plan an agent agrees (a disposition) and one a debtor
chooses (selfservice/debtor_actions.py). In the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from compliance.plan_calculator import Plan
from store.models import Account, PaymentPlan, PlanStatus, Promise


def save_plan(
    session: Session,
    plan: Plan,
    account: Account,
    attempt_id: int | None,
    agent_id: int | None,
    now: datetime,
) -> PaymentPlan:
    """The plan row; active with its promises at once when within the automatic limits."""
    row = PaymentPlan(
        account_id=account.id,
        attempt_id=attempt_id,
        agent_id=agent_id,
        campaign_id=account.campaign_id,
        status=PlanStatus.pending.value if plan.needs_approval else PlanStatus.active.value,
        currency=account.currency,
        balance=plan.balance,
        total=plan.total,
        discount=plan.discount,
        interval=plan.interval,
        schedule=[
            {"number": i.number, "due_date": i.due_date.isoformat(), "amount": str(i.amount)}
            for i in plan.instalments
        ],
        approval_reasons=list(plan.approval_reasons),
        created_at=now,
        decision_note="",
    )
    session.add(row)
    session.flush()
    if row.status == PlanStatus.active.value:
        promises_of(session, row, now)
    return row


def promises_of(session: Session, row: PaymentPlan, now: datetime) -> None:
    """One promise per instalment, followed kept/broken by the payments import."""
    for item in row.schedule:
        session.add(
            Promise(
                account_id=row.account_id,
                attempt_id=row.attempt_id,
                agent_id=row.agent_id,
                amount=Decimal(item["amount"]),
                currency=row.currency,
                due_date=datetime.fromisoformat(item["due_date"]).date(),
                created_at=now,
                plan_id=row.id,
                instalment=int(item["number"]),
            )
        )


def audit_payload(row: PaymentPlan, action: str) -> dict[str, Any]:
    return {"plan_id": row.id, "account_id": row.account_id, "action": action,
            "status": row.status, "total": row.total, "discount": row.discount,
            "currency": row.currency, "instalments": len(row.schedule),
            "approval_reasons": list(row.approval_reasons or [])}  # fmt: skip
