"""Payment plans in SQL: saved from a disposition, waiting for a supervisor when
above the agent's limits, and turned into a schedule of promises when active.
Synchronous; handlers run it in a thread. The rules and the arithmetic are in
console/payment_plans.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.debtor_time import date_zones, local_days
from compliance.plan_records import audit_payload, promises_of, save_plan
from compliance.plan_rules import PlanRules, plan_rules_for
from console.debtor_locale import DebtorLocale, spoken_locale
from console.i18n import N_, gettext_
from console.money import MoneyFormat, money_format
from console.payment_plans import INTERVAL_LABELS, Plan, limits, percent
from console.users import CurrentUser
from store.audit import append as audit_append
from store.db import transaction
from store.models import Account, Campaign, PaymentPlan, PlanStatus, User

# The campaign's rules (validated when it was created) and the plan rows, as callers import them.
__all__ = ["audit_payload", "plan_rules_for", "save_plan"]
STATUS_LABELS = {
    PlanStatus.pending.value: N_("Espera aprobación del supervisor"),
    PlanStatus.active.value: N_("Activo"),
    PlanStatus.rejected.value: N_("Rechazado"),
    PlanStatus.kept.value: N_("Cumplido"),
    PlanStatus.broken.value: N_("Incumplido"),
}


class PlanDecisionError(ValueError):
    """A Spanish msgid the supervisor reads; nothing was changed."""


def calculator(
    rules: PlanRules, stage: str, balance: Decimal, today: Any, money: MoneyFormat
) -> dict[str, Any]:
    """The pop's calculator: the limits for this account, shown in its currency."""
    lim = limits(rules, stage, balance, today)
    return {
        "max_instalments": lim["max_instalments"],
        "agent_instalments": lim["agent_instalments"],
        "min_instalment": money.show(lim["min_instalment"]),
        "max_discount": percent(lim["max_discount"]),
        "agent_discount": percent(lim["agent_discount"]),
        "intervals": [{"code": i, "label": gettext_(INTERVAL_LABELS[i])} for i in lim["intervals"]],
        "first_date_min": lim["first_date_min"].isoformat(),
        "first_date_max": lim["first_date_max"].isoformat(),
    }


def _day(iso: str, words: DebtorLocale) -> str:
    """A stored schedule's ISO day as a person reads it ("6 de diciembre de 2026")."""
    try:
        return words.day(date.fromisoformat(iso))
    except (TypeError, ValueError):
        return str(iso)


def plan_view(plan: Plan, money: MoneyFormat, words: DebtorLocale) -> dict[str, Any]:
    """A computed plan as the calculator shows it (nothing saved): each due date as
    the agent reads it to the debtor (``due_date_shown``), and ISO for machines."""
    return {
        "total": money.show(plan.total),
        "forgiven": money.show(plan.forgiven),
        "discount": percent(plan.discount),
        "interval": gettext_(INTERVAL_LABELS[plan.interval]),
        "instalments": [
            {
                "number": i.number,
                "due_date": i.due_date.isoformat(),
                "due_date_shown": words.day(i.due_date),
                "amount": money.show(i.amount),
            }
            for i in plan.instalments
        ],
        "needs_approval": plan.needs_approval,
        "approval_reasons": [gettext_(r) for r in plan.approval_reasons],
    }


def pending_plans(engine: Engine, campaign_ids: set[int] | None) -> list[dict[str, Any]]:
    """Plans waiting for a supervisor, oldest first (None: every campaign)."""
    with transaction(engine) as session:
        query = (
            select(PaymentPlan, Account, User.display_name, Campaign.name)
            .join(Account, Account.id == PaymentPlan.account_id)
            .outerjoin(User, User.id == PaymentPlan.agent_id)
            .outerjoin(Campaign, Campaign.id == PaymentPlan.campaign_id)
            .where(PaymentPlan.status == PlanStatus.pending.value)
            .order_by(PaymentPlan.created_at, PaymentPlan.id)
            .limit(100)
        )
        if campaign_ids is not None:
            query = query.where(PaymentPlan.campaign_id.in_(campaign_ids or {-1}))
        out = []
        for row, account, agent, campaign in session.execute(query).all():
            money = money_format(account.country, row.currency)
            words = spoken_locale(account.country)
            first, last = row.schedule[0], row.schedule[-1]
            out.append(
                {
                    "id": row.id,
                    "campaign": campaign or "",
                    "agent": agent or "",
                    "ref": account.external_ref,
                    "name": account.debtor_name,
                    "stage": account.stage,
                    "balance": money.show(row.balance),
                    "total": money.show(row.total),
                    "discount": percent(row.discount),
                    "instalments": len(row.schedule),
                    "interval": gettext_(INTERVAL_LABELS.get(row.interval, row.interval)),
                    "first": _day(first["due_date"], words),
                    "last": _day(last["due_date"], words),
                    "reasons": [gettext_(r) for r in row.approval_reasons or []],
                }
            )
        return out


