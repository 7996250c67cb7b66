"""Hopper priority of an account: pure, weights configurable per campaign
(`config["priority"]`). Higher is dialed first."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

DEFAULT_WEIGHTS = {
    "stage": {"friendly": 100, "firm": 200, "prelegal": 300},
    "days_past_due": 0.5,  # per day, capped at 365 days
    "balance_log10": 20,  # per power of ten of the balance
    "broken_promise": 800,
    "callback_due": 2000,
}


def weights_for(config: Mapping[str, Any] | None) -> dict[str, Any]:
    weights = {**DEFAULT_WEIGHTS, **(config or {})}
    weights["stage"] = {**DEFAULT_WEIGHTS["stage"], **(config or {}).get("stage", {})}  # type: ignore[dict-item]
    return weights


def account_priority(
    *,
    stage: str,
    due_date: date | None,
    balance: Decimal,
    today: date,
    broken_promise: bool = False,
    callback_due: bool = False,
    weights: Mapping[str, Any] = DEFAULT_WEIGHTS,
) -> int:
    score = float(weights["stage"].get(stage, 0))
    if due_date is not None:
        score += min(max((today - due_date).days, 0), 365) * float(weights["days_past_due"])
    if balance > 0:
        score += math.log10(float(balance) + 1) * float(weights["balance_log10"])
    if broken_promise:
        score += float(weights["broken_promise"])
    if callback_due:
        score += float(weights["callback_due"])
    return max(0, min(9999, int(score)))
