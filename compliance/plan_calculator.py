"""The payment plan calculator: an agent's or a debtor's terms turned into a schedule
of instalments within the campaign's rules (compliance/plan_rules.py). The console's
calculator (console/payment_plans.py) and the debtor's portal and assistant
(selfservice/debtor_actions.py) apply the same rules through it.

Pure: no I/O, no web or SQL; dates and the balance come as arguments; Decimal
only. Messages are Spanish msgids with {placeholders} filled by the caller, who
also says how money is shown (``show``), so any page can use the same rules.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from compliance.plan_rules import (
    CENT,
    PlanRules,
    PlanRulesError,
    plan_rules_for,
    rules_from,
)


def N_(message: str) -> str:
    """Marks a Spanish msgid; the console translates it where it is shown."""
    return message


__all__ = ["PlanRules", "PlanRulesError", "plan_rules_for", "rules_from"]

INTERVAL_LABELS = {
    "weekly": N_("semanal"),
    "biweekly": N_("quincenal"),
    "monthly": N_("mensual"),
}
Show = Callable[[Decimal], str]


# ---- the calculator -----------------------------------------------------------


@dataclass(frozen=True)
class PlanTerms:
    """What the agent and the debtor agreed, before any rule is applied."""

    balance: Decimal
    stage: str
    today: date  # the debtor's local date
    instalments: int
    discount: Decimal  # fraction of the balance forgiven (0 for a plain plan)
    first_date: date
    interval: str = "monthly"


@dataclass(frozen=True)
class Instalment:
    number: int  # 1..n
    due_date: date
    amount: Decimal


@dataclass(frozen=True)
class Plan:
    balance: Decimal
    total: Decimal  # what the debtor pays in all
    discount: Decimal  # fraction forgiven
    forgiven: Decimal  # balance - total
    interval: str
    instalments: tuple[Instalment, ...]
    # Spanish msgids of why a supervisor must approve (empty: the agent may).
    approval_reasons: tuple[str, ...] = ()

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval_reasons)

    @property
    def fingerprint(self) -> str:
        """What the read-back confirmed: the same terms give the same text."""
        dates = ",".join(f"{i.due_date.isoformat()}={i.amount}" for i in self.instalments)
        return f"{self.total}/{self.discount}/{self.interval}/{dates}"


class PlanError(ValueError):
    """Field -> Spanish msgid, with {placeholders} per field in ``fills``."""

    def __init__(self, errors: dict[str, str], fills: dict[str, dict[str, str]]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.fills = fills


def percent(share: Decimal) -> str:
    """0.125 -> "12.5 %" (no trailing zeros)."""
    value = (share * 100).quantize(Decimal("0.01")).normalize()
    return f"{value:f} %"


def parse_percent(raw: str) -> Decimal:
    """ "10", "12.5" or "12,5" (a percentage has no thousands) -> 0.125; ValueError."""
    text = raw.strip().rstrip("%").strip().replace(",", ".") or "0"
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(raw) from None
    if not value.is_finite() or value < 0 or value >= 100 or value != value.quantize(CENT):
        raise ValueError(raw)
    return value / 100


def due_dates(first: date, interval: str, count: int) -> list[date]:
    """Every instalment's date; a monthly plan keeps the first date's day of month
    (the 31st falls on the month's last day)."""
    if interval == "weekly":
        return [first + timedelta(days=7 * i) for i in range(count)]
    if interval == "biweekly":
        return [first + timedelta(days=14 * i) for i in range(count)]
    out = []
    for i in range(count):
        months = first.month - 1 + i
        year, month = first.year + months // 12, months % 12 + 1
        out.append(date(year, month, min(first.day, calendar.monthrange(year, month)[1])))
    return out


def split(total: Decimal, count: int) -> list[Decimal]:
    """Equal instalments to the cent; the last one carries the remainder."""
    each = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    return [each] * (count - 1) + [total - each * (count - 1)]


def propose(rules: PlanRules, terms: PlanTerms, show: Show = str) -> Plan:
    """The plan for these terms, or PlanError listing every rule it breaks.

    A plan within the agent's limits has no approval reasons; above them (more
    discount than an agent may give, more instalments than the campaign lets an
    agent agree) but within the campaign's maximum it waits for a supervisor."""
    errors: dict[str, str] = {}
    fills: dict[str, dict[str, str]] = {}
    reasons: list[str] = []
    if terms.balance <= 0:
        raise PlanError({"plan": N_("La cuenta no tiene saldo para un plan.")}, {})
    count = terms.instalments
    if not 1 <= count <= rules.max_instalments:
        errors["plan_instalments"] = N_("El número de pagos va de 1 a {maximo}.")
        fills["plan_instalments"] = {"maximo": str(rules.max_instalments)}
    elif rules.supervisor_above_instalments and count > rules.supervisor_above_instalments:
        reasons.append(N_("más pagos de los que autoriza un gestor"))
    most = rules.max_discount_for(terms.stage)
    if terms.discount > most:
        errors["plan_discount"] = N_("El descuento máximo en esta etapa es {maximo}.")
        fills["plan_discount"] = {"maximo": percent(most)}
    elif terms.discount > rules.agent_discount_for(terms.stage):
        reasons.append(N_("descuento mayor que el que autoriza un gestor"))
    if terms.interval not in rules.intervals:
        errors["plan_interval"] = N_("La campaña no admite esa periodicidad.")
    if terms.first_date < terms.today:
        errors["plan_first_date"] = N_("La fecha del primer pago no puede estar en el pasado.")
    elif terms.first_date > terms.today + timedelta(days=rules.max_first_days):
        errors["plan_first_date"] = N_("El primer pago pasa del máximo que permite la campaña.")
    total = (terms.balance * (1 - terms.discount)).quantize(CENT, rounding=ROUND_HALF_UP)
    amounts = split(total, count) if "plan_instalments" not in errors else []
    if count > 1 and amounts and min(amounts) < rules.min_instalment:
        errors["plan_instalments"] = N_(
            "Cada pago debe ser de al menos {minimo}: con este saldo, como máximo {pagos} pagos."
        )
        fills["plan_instalments"] = {
            "minimo": show(rules.min_instalment),
            "pagos": str(max(int(total // rules.min_instalment), 1)),
        }
    if errors:
        raise PlanError(errors, fills)
    dates = due_dates(terms.first_date, terms.interval, count)
    return Plan(
        balance=terms.balance,
        total=total,
        discount=terms.discount,
        forgiven=terms.balance - total,
        interval=terms.interval,
        instalments=tuple(
            Instalment(i + 1, d, a) for i, (d, a) in enumerate(zip(dates, amounts, strict=True))
        ),
        approval_reasons=tuple(reasons),
    )


def limits(rules: PlanRules, stage: str, balance: Decimal, today: date) -> dict[str, Any]:
    """What a calculator page shows before the agent types anything."""
    most_instalments = rules.max_instalments
    if rules.min_instalment > 0:
        most_instalments = max(min(most_instalments, int(balance // rules.min_instalment)), 1)
    return {
        "max_instalments": most_instalments,
        "agent_instalments": min(rules.supervisor_above_instalments or most_instalments,
                                 most_instalments),
        "min_instalment": rules.min_instalment,
        "max_discount": rules.max_discount_for(stage),
        "agent_discount": rules.agent_discount_for(stage),
        "intervals": list(rules.intervals),
        "first_date_min": today,
        "first_date_max": today + timedelta(days=rules.max_first_days),
    }  # fmt: skip
