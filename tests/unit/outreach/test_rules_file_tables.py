"""A campaign rules file (TOML) whose tables have the wrong shape - `recycle = true`,
`messages = [""]`, `payment_plans = "0"` - is refused by the reader of that table with
its own error naming it (`cobrador campaign create --rules` and `cobrador outreach
check` print it), never TypeError or AttributeError from deep inside."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.plan_rules import PlanRulesError, plan_rules_for
from compliance.profile import ProfileError, load_profiles, tighten
from dialer.inbound.settings import InboundSettingsError, inbound_settings
from dialer.recycle import RecycleConfigError, rules_for
from outreach.commands import check_rules
from outreach.strategy import StrategyError, strategy_for

PROFILE = load_profiles()["MX"]
ERRORS = (ProfileError, PlanRulesError, RecycleConfigError, InboundSettingsError, StrategyError)


def read_every_table(config: dict[str, Any]) -> list[str]:
    """What `campaign create --rules` runs on a rules file; the problems it reports."""
    problems = []
    readers = (lambda: tighten(PROFILE, config.get("compliance"), "c"),
               lambda: rules_for(config.get("recycle")), lambda: plan_rules_for(config),
               lambda: inbound_settings(config, "MX", None), lambda: strategy_for(config))  # fmt: skip
    for read in readers:
        try:
            read()
        except ERRORS as exc:
            problems.append(str(exc))
    return problems + check_rules(config)


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({"recycle": True}, "recycle must be a table"),
        ({"payment_plans": "0"}, "payment_plans must be a table"),
        ({"strategy": [""]}, "strategy must be a table"),
        ({"messages": True}, "messages must be a table"),
    ],
)
def test_given_a_table_that_is_not_one_then_its_reader_names_it(
    config: dict[str, Any], said: str
) -> None:
    assert any(said in problem for problem in read_every_table(config))


KEYS = st.sampled_from([
    "compliance", "recycle", "payment_plans", "inbound", "strategy", "messages", "stages",
    "friendly", "firm", "steps", "day", "channel", "template", "hours", "max_instalments",
    "min_instalment", "intervals", "no_answer", "busy", "delay_minutes", "max", "skill_group",
    "sender", "sms_sender", "phone", "portal_url", "link_hours", "show_amount", "caps", "sms",
])  # fmt: skip
LEAF = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
        | st.sampled_from(["sms", "call", "recordatorio", "08:00", "monthly", "500.00", "NaN"])
        | st.dates() | st.times())  # fmt: skip
VALUES = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_given_any_rules_file_then_problems_named_never_another_exception(
    config: dict[str, Any],
) -> None:
    assert all(isinstance(problem, str) for problem in read_every_table(config))
