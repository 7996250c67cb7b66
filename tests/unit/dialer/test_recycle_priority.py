from datetime import date
from decimal import Decimal

import pytest

from dialer.priority import account_priority, weights_for
from dialer.recycle import (
    DEFAULT_RULES,
    REST_SECONDS,
    RecycleConfigError,
    next_attempt_after,
    rules_for,
)


def test_given_defaults_when_no_answer_then_back_after_delay_and_rests_after_max() -> None:
    rules = rules_for(None)
    assert (
        next_attempt_after("no_answer", 1, 1000.0, rules)
        == 1000.0 + DEFAULT_RULES["no_answer"].delay_seconds
    )
    assert next_attempt_after("no_answer", 6, 1000.0, rules) == 1000.0 + REST_SECONDS


def test_given_campaign_override_then_used_and_bad_values_refused() -> None:
    rules = rules_for({"busy": {"delay_minutes": 5, "max": 2}})
    assert next_attempt_after("busy", 1, 0.0, rules) == 300.0
    assert next_attempt_after("busy", 2, 0.0, rules) == REST_SECONDS
    for bad in (
        {"voicemail": {}},
        {"busy": {"delay_minutes": -1}},
        {"busy": {"max": 0}},
        {"busy": {"max": "x"}},
    ):
        with pytest.raises(RecycleConfigError):
            rules_for(bad)


def test_given_accounts_then_priority_orders_callbacks_broken_promises_later_stages() -> None:
    today = date(2026, 11, 24)
    base = dict(due_date=date(2026, 10, 1), balance=Decimal("1000"), today=today)
    friendly = account_priority(stage="friendly", **base)  # type: ignore[arg-type]
    prelegal = account_priority(stage="prelegal", **base)  # type: ignore[arg-type]
    broken = account_priority(stage="friendly", broken_promise=True, **base)  # type: ignore[arg-type]
    callback = account_priority(stage="friendly", callback_due=True, **base)  # type: ignore[arg-type]
    assert friendly < prelegal < broken < callback <= 9999
    w = weights_for({"stage": {"friendly": 5000}})
    assert account_priority(stage="friendly", weights=w, **base) > prelegal  # type: ignore[arg-type]
