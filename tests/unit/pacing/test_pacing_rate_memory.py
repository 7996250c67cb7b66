"""The answer rate's memory of earlier windows, the pooled rate, clump sizes and the hour to come."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from pacing_helpers import snapshot, windows

from dialer.pacing.estimators import (
    RateMemory,
    clump_size,
    poisson_tail,
    pooled_answer_rate,
    window_break_probability,
)
from dialer.pacing.policies import PredictivePolicy
from dialer.pacing.snapshot import AbandonWindow, AgentView, RingSample


def _window(rate: float, calls: int, rng: random.Random) -> tuple[int, int]:
    return sum(1 for _ in range(calls) if rng.random() < rate), calls


# -- RateMemory ---------------------------------------------------------------


def test_given_a_bank_when_counts_then_it_joins_the_memory_only_at_the_next_bank():
    m = RateMemory(window=900.0, half_life=1e12)
    m.bank(30, 100, now=0.0)
    # The window just banked may still overlap the one in use: not remembered yet.
    assert m.counts(60.0) == (0.0, 0.0)
    assert not m.due(899.0)
    assert m.due(900.0)
    m.bank(12, 80, now=900.0)
    assert m.counts(900.0) == pytest.approx((30.0, 100.0))
    m.bank(0, 0, now=1800.0)
    assert m.counts(1800.0) == pytest.approx((42.0, 180.0))


def test_given_a_half_life_when_time_passes_then_the_memory_halves():
    m = RateMemory(window=900.0, half_life=3600.0)
    m.bank(30, 100, now=0.0)
    m.bank(0, 0, now=3600.0)  # the first window joins, an hour old
    assert m.counts(3600.0) == pytest.approx((15.0, 50.0))
    assert m.counts(7200.0) == pytest.approx((7.5, 25.0))
    # Asking again at the same time does not decay twice; an older time never grows it.
    assert m.counts(7200.0) == pytest.approx((7.5, 25.0))
    assert m.counts(100.0) == pytest.approx((7.5, 25.0))


def test_given_a_cleared_memory_when_counts_then_empty_and_a_bank_is_due():
    m = RateMemory()
    m.bank(30, 100, now=0.0)
    m.bank(30, 100, now=900.0)
    m.clear()
    assert m.counts(950.0) == (0.0, 0.0)
    assert m.due(950.0)
    m.bank(5, 10, now=950.0)
    m.bank(5, 10, now=1850.0)
    assert m.counts(1850.0)[1] == pytest.approx(10.0 * 0.5 ** (900 / 3600))


@pytest.mark.parametrize("humans,calls", [(-1, 10), (11, 10), (0, -1)])
def test_given_impossible_counts_when_banked_then_value_error(humans, calls):
    with pytest.raises(ValueError):
        RateMemory().bank(humans, calls, now=0.0)


@pytest.mark.parametrize("window,half_life", [(0.0, 3600.0), (900.0, 0.0), (-1.0, 5.0)])
def test_given_a_non_positive_window_or_half_life_when_built_then_value_error(window, half_life):
    with pytest.raises(ValueError):
        RateMemory(window=window, half_life=half_life)


# -- pooled_answer_rate -------------------------------------------------------------


def test_given_no_memory_when_pooled_then_the_window_alone():
    assert pooled_answer_rate(15, 100, 0.0, 0.0) == (0.15, 100.0, "window")


def test_given_an_empty_window_when_pooled_then_the_memory_or_nothing():
    assert pooled_answer_rate(0, 0, 30.0, 100.0) == (0.3, 100.0, "memory")
    assert pooled_answer_rate(0, 0, 0.0, 0.0) == (0.0, 0.0, "window")


def test_given_a_window_low_by_chance_when_pooled_then_the_memory_holds_the_rate_up():
    # A 5-agent team: ~86 calls in the window at 15 %, 300 remembered at 30 %:
    # 2.7 standard errors under, not enough to believe a fall.
    rate, behind, verdict = pooled_answer_rate(13, 86, 90.0, 300.0)
    assert verdict == "pooled"
    assert rate == pytest.approx(103 / 386)
    assert behind == pytest.approx(386.0)


def test_given_a_clear_fall_when_pooled_then_the_window_alone():
    rate, behind, verdict = pooled_answer_rate(10, 100, 300.0, 1000.0)
    assert (rate, behind, verdict) == (0.1, 100.0, "fall")


def test_given_a_rise_when_pooled_then_believed_sooner_than_a_fall():
    # The same distance (about 2.5 standard errors) up and down: a rise is
    # believed (too low a rate abandons debtors), a fall is pooled away.
    up = pooled_answer_rate(42, 100, 300.0, 1000.0)
    down = pooled_answer_rate(18, 100, 300.0, 1000.0)
    assert up[2] == "rise" and up[0] == pytest.approx(0.42)
    assert down[2] == "pooled" and down[0] > 0.18


@pytest.mark.parametrize(
    "args", [(-1, 10, 1.0, 2.0), (11, 10, 1.0, 2.0), (1, 10, -1.0, 2.0), (1, 10, 1.0, -2.0)]
)
def test_given_impossible_counts_when_pooled_then_value_error(args):
    with pytest.raises(ValueError):
        pooled_answer_rate(*args)


def test_given_a_steady_rate_and_seeded_windows_when_pooled_then_far_fewer_estimates_are_far_low():
    # A 5-agent team at 30 %: 80 calls a window; the memory as the policy keeps
    # it (every window banked, one window behind, half-life 4 windows).
    rng = random.Random(2027)
    true = 0.3
    low_window = low_pooled = trials = 0
    for _ in range(200):
        memory = RateMemory(window=900.0, half_life=3600.0)
        for k in range(8):
            memory.bank(*_window(true, 80, rng), now=900.0 * k)
        humans, calls = _window(true, 80, rng)
        mem_h, mem_n = memory.counts(900.0 * 8)
        rate, _, _ = pooled_answer_rate(humans, calls, mem_h, mem_n)
        trials += 1
        low_window += humans / calls < 0.8 * true
        low_pooled += rate < 0.8 * true
    assert low_window / trials > 0.05  # the window alone: often 20 % under
    assert low_pooled / trials < low_window / trials / 4


# -- clump_size ---------------------------------------------------------------


def test_given_no_clumps_when_clump_size_then_the_prior():
    assert clump_size(0, 0, prior=1.5, weight=4) == 1.5


def test_given_clumps_of_five_when_clump_size_then_it_moves_towards_five():
    assert clump_size(5, 1) == pytest.approx(11 / 5)
    assert clump_size(50, 10) == pytest.approx(56 / 14)
    assert clump_size(50, 10) < 5


def test_given_single_abandons_when_clump_size_then_never_under_one():
    assert clump_size(100, 100, prior=1.0) == 1.0
    assert 1.0 < clump_size(100, 100) < 1.5


@pytest.mark.parametrize("args", [(-1, 0, 1.5, 4), (0, -1, 1.5, 4), (0, 0, 0.5, 4), (0, 0, 1.5, 0)])
def test_given_bad_arguments_when_clump_size_then_value_error(args):
    with pytest.raises(ValueError):
        clump_size(*args)


# -- the policy ---------------------------------------------------------------


def _rings(rate: float, calls: int, seed: int) -> tuple[RingSample, ...]:
    rng = random.Random(seed)
    return tuple(
        RingSample(8.0, "human") if rng.random() < rate else RingSample(25.0, "no_answer")
        for _ in range(calls)
    )


def _steady_then(policy: PredictivePolicy, last: tuple[RingSample, ...], now: float):
    """Feed the policy an hour and a half of 30 % windows, then `last` at `now`."""
    base = snapshot(talking=[235.0] * 20, ready=2)
    for k in range(6):
        at = 900.0 * k
        s = dataclasses.replace(
            base,
            now=at,
            stats_at=at,
            ring_samples=_rings(0.3, 100, seed=k),
            agents=tuple(AgentView(a.state, at - (base.now - a.state_since)) for a in base.agents),
        )
        policy.calls_to_place(s)
    s = dataclasses.replace(
        base,
        now=now,
        stats_at=now,
        ring_samples=last,
        agents=tuple(AgentView(a.state, now - (base.now - a.state_since)) for a in base.agents),
    )
    return policy.calls_to_place(s)


def test_given_a_window_low_by_chance_when_predictive_remembers_then_its_bound_stays_near_the_true_rate():
    # 14 of 90 (15.6 %) after hours at 30 %: by chance, not a change.
    low = tuple([RingSample(8.0, "human")] * 14 + [RingSample(25.0, "no_answer")] * 76)
    remembering = PredictivePolicy(budget_guard=False, drift_z=0)
    forgetting = PredictivePolicy(budget_guard=False, drift_z=0, rate_memory=False)
    n_remembering = _steady_then(remembering, low, 5460.0)
    n_forgetting = _steady_then(forgetting, low, 5460.0)
    assert remembering.rate_verdict == "pooled"
    assert remembering._ring is not None and forgetting._ring is not None
    assert remembering._ring.human_rate > 0.2 > forgetting._ring.human_rate
    assert remembering.rate_error < forgetting.rate_error
    # Its upper bound of the rate is near the true 30 %, the window's far under it.
    up_remembering = remembering._ring.human_rate * (1 + remembering.rate_error)
    up_forgetting = forgetting._ring.human_rate * (1 + forgetting.rate_error)
    assert abs(up_remembering - 0.3) < 0.05 < 0.1 < 0.3 - up_forgetting
    assert n_remembering > 0 and n_forgetting > 0


def test_given_a_clear_fall_when_predictive_remembers_then_it_follows_and_forgets():
    fell = _rings(0.08, 120, seed=99)
    policy = PredictivePolicy(budget_guard=False, drift_z=0)
    _steady_then(policy, fell, 5460.0)
    assert policy.rate_verdict == "fall"
    assert policy._ring is not None and policy._ring.human_rate < 0.15
    assert policy._memory is not None and policy._memory.counts(5460.0) == (0.0, 0.0)


def test_given_a_burst_of_abandons_when_predictive_counts_then_the_clump_grows():
    policy = PredictivePolicy()
    s = snapshot(talking=[60.0] * 20, ready=2, answered=150)
    policy.calls_to_place(s)
    assert policy.clump_now() == 1.5
    # Five abandons seconds apart (the windows' counts: half hour, hour, day, month).
    burst = dataclasses.replace(s, now=s.now + 1, abandonment=windows(150, 1))
    burst = dataclasses.replace(
        burst, abandonment=tuple(dataclasses.replace(w, abandoned=5) for w in s.abandonment)
    )
    policy.calls_to_place(burst)
    later = dataclasses.replace(burst, now=s.now + 4)
    policy.calls_to_place(later)
    assert policy.clump_now() == pytest.approx((5 + 4 * 1.5) / (1 + 4))  # one clump of 5
    apart = dataclasses.replace(
        burst,
        now=s.now + 60,
        abandonment=tuple(dataclasses.replace(w, abandoned=6) for w in s.abandonment),
    )
    policy.calls_to_place(apart)
    assert policy.clump_now() == pytest.approx((6 + 4 * 1.5) / (2 + 4))  # a second clump
    fixed = PredictivePolicy(clump_weight=0)
    fixed.calls_to_place(s)
    fixed.calls_to_place(burst)
    assert fixed.clump_now() == 1.5


def test_given_half_the_team_goes_to_lunch_when_predictive_then_the_hour_to_come_expects_half_the_answers():
    policy = PredictivePolicy()
    team = [60.0] * 20
    for k in range(0, 3700, 10):
        s = snapshot(talking=team, answered=150, now=10_000.0 + k)
        policy.calls_to_place(s)
    full = policy._answers_per_hour(s)
    assert full == pytest.approx(300.0)
    lunch = dataclasses.replace(
        s, now=s.now + 10, agents=s.agents[:10] + (AgentView("paused", s.now),) * 10
    )
    assert policy._answers_per_hour(lunch) == pytest.approx(150.0, rel=0.05)
    # The last half hour's pace caps it too (the answer rate fell).
    slow = dataclasses.replace(
        lunch,
        abandonment=(AbandonWindow(1800.0, 30, 0),) + lunch.abandonment[1:],
    )
    assert policy._answers_per_hour(slow) == pytest.approx(60.0 * 0.5, rel=0.05)


def test_given_one_abandon_left_in_the_hour_when_predictive_then_progressive_only():
    # 5 agents, ~70 answers an hour (35 a half hour): 2 allowed, one spent;
    # what is left holds no whole clump of 1.5, so no dialing ahead on the model
    # (the exact path is tested on its own: test_pacing_exact_ahead.py).
    policy = PredictivePolicy(exact_ahead=False)
    busy = [235.0] * 4
    policy.calls_to_place(snapshot(talking=busy, ready=1, answered=35, abandoned=0))
    assert policy.last_reason == "model"
    spent = snapshot(talking=busy, ready=1, answered=35, abandoned=1, now=10_001.0)
    assert policy.calls_to_place(spent) == 1
    assert policy.last_reason == "budget"


def test_given_an_uncertain_allowance_when_window_break_probability_then_above_the_fixed_one():
    # 73 answers expected: 2 allowed, but 66 or fewer (1 allowed) about one time in five.
    fixed = poisson_tail(1, 0.107)
    mixed = window_break_probability(0, 73.0, 0.03, 0.107, 1.5)
    assert mixed > 3 * fixed
    assert mixed == pytest.approx(0.027, abs=0.002)
    # A large team: the allowance moves by a few of its 45; both are negligible.
    assert window_break_probability(10, 1500.0, 0.03, 8.0, 1.5) < 1e-4


def test_given_seeded_hours_when_window_break_probability_then_it_matches_the_simulated_share():
    rng = random.Random(7)
    answers, rate, clump, spent = 80.0, 0.4, 1.0, 0
    broke = 0
    trials = 4000
    for _ in range(trials):
        # Poisson answers (by summing exponential gaps) and Poisson abandons.
        n, t = 0, rng.expovariate(answers)
        while t < 1.0:
            n += 1
            t += rng.expovariate(answers)
        a, t = 0, rng.expovariate(rate)
        while t < 1.0:
            a += 1
            t += rng.expovariate(rate)
        broke += spent + a > math.floor(0.03 * n + 1e-9)
    assert window_break_probability(spent, answers, 0.03, rate, clump) == pytest.approx(
        broke / trials, abs=0.02
    )


@pytest.mark.parametrize(
    "args",
    [
        (-1, 70.0, 0.03, 0.1, 1.5),
        (0, -1.0, 0.03, 0.1, 1.5),
        (0, 70.0, 0.0, 0.1, 1.5),
        (0, 70.0, 0.03, -0.1, 1.5),
        (0, 70.0, 0.03, 0.1, 0.5),
    ],
)
def test_given_bad_arguments_when_window_break_probability_then_value_error(args):
    with pytest.raises(ValueError):
        window_break_probability(*args)


def test_given_no_answers_expected_when_window_break_probability_then_any_abandon_breaks():
    assert window_break_probability(0, 0.0, 0.03, 0.5, 1.0) == pytest.approx(1 - math.exp(-0.5))


@pytest.mark.parametrize(
    "params",
    [
        {"memory_half_life": 0.0},
        {"rise_z": 0.0},
        {"fall_z": -1.0},
        {"clump_weight": -1.0},
        {"clump_gap_seconds": -1.0},
    ],
)
def test_given_bad_memory_or_clump_parameters_when_building_predictive_then_value_error(params):
    with pytest.raises(ValueError):
        PredictivePolicy(**params)
