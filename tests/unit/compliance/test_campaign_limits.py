"""A campaign's numeric limits (compliance/campaign_limits.py): refused out of range
when the campaign is created, read within range at use, so no page adds 10**9 days
to a date (OverflowError) or int()s a text (ValueError)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from compliance import campaign_limits
from compliance.plan_rules import PlanRulesError, plan_rules_for
from console import agent_service
from store.models import Account

HOSTILE = [10**9, -1, 10**30, "9" * 50, "abc", "²", 1.5, True, None, [], {}, "1e9"]


@pytest.mark.parametrize("value", [v for v in HOSTILE if v is not None])
@pytest.mark.parametrize("key", sorted(campaign_limits.LIMITS))
def test_given_limit_out_of_range_when_campaign_created_then_refused_with_its_name(
    key: str, value: Any
) -> None:
    problems = campaign_limits.problems({key: value})
    assert len(problems) == 1 and key in problems[0] and "whole number" in problems[0]


@pytest.mark.parametrize("key", sorted(campaign_limits.LIMITS))
def test_given_limits_in_range_when_campaign_created_then_accepted(key: str) -> None:
    spec = campaign_limits.LIMITS[key]
    assert campaign_limits.problems({key: spec.low}) == []
    assert campaign_limits.problems({key: str(spec.high)}) == []
    assert campaign_limits.problems({}) == []


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("key", sorted(campaign_limits.LIMITS))
def test_given_stored_limit_out_of_range_when_used_then_within_range(key: str, value: Any) -> None:
    spec = campaign_limits.LIMITS[key]
    assert spec.low <= campaign_limits.limit({key: value}, key) <= spec.high


def test_given_huge_promise_horizon_then_plan_rules_refuse_it() -> None:
    with pytest.raises(PlanRulesError, match="promise_max_days"):
        plan_rules_for({"promise_max_days": 10**9})


@pytest.mark.parametrize("value", [10**9, "abc", -5])
def test_given_stored_huge_promise_horizon_when_agent_checks_a_promise_then_no_overflow(
    value: Any,
) -> None:
    account = Account(balance=Decimal("100"), country="MX", currency="MXN", stage="friendly")
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    limits = agent_service._limits(account, {"promise_max_days": value}, now)
    assert 0 <= limits.max_days <= 366
