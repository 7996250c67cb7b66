"""The hour's clump ledger: dialing ahead is charged the clump risk it brings, an hour's worth at most.

Issue 27: a per-decision bound on the chance of an hour-breaking clump let a
shift offer thousands of slightly different sets of calls, each at the bound,
and small unseen teams broke the hour.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from test_pacing_overflow import LOW_Z, _falling8_moment

from dialer.pacing.estimators import RingModel, overflow_probability, overflow_tails
from dialer.pacing.policies import PredictivePolicy
from dialer.pacing.snapshot import RingingCall, RingSample


@pytest.mark.parametrize("seed", range(6))
def test_given_seeded_calls_when_overflow_tails_then_each_matches_overflow_probability(seed):
    rng = random.Random(seed)
    ringing = [rng.random() * 0.5 for _ in range(rng.randint(0, 10))]
    free = [rng.random() for _ in range(rng.randint(0, 6))]
    new, most = rng.random() * 0.3, rng.randint(0, 8)
    sure_answers, sure_free, left = rng.randint(0, 2), rng.randint(0, 4), rng.randint(0, 3)
    tails = overflow_tails(ringing, new, most, free, sure_answers, sure_free, left)
    assert len(tails) == most + 1
    for n, tail in enumerate(tails):
        assert tail == pytest.approx(
            overflow_probability(ringing + [new] * n, free, sure_answers, sure_free, left),
            abs=1e-12,
        )
    assert tails == sorted(tails)  # another call never makes a clump less likely


def test_given_many_calls_when_overflow_tails_then_the_normal_branch_is_close_to_exact():
    ringing, free = [0.1] * 120, [0.2] * 30
    exact = overflow_tails(ringing, 0.1, 40, free, 0, 10, 3)
    approx = overflow_tails(ringing, 0.1, 40, free, 0, 10, 3, exact_up_to=10)
    for e, a in zip(exact, approx, strict=True):
        assert a == pytest.approx(e, abs=0.02)


def test_given_a_large_team_far_inside_the_bound_when_overflow_tails_then_zeros_without_counting():
    assert overflow_tails([0.05] * 300, 0.05, 30, [0.1] * 90, 0, 5, 40) == [0.0] * 31


def test_given_a_negative_most_when_overflow_tails_then_value_error():
    with pytest.raises(ValueError):
        overflow_tails([], 0.1, -1, [], 0, 0, 0)


# A small team at a low answer rate, margin come down: only the overflow bounds hold it.
TIGHT = dict(LOW_Z, overflow_break_probability=0.9)  # the per-decision limit out of the way
TIGHT_DECISION = dict(LOW_Z, clump_ledger=False)  # the per-decision limit alone


def _ticks(policy: PredictivePolicy, start: float, seconds: int) -> list[int]:
    base = _falling8_moment(3, 0)
    return [policy.calls_to_place(dataclasses.replace(base, now=start + t)) for t in range(seconds)]


def test_given_dialing_ahead_when_the_hours_budget_is_spent_then_fewer_calls_until_it_ages_out():
    policy = PredictivePolicy(clump_hour_budget=0.01, **TIGHT)
    unbounded = PredictivePolicy(clump_ledger=False, **TIGHT)
    s = _falling8_moment(3, 0)
    start = s.now
    first = _ticks(policy, start, 600)
    assert first[0] == unbounded.calls_to_place(s)  # the budget is whole: no cut
    assert policy.clump_risk_spent <= 0.01 + 1e-12  # never overspent ...
    assert policy.clump_risk_spent > 0.0099  # ... and spent
    # Spent, only calls whose added risk fits in what is left: far fewer.
    assert first[-1] < first[0] / 2
    assert policy.last_reason == "overflow"
    later = _ticks(policy, start + 3600.0 + 600, 1)  # the charges aged out of the hour
    assert later[0] > first[-1] * 2


def test_given_a_decision_that_does_not_dial_ahead_when_charged_then_nothing_is_charged():
    # A margin so wide that the model places no more than progressive.
    policy = PredictivePolicy(**dict(TIGHT, z_start=5.0, z_min=5.0, z_max=5.0))
    _ticks(policy, _falling8_moment(3, 0).now, 60)
    assert policy.last_reason != "overflow"
    assert policy.clump_risk_spent == 0.0


def test_given_the_ledger_off_when_deciding_then_nothing_is_charged():
    policy = PredictivePolicy(clump_ledger=False, **TIGHT)
    _ticks(policy, _falling8_moment(3, 0).now, 60)
    assert policy.clump_risk_spent == 0.0


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_given_a_budget_outside_0_1_when_built_then_value_error(bad):
    with pytest.raises(ValueError):
        PredictivePolicy(clump_hour_budget=bad)


# The ring model's late rows rest on few calls: the clump bound takes their upper bound.


def test_given_ring_samples_when_the_model_is_built_then_each_row_counts_the_calls_behind_it():
    samples = [RingSample(5.0, "human")] * 10 + [RingSample(25.0, "no_answer")] * 30
    model = RingModel.from_samples(samples, (10.0, 30.0))
    assert model.count_at(0) == 40
    assert model.count_at(5) == 40  # answered during second 5: still at risk in it
    assert model.count_at(6) == 30
    assert model.count_at(24) == 30
    assert model.count_at(999) == model.at_risk[-1]  # past the table: its last row's count
    assert model.count_at(-3) == 40


def _thin_tail_snapshot():
    # 3 ready agents, 5 talking; 5 calls rung 11-13 s. In the 15-minute window
    # 80 calls: 24 answered by a person within 10 s, one at 14 s, the rest not.
    rings = (
        tuple(RingSample(4.0 + i % 6, "human") for i in range(24))
        + (RingSample(14.0, "human"),)
        + tuple(RingSample(25.0, "no_answer") for _ in range(55))
    )
    base = _falling8_moment(0, 0)
    return dataclasses.replace(
        base,
        ringing=tuple(RingingCall(base.now - r) for r in (11.0, 12.0, 12.0, 13.0, 13.0)),
        ring_samples=rings,
    )


def test_given_late_rows_from_few_calls_when_deciding_then_the_shape_bound_places_fewer():
    s = _thin_tail_snapshot()
    shaped = PredictivePolicy(overflow_shape_z=2.0, **TIGHT_DECISION)
    rough = PredictivePolicy(overflow_shape_z=0.0, **TIGHT_DECISION)
    assert shaped.calls_to_place(s) < rough.calls_to_place(s)


@pytest.mark.parametrize("bad", [-0.5])
def test_given_a_negative_shape_z_when_built_then_value_error(bad):
    with pytest.raises(ValueError):
        PredictivePolicy(overflow_shape_z=bad)
