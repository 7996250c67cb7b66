"""The bound on a clump of answers with nobody free (issue 27: falling-8 broke its hour)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random

import pytest
from pacing_helpers import snapshot

from dialer.pacing.estimators import (
    most_calls_within_overflow,
    overflow_probability,
    poisson_binomial,
)
from dialer.pacing.policies import PredictivePolicy
from dialer.pacing.snapshot import DurationSample, RingSample


def _by_enumeration(answer_probs, free_probs, sure_answers, sure_free, left):
    """P(answers - free > left) by summing over every outcome (small cases only)."""
    total = 0.0
    probs = list(answer_probs) + list(free_probs)
    n_a = len(answer_probs)
    for outcome in itertools.product((0, 1), repeat=len(probs)):
        weight = math.prod(p if o else 1 - p for p, o in zip(probs, outcome, strict=True))
        answers = sure_answers + sum(outcome[:n_a])
        free = sure_free + sum(outcome[n_a:])
        if answers - free > left:
            total += weight
    return total


def test_given_probabilities_when_poisson_binomial_then_it_sums_to_one_and_matches_binomial():
    pmf = poisson_binomial([0.3] * 6)
    assert sum(pmf) == pytest.approx(1.0)
    for j, v in enumerate(pmf):
        assert v == pytest.approx(math.comb(6, j) * 0.3**j * 0.7 ** (6 - j))


@pytest.mark.parametrize("seed", range(8))
def test_given_seeded_calls_and_agents_when_overflow_probability_then_it_matches_enumeration(seed):
    rng = random.Random(seed)
    answers = [rng.random() * 0.4 for _ in range(rng.randint(0, 8))]
    free = [rng.random() for _ in range(rng.randint(0, 5))]
    sure_answers, sure_free, left = rng.randint(0, 2), rng.randint(0, 3), rng.randint(0, 3)
    assert overflow_probability(answers, free, sure_answers, sure_free, left) == pytest.approx(
        _by_enumeration(answers, free, sure_answers, sure_free, left), abs=1e-12
    )


def test_given_seeded_draws_when_overflow_probability_then_it_matches_the_simulated_frequency():
    rng = random.Random(27)
    answers = [0.1] * 23  # falling-8 at 7.41 h: 23 calls ringing at a 10 % answer rate
    free = [0.15] * 5  # five agents talking
    expected = overflow_probability(answers, free, 0, 3, 2)  # 3 ready, 2 abandons left
    hits = 0
    trials = 40_000
    for _ in range(trials):
        a = sum(rng.random() < p for p in answers)
        f = 3 + sum(rng.random() < p for p in free)
        hits += a - f > 2
    assert hits / trials == pytest.approx(expected, abs=0.004)
    assert expected > 0.01  # that pile of calls broke an hour now and then


def test_given_fewer_abandons_left_when_overflow_probability_then_more_likely():
    answers, free = [0.1] * 23, [0.15] * 5
    tails = [overflow_probability(answers, free, 0, 3, left) for left in range(5)]
    assert tails == sorted(tails, reverse=True)
    assert tails[0] > 10 * tails[3]


def test_given_a_tolerance_when_most_calls_within_overflow_then_the_next_call_would_break_it():
    ringing, free = [0.1] * 8, [0.15] * 5
    n = most_calls_within_overflow(ringing, 0.1, 40, free, 0, 3, 2, 1e-3)
    assert 0 <= n < 40
    assert overflow_probability(ringing + [0.1] * n, free, 0, 3, 2) <= 1e-3
    assert overflow_probability(ringing + [0.1] * (n + 1), free, 0, 3, 2) > 1e-3


def test_given_calls_ringing_already_break_it_when_most_calls_within_overflow_then_minus_one():
    assert most_calls_within_overflow([0.5] * 20, 0.5, 5, [], 0, 1, 0, 1e-3) == -1


def test_given_a_large_team_with_room_when_most_calls_within_overflow_then_all_without_counting():
    # 100 agents' hour absorbs 40 more abandons: a few seconds' overflow never reaches it.
    assert most_calls_within_overflow([0.05] * 300, 0.05, 30, [0.1] * 90, 0, 5, 40, 1e-4) == 30


def test_given_many_calls_when_most_calls_within_overflow_then_the_normal_bound_is_close():
    ringing, free = [0.1] * 380, [0.2] * 60
    exact = most_calls_within_overflow(ringing, 0.1, 100, free, 0, 20, 3, 1e-3)
    approx = most_calls_within_overflow(ringing, 0.1, 100, free, 0, 20, 3, 1e-3, exact_up_to=10)
    assert abs(exact - approx) <= 3


@pytest.mark.parametrize("bad", [0.0, 1.0])
def test_given_a_tolerance_outside_0_1_when_most_calls_within_overflow_then_value_error(bad):
    with pytest.raises(ValueError):
        most_calls_within_overflow([], 0.1, 1, [], 0, 0, 0, bad)


# 10 % of calls answered by a person, 3-17 s after the dial; talks exponential (mean 180 s).
LOW_RINGS = tuple(
    RingSample(3.0 + (i // 10) % 15, "human") if i % 10 == 0 else RingSample(25.0, "no_answer")
    for i in range(300)
)
SPREAD_TALKS = tuple(DurationSample(-180 * math.log(1 - (i + 0.5) / 200), True) for i in range(200))


def _falling8_moment(ringing: int, abandoned: int):
    # 8 agents, 3 ready and 5 talking, about 110 answers an hour; `abandoned`
    # per half hour (so twice that in the hour), the answer rate 10 %.
    return dataclasses.replace(
        snapshot(
            talking=[60.0] * 5,
            ready=3,
            ringing=[2.0] * ringing,
            answered=55,
            abandoned=abandoned,
        ),
        ring_samples=LOW_RINGS,
        talk_samples=SPREAD_TALKS,
    )


# A margin z come down low (the controller after a calm hour): only the overflow bound holds it.
LOW_Z = {"budget_guard": False, "z_start": 0.5, "z_min": 0.5}


@pytest.mark.parametrize("ringing", [0, 6, 12])
def test_given_a_small_team_at_a_low_answer_rate_when_deciding_then_the_overflow_bound_places_fewer(
    ringing,
):
    s = _falling8_moment(ringing, 0)
    bounded = PredictivePolicy(**LOW_Z)
    placed = bounded.calls_to_place(s)
    assert placed < PredictivePolicy(overflow_bound=False, **LOW_Z).calls_to_place(s)
    assert bounded.last_reason == "overflow"


def test_given_fewer_abandons_left_in_the_hour_when_deciding_then_fewer_calls():
    calm, spent = _falling8_moment(3, 0), _falling8_moment(3, 1)
    first, second = PredictivePolicy(**LOW_Z), PredictivePolicy(**LOW_Z)
    placed_calm, placed_spent = first.calls_to_place(calm), second.calls_to_place(spent)
    # 3 abandons allowed in the hour (its answers taken one standard deviation low); 0 or 2 spent.
    assert (first._overflow_left(calm), second._overflow_left(spent)) == (3, 1)
    assert placed_spent < placed_calm


def test_given_a_large_team_with_room_when_deciding_then_the_overflow_bound_changes_nothing():
    s = snapshot(talking=[60.0] * 95, ready=5, ringing=[3.0] * 20, answered=750)
    assert PredictivePolicy().calls_to_place(s) == PredictivePolicy(
        overflow_bound=False
    ).calls_to_place(s)


@pytest.mark.parametrize(
    "kwargs",
    [{"overflow_break_probability": 0.0}, {"overflow_answers_z": -1}, {"overflow_level_z": -1}],
)
def test_given_bad_overflow_parameters_when_built_then_value_error(kwargs):
    with pytest.raises(ValueError):
        PredictivePolicy(**kwargs)


# The guard's middle level: dial ahead with a wider margin rather than fall back to progressive.


def _hundred(abandoned_per_half_hour: int):
    # 100 agents, 1500 answers an hour (45 abandons allowed), 5 ready.
    return snapshot(talking=[200.0] * 95, ready=5, answered=750, abandoned=abandoned_per_half_hour)


def test_given_the_hour_is_tight_but_holds_a_quarter_of_the_aim_when_deciding_then_cautious():
    s = _hundred(18)  # 36 of 45 spent
    # The guard's levels alone (the exact path would add its few calls to each).
    cautious = PredictivePolicy(guard_break_test=True, exact_ahead=False)
    before = PredictivePolicy(guard_break_test=True, guard_cautious=False, exact_ahead=False)
    placed, progressive = cautious.calls_to_place(s), before.calls_to_place(s)
    assert (cautious._budget_level(s), cautious.last_reason) == (1, "cautious")
    assert before.last_reason == "budget"
    calm = PredictivePolicy(guard_break_test=True, exact_ahead=False)
    assert progressive < placed < calm.calls_to_place(_hundred(5))


def test_given_cautious_dialing_when_time_passes_then_z_does_not_come_down():
    policy = PredictivePolicy(guard_break_test=True, exact_ahead=False)
    s = _hundred(18)
    policy.calls_to_place(s)
    z = policy.z
    for step in range(1, 121):  # two hours of ticks a minute apart, all cautious
        later = dataclasses.replace(s, now=s.now + 60.0 * step)
        policy.calls_to_place(later)
        assert policy.last_reason == "cautious"
    assert policy.z == z


def test_given_the_hour_holds_not_even_a_quarter_of_the_aim_when_deciding_then_progressive():
    s = _hundred(21)  # 42 of 45 spent: under two clumps left
    policy = PredictivePolicy(guard_break_test=True, exact_ahead=False)
    assert policy.calls_to_place(s) == 5
    assert (policy._budget_level(s), policy.last_reason) == (2, "budget")


@pytest.mark.parametrize("kwargs", [{"guard_z_step": 0.0}, {"guard_cautious_share": 0.0}])
def test_given_bad_cautious_parameters_when_built_then_value_error(kwargs):
    with pytest.raises(ValueError):
        PredictivePolicy(**kwargs)
