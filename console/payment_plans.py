"""The payment plan calculator as the console uses it: the same pure calculator the
debtor's portal and assistant use (compliance/plan_calculator.py)."""

from __future__ import annotations

from compliance.plan_calculator import (
    INTERVAL_LABELS,
    Instalment,
    Plan,
    PlanError,
    PlanRules,
    PlanRulesError,
    PlanTerms,
    Show,
    due_dates,
    limits,
    parse_percent,
    percent,
    plan_rules_for,
    propose,
    rules_from,
    split,
)

__all__ = ["INTERVAL_LABELS", "Instalment", "Plan", "PlanError", "PlanRules", "PlanRulesError",
           "PlanTerms", "Show", "due_dates", "limits", "parse_percent", "percent",
           "plan_rules_for", "propose", "rules_from", "split"]  # fmt: skip