@dataclass(frozen=True)
class Decided:
    plan_id: int
    account_id: int
    status: str
    campaign: str


def decide(
    engine: Engine,
    user: CurrentUser,
    plan_id: int,
    approve: bool,
    note: str,
    now: datetime,
    campaign_ids: set[int] | None,
) -> Decided:
    """Approve (its instalments become promises) or reject (the account goes back to
    the queue to agree something else); audited either way. LookupError: no such plan
    (or not in the supervisor's campaigns); PlanDecisionError: not possible now."""
    with transaction(engine) as session:
        row = session.get(PaymentPlan, plan_id, with_for_update=True)
        if row is None or (campaign_ids is not None and row.campaign_id not in campaign_ids):
            raise LookupError(plan_id)
        if row.status != PlanStatus.pending.value:
            raise PlanDecisionError(N_("Ese plan ya fue decidido."))
        account = session.get(Account, row.account_id)
        assert account is not None
        if approve:
            # The LATEST of the debtor's todays: near midnight their zones may be on
            # two dates (23:30 in Tijuana is 01:30 tomorrow in Cancún). An agent or the
            # debtor agreeing a date with the debtor may take the earliest (the debtor
            # says which day is theirs), but the supervisor approves without them: a
            # first instalment dated the earlier day may already be over where the
            # debtor is, a promise broken the moment it is made. Refused then; the
            # plan is rejected and another agreed. Unknown zones: every zone of the
            # country (date_zones), so never a date read in Mexico City for Lima.
            zones = date_zones(account.timezone, account.country, account.region, None)
            today = local_days(now, zones)[-1]
            if datetime.fromisoformat(row.schedule[0]["due_date"]).date() < today:
                raise PlanDecisionError(
                    N_("La fecha del primer pago ya pasó: rechace el plan para acordar otro.")
                )
            row.status = PlanStatus.active.value
            promises_of(session, row, now)
        else:
            row.status = PlanStatus.rejected.value
            # The account was held for the plan: it is called again to agree another.
            account.next_attempt_at = now
            account.hopper_since = None
        row.decided_by, row.decided_at, row.decision_note = user.id, now, note[:1000]
        campaign = session.get(Campaign, row.campaign_id) if row.campaign_id else None
        session.flush()
        audit_append(
            session,
            "payment_plan",
            {
                **audit_payload(row, "approved" if approve else "rejected"),
                "note": row.decision_note,
            },
            actor=user.actor,
            subject=f"account:{row.account_id}",
        )
        return Decided(row.id, row.account_id, row.status, campaign.name if campaign else "")


def account_plans(session: Session, account: Account, words: DebtorLocale) -> list[dict[str, Any]]:
    """The account's latest plans for the pop (status translated)."""
    rows = session.scalars(
        select(PaymentPlan)
        .where(PaymentPlan.account_id == account.id)
        .order_by(PaymentPlan.created_at.desc(), PaymentPlan.id.desc())
        .limit(5)
    ).all()
    money = money_format(account.country, account.currency)
    return [
        {
            "status": row.status,
            "status_label": gettext_(STATUS_LABELS.get(row.status, N_("Otro estado"))),
            "total": money.show(row.total),
            "instalments": len(row.schedule),
            "first": _day(row.schedule[0]["due_date"], words),
        }
        for row in rows
    ]
