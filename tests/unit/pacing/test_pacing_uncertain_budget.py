"""`uncertain_budget_rate`: the abandons an hour may expect when its allowance rests on
answers still to come (issue 27: the exact path spent an hour's one abandon as if the
hour's 34 answers were sure)."""

from __future__ import annotations

import pytest

from dialer.pacing.estimators import budget_rate, uncertain_budget_rate, window_break_probability

TARGET = 0.03


def test_given_answers_that_allow_no_abandon_when_budgeting_then_only_the_first_counts():
    # 20 answers an hour allow none unless 34 come (3 sd over): one abandon breaks it.
    assert uncertain_budget_rate(0, 20.0, TARGET, 0.005) == pytest.approx(
        budget_rate(0, 0.005), rel=1e-2
    )


def test_given_one_abandon_that_may_not_fit_when_budgeting_then_under_the_sure_allowance():
    # 44 answers: one abandon fits unless the hour holds under 34 (about one in twenty).
    rate = uncertain_budget_rate(0, 44.0, TARGET, 0.005)
    assert rate < budget_rate(1, 0.005) * 0.75
    assert window_break_probability(0, 44.0, TARGET, rate, 1.0) == pytest.approx(0.005, rel=1e-3)
    assert window_break_probability(0, 44.0, TARGET, rate * 1.01, 1.0) > 0.005


def test_given_more_answers_when_budgeting_then_never_less():
    rates = [uncertain_budget_rate(0, float(n), TARGET, 0.005) for n in range(0, 400, 7)]
    assert all(b >= a - 1e-9 for a, b in zip(rates, rates[1:], strict=False))
    assert rates[-1] > 3.0  # ~390 answers allow 11


def test_given_the_abandons_already_there_may_break_it_when_budgeting_then_zero():
    # One abandon in an hour of 37 answers: under 34 of them (a third of the time) it
    # breaks with no new abandon at all.
    assert uncertain_budget_rate(1, 37.0, TARGET, 0.005) == 0.0


@pytest.mark.parametrize("probability", [0.0, 1.0, -0.1, 2.0])
def test_given_a_probability_outside_0_1_when_budgeting_then_value_error(probability):
    with pytest.raises(ValueError):
        uncertain_budget_rate(0, 44.0, TARGET, probability)


@pytest.mark.parametrize(("spent", "answers"), [(-1, 44.0), (0, -1.0)])
def test_given_negative_counts_when_budgeting_then_value_error(spent, answers):
    with pytest.raises(ValueError):
        uncertain_budget_rate(spent, answers, TARGET, 0.005)
