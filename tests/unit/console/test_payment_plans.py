"""Payment plan rules and the calculator (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.payment_plans import (
    PlanError,
    PlanRules,
    PlanRulesError,
    PlanTerms,
    due_dates,
    limits,
    parse_percent,
    propose,
    rules_from,
    split,
)

TODAY = date(2026, 11, 24)
RULES = rules_from(
    {
        "max_instalments": 12,
        "min_instalment": "500.00",
        "supervisor_above_instalments": 9,
        "max_discount": {"firm": "0.30"},
        "agent_discount": {"firm": "0.10"},
    }
)


def terms(**changes: object) -> PlanTerms:
    base = {"balance": Decimal("12500.00"), "stage": "firm", "today": TODAY, "instalments": 6,
            "discount": Decimal(0), "first_date": date(2026, 12, 1), "interval": "monthly"}  # fmt: skip
    return PlanTerms(**(base | changes))  # type: ignore[arg-type]


def test_given_six_monthly_instalments_within_rules_then_schedule_sums_to_balance() -> None:
    plan = propose(RULES, terms())
    assert [i.due_date for i in plan.instalments] == [
        date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1),
        date(2027, 3, 1), date(2027, 4, 1), date(2027, 5, 1),
    ]  # fmt: skip
    assert [i.amount for i in plan.instalments] == [Decimal("2083.33")] * 5 + [Decimal("2083.35")]
    assert sum(i.amount for i in plan.instalments) == plan.total == Decimal("12500.00")
    assert not plan.needs_approval and plan.forgiven == 0


def test_given_discount_above_the_agents_limit_then_plan_waits_for_a_supervisor() -> None:
    plan = propose(RULES, terms(discount=Decimal("0.20")))
    assert plan.total == Decimal("10000.00") and plan.forgiven == Decimal("2500.00")
    assert plan.approval_reasons == ("descuento mayor que el que autoriza un gestor",)
    many = propose(RULES, terms(instalments=10))
    assert many.approval_reasons == ("más pagos de los que autoriza un gestor",)


def test_given_terms_outside_the_rules_then_every_broken_rule_is_named() -> None:
    with pytest.raises(PlanError) as caught:
        propose(
            RULES,
            terms(instalments=13, discount=Decimal("0.31"), first_date=date(2026, 11, 1),
                  interval="daily"),
        )  # fmt: skip
    assert set(caught.value.errors) == {
        "plan_instalments", "plan_discount", "plan_first_date", "plan_interval"
    }  # fmt: skip
    assert caught.value.fills["plan_discount"] == {"maximo": "30 %"}


def test_given_instalments_below_the_minimum_then_refused_with_the_most_that_fit() -> None:
    with pytest.raises(PlanError) as caught:
        propose(RULES, terms(balance=Decimal("2400.00"), instalments=6), show=lambda d: f"${d}")
    assert caught.value.fills["plan_instalments"] == {"minimo": "$500.00", "pagos": "4"}
    # One payment of the whole (small) balance is always possible.
    assert propose(RULES, terms(balance=Decimal("100.00"), instalments=1)).total == Decimal("100")


def test_given_stage_without_discount_rules_then_no_discount_at_all() -> None:
    with pytest.raises(PlanError) as caught:
        propose(RULES, terms(stage="friendly", discount=Decimal("0.01")))
    assert caught.value.fills["plan_discount"] == {"maximo": "0 %"}
    with pytest.raises(PlanError):
        propose(RULES, terms(balance=Decimal(0)))


def test_given_first_payment_beyond_the_horizon_then_refused() -> None:
    with pytest.raises(PlanError) as caught:
        propose(RULES, terms(first_date=date(2026, 12, 31)))
    assert set(caught.value.errors) == {"plan_first_date"}


def test_given_monthly_from_the_31st_then_short_months_use_their_last_day() -> None:
    assert due_dates(date(2027, 1, 31), "monthly", 4) == [
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)
    ]  # fmt: skip
    assert due_dates(date(2027, 1, 1), "biweekly", 3)[-1] == date(2027, 1, 29)
    assert due_dates(date(2027, 1, 1), "weekly", 2)[-1] == date(2027, 1, 8)


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2),
    st.integers(min_value=1, max_value=60),
)
def test_given_any_total_then_split_adds_up_to_the_cent_and_last_carries_the_rest(
    total: Decimal, count: int
) -> None:
    parts = split(total, count)
    assert sum(parts) == total and len(parts) == count
    assert all(p == parts[0] for p in parts[:-1]) and parts[-1] >= parts[0]


@pytest.mark.parametrize(
    "config, named",
    [
        ({"max_instalment": 3}, "unknown key"),
        ({"max_instalments": 0}, "max_instalments"),
        ({"max_instalments": "6"}, "max_instalments"),
        ({"min_instalment": "-1"}, "min_instalment"),
        ({"min_instalment": "diez"}, "min_instalment"),
        ({"min_instalment": "1.005"}, "min_instalment"),
        ({"intervals": ["daily"]}, "intervals"),
        ({"intervals": []}, "intervals"),
        ({"max_discount": {"late": "0.1"}}, "unknown stage"),
        ({"max_discount": {"firm": "1.5"}}, "max_discount.firm"),
        ({"max_discount": "0.1"}, "max_discount"),
        ({"max_discount": {"firm": "0.1"}, "agent_discount": {"firm": "0.2"}}, "above"),
        ({"supervisor_above_instalments": True}, "supervisor_above_instalments"),
    ],
)
def test_given_bad_rules_then_error_names_the_key(config: dict[str, object], named: str) -> None:
    with pytest.raises(PlanRulesError, match=named):
        rules_from(config)


def test_given_no_rules_then_defaults_allow_six_instalments_and_no_discount() -> None:
    rules = rules_from(None, max_first_days=15)
    assert rules == PlanRules(max_first_days=15)
    shown = limits(rules, "firm", Decimal("12500"), TODAY)
    assert shown["max_instalments"] == 6 and shown["max_discount"] == 0
    assert shown["first_date_max"] == date(2026, 12, 9)
    assert limits(RULES, "firm", Decimal("2400"), TODAY)["max_instalments"] == 4


@pytest.mark.parametrize("raw, share", [("10", "0.1"), ("12,5", "0.125"), ("12.5 %", "0.125"),
                                        ("", "0")])  # fmt: skip
def test_given_percent_typed_either_way_then_read(raw: str, share: str) -> None:
    assert parse_percent(raw) == Decimal(share)


@pytest.mark.parametrize("raw", ["100", "-5", "diez", "1.234", "NaN", "1e2"])
def test_given_bad_percent_then_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_percent(raw)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("2026-12-01", "1 de diciembre de 2026"), ("", ""), ("not a day", "not a day"),
     ("2026-02-30", "2026-02-30"), (None, "None")],
)  # fmt: skip
def test_given_a_stored_schedule_day_when_shown_then_in_words_or_as_stored_when_not_a_day(
    stored: str, shown: str
) -> None:
    from console.debtor_locale import DebtorLocale
    from console.plan_service import _day

    assert _day(stored, DebtorLocale("es_MX")) == shown
