"""The inbound reserve: agents outbound pacing leaves free so inbound callers wait under target."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.pacing.inbound import (
    expected_freeing,
    inbound_reserve,
    poisson_pmf,
    shortfall_probability,
)

rates = st.floats(min_value=0.0, max_value=0.2)  # up to 720 calls an hour
freeings = st.floats(min_value=0.0, max_value=30.0)
waits = st.lists(st.floats(min_value=0.0, max_value=120.0), max_size=6)
targets = st.floats(min_value=5.0, max_value=60.0)


def reserve(rate=0.01, waited=(), target=20.0, freeing=2.0, tolerance=0.05, max_reserve=50):
    return inbound_reserve(
        rate_per_s=rate,
        waited=waited,
        wait_target_s=target,
        freeing_within_target=freeing,
        tolerance=tolerance,
        max_reserve=max_reserve,
    )


def test_given_no_arrivals_and_nobody_waiting_when_reserve_then_zero():
    assert reserve(rate=0.0, waited=(), freeing=0.0) == 0


@settings(max_examples=80, deadline=None)
@given(freeing=freeings, target=targets, max_reserve=st.integers(0, 100))
def test_given_no_inbound_at_all_when_reserve_then_always_zero(freeing, target, max_reserve):
    assert (
        reserve(rate=0.0, waited=(), freeing=freeing, target=target, max_reserve=max_reserve) == 0
    )


@settings(max_examples=80, deadline=None)
@given(low=rates, high=rates, waited=waits, freeing=freeings, target=targets)
def test_given_more_arrivals_when_reserve_then_never_fewer_agents(
    low, high, waited, freeing, target
):
    low, high = sorted((low, high))
    assert reserve(low, waited, target, freeing) <= reserve(high, waited, target, freeing)


@settings(max_examples=80, deadline=None)
@given(rate=rates, waited=waits, less=freeings, more=freeings, target=targets)
def test_given_more_agents_finishing_within_target_when_reserve_then_never_more_agents(
    rate, waited, less, more, target
):
    less, more = sorted((less, more))
    assert reserve(rate, waited, target, more) <= reserve(rate, waited, target, less)


@settings(max_examples=80, deadline=None)
@given(rate=rates, waited=waits, extra=st.floats(0.0, 120.0), freeing=freeings, target=targets)
def test_given_one_more_caller_waiting_when_reserve_then_never_fewer_agents(
    rate, waited, extra, freeing, target
):
    assert reserve(rate, waited, target, freeing) <= reserve(
        rate, [*waited, extra], target, freeing
    )


@settings(max_examples=80, deadline=None)
@given(rate=rates, waited=waits, freeing=freeings, target=targets, limit=st.integers(0, 4))
def test_given_a_team_limit_when_reserve_then_never_above_it(rate, waited, freeing, target, limit):
    assert 0 <= reserve(rate, waited, target, freeing, max_reserve=limit) <= limit


def test_given_a_small_team_freeing_rarely_when_inbound_expected_then_one_agent_is_kept_free():
    # Five agents busy on 200 s calls: ~0.5 finish within 20 s, so a caller
    # arriving now has a 60% chance of waiting longer than the target.
    small = expected_freeing(busy_agents=5, mean_handle_s=200.0, seconds=20.0)
    assert reserve(rate=10 / 3600, freeing=small) >= 1


def test_given_a_large_team_freeing_often_when_inbound_expected_then_nobody_is_kept_idle():
    # A hundred busy agents: ~10 finish within 20 s; inbound takes them first.
    large = expected_freeing(busy_agents=100, mean_handle_s=200.0, seconds=20.0)
    assert reserve(rate=200 / 3600, freeing=large) == 0


def test_given_a_caller_already_past_the_target_when_reserve_then_an_agent_is_needed_now():
    assert reserve(rate=0.0, waited=(45.0,), freeing=10.0) == 1
    assert reserve(rate=0.0, waited=(45.0, 30.0), freeing=10.0) == 2


def test_given_a_stricter_tolerance_when_reserve_then_never_fewer_agents():
    loose = reserve(rate=0.02, freeing=1.0, tolerance=0.2)
    strict = reserve(rate=0.02, freeing=1.0, tolerance=0.01)
    assert loose <= strict


def _brute_force_shortfall(needed, arrivals, kept, freeing):
    a = poisson_pmf(arrivals, 80)
    f = poisson_pmf(freeing, 80)
    return sum(pa * pf for i, pa in enumerate(a) for j, pf in enumerate(f) if needed + i > kept + j)


@settings(max_examples=60, deadline=None)
@given(
    needed=st.integers(0, 5),
    arrivals=st.floats(0.0, 6.0),
    kept=st.integers(0, 6),
    freeing=st.floats(0.0, 12.0),
)
def test_given_two_poissons_when_shortfall_probability_then_it_matches_the_double_sum(
    needed, arrivals, kept, freeing
):
    got = shortfall_probability(needed, arrivals, kept, freeing)
    assert got == pytest.approx(_brute_force_shortfall(needed, arrivals, kept, freeing), abs=1e-7)


def test_given_nothing_arriving_or_freeing_when_shortfall_then_it_is_whether_the_reserve_covers():
    assert shortfall_probability(2, 0.0, 1, 0.0) == 1.0
    assert shortfall_probability(2, 0.0, 2, 0.0) == 0.0


def test_given_a_mean_when_poisson_pmf_then_it_sums_to_one():
    assert math.fsum(poisson_pmf(7.5, 60)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_per_s": -1.0},
        {"wait_target_s": 0.0},
        {"tolerance": 1.0},
    ],
)
def test_given_bad_arguments_when_reserve_then_value_error(kwargs):
    base = {
        "rate_per_s": 0.01,
        "waited": (),
        "wait_target_s": 20.0,
        "freeing_within_target": 1.0,
        "max_reserve": 10,
    }
    with pytest.raises(ValueError):
        inbound_reserve(**{**base, **kwargs})
