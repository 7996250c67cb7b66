"""What payment plans a campaign lets its agents agree: the ``payment_plans`` table
of the campaign's rules file, read and checked (errors in English, for the
operator). Pure; the calculator that applies them is console/payment_plans.py.

    [payment_plans]
    max_instalments = 12                # never more instalments than this
    min_instalment = "500.00"           # in the account's currency (a dot for cents)
    max_first_days = 30                 # the first payment at most this many days away
    intervals = ["weekly", "biweekly", "monthly"]
    supervisor_above_instalments = 6    # more instalments wait for a supervisor

    [payment_plans.max_discount]        # per stage, of the balance: never more
    firm = "0.20"
    prelegal = "0.35"

    [payment_plans.agent_discount]      # per stage: above it, a supervisor approves
    firm = "0.10"
    prelegal = "0.20"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from compliance import campaign_limits

CENT = Decimal("0.01")
STAGES = ("friendly", "firm", "prelegal", "legal")
INTERVALS = ("weekly", "biweekly", "monthly")
DEFAULT_MAX_INSTALMENTS = 6
DEFAULT_MAX_FIRST_DAYS = 30
HARD_MAX_INSTALMENTS = 60  # five years of monthly payments: anything longer is a typo
RULE_KEYS = {"max_instalments", "min_instalment", "max_first_days", "intervals",
             "supervisor_above_instalments", "max_discount", "agent_discount"}  # fmt: skip


class PlanRulesError(ValueError):
    """A campaign's payment_plans table is wrong (said to the operator, in English)."""


@dataclass(frozen=True)
class PlanRules:
    max_instalments: int = DEFAULT_MAX_INSTALMENTS
    min_instalment: Decimal = Decimal(0)
    max_first_days: int = DEFAULT_MAX_FIRST_DAYS
    intervals: tuple[str, ...] = INTERVALS
    # None: the number of instalments never needs a supervisor.
    supervisor_above_instalments: int | None = None
    # Fractions of the balance per stage; a stage not named allows no discount.
    max_discount: Mapping[str, Decimal] = field(default_factory=dict)
    agent_discount: Mapping[str, Decimal] = field(default_factory=dict)

    def max_discount_for(self, stage: str) -> Decimal:
        return self.max_discount.get(stage, Decimal(0))

    def agent_discount_for(self, stage: str) -> Decimal:
        return min(self.agent_discount.get(stage, Decimal(0)), self.max_discount_for(stage))


def rules_from(config: Mapping[str, Any] | None, max_first_days: int | None = None) -> PlanRules:
    """The campaign's ``payment_plans`` table over the defaults; PlanRulesError names
    the bad key. ``max_first_days`` defaults to the campaign's promise horizon."""
    if config is not None and not isinstance(config, Mapping):
        raise PlanRulesError("payment_plans must be a table (max_instalments = ..., ...)")
    raw = dict(config or {})
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise PlanRulesError(f"payment_plans: unknown key(s) {', '.join(unknown)}")
    first_days = max_first_days if max_first_days is not None else DEFAULT_MAX_FIRST_DAYS
    rules = PlanRules(
        max_instalments=_int(raw, "max_instalments", DEFAULT_MAX_INSTALMENTS, 1,
                             HARD_MAX_INSTALMENTS),
        min_instalment=_money(raw.get("min_instalment", "0"), "min_instalment"),
        max_first_days=_int(raw, "max_first_days", first_days, 0, 366),
        intervals=_intervals(raw.get("intervals", list(INTERVALS))),
        supervisor_above_instalments=(
            _int(raw, "supervisor_above_instalments", 0, 1, HARD_MAX_INSTALMENTS)
            if "supervisor_above_instalments" in raw else None
        ),
        max_discount=_per_stage(raw.get("max_discount"), "max_discount"),
        agent_discount=_per_stage(raw.get("agent_discount"), "agent_discount"),
    )  # fmt: skip
    for stage, share in rules.agent_discount.items():
        if share > rules.max_discount_for(stage):
            raise PlanRulesError(
                f"payment_plans.agent_discount.{stage} ({share}) is above "
                f"payment_plans.max_discount.{stage} ({rules.max_discount_for(stage)})"
            )
    return rules


def _int(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PlanRulesError(f"payment_plans.{key} must be a whole number from {low} to {high}")
    return value


def _money(value: Any, key: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PlanRulesError(f"payment_plans.{key} {value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
        raise PlanRulesError(f"payment_plans.{key} must be >= 0 with at most two decimals")
    return amount


def _share(value: Any, key: str) -> Decimal:
    try:
        share = Decimal(str(value))
    except InvalidOperation:
        raise PlanRulesError(f"{key} {value!r} is not a number") from None
    if not share.is_finite() or not Decimal(0) <= share < Decimal(1):
        raise PlanRulesError(f"{key} must be a fraction of the balance from 0 to below 1")
    return share


def _per_stage(table: Any, key: str) -> dict[str, Decimal]:
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise PlanRulesError(f"payment_plans.{key} must be a table of stage = fraction")
    out = {}
    for stage, value in table.items():
        if stage not in STAGES:
            raise PlanRulesError(f"payment_plans.{key}: unknown stage {stage!r}")
        out[str(stage)] = _share(value, f"payment_plans.{key}.{stage}")
    return out


def _intervals(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise PlanRulesError("payment_plans.intervals must be a non-empty list")
    for item in value:
        if item not in INTERVALS:
            raise PlanRulesError(
                f"payment_plans.intervals: {item!r} is not one of {', '.join(INTERVALS)}"
            )
    return tuple(dict.fromkeys(str(v) for v in value))


DEFAULT_PROMISE_MAX_DAYS = 30


def plan_rules_for(config: Mapping[str, Any]) -> PlanRules:
    """A campaign's plan rules from its whole config: the first payment's horizon is
    its promise horizon (``promise_max_days``) unless the table says otherwise."""
    bad = campaign_limits.problems(
        {"promise_max_days": config["promise_max_days"]} if "promise_max_days" in config else {}
    )
    if bad:
        raise PlanRulesError(bad[0])
    horizon = campaign_limits.limit(config, "promise_max_days")
    return rules_from(config.get("payment_plans"), max_first_days=horizon)
