"""When people answer, pooled over the shift: ring counts, their memory, and the policy's rows."""

from __future__ import annotations

import dataclasses
import random

import pytest
from pacing_helpers import snapshot

from dialer.pacing.estimators import EMPTY_RING_COUNTS, RingCounts, RingModel, ShapeMemory
from dialer.pacing.policies import PredictivePolicy
from dialer.pacing.snapshot import AgentView, RingSample

HORIZONS = (5.0, 10.0, 20.0)


def _late_and_early(
    calls: int, late_share: float, rate: float, seed: int
) -> tuple[RingSample, ...]:
    """Calls a person answers at 4 s or (a `late_share` of them) at 14 s; the rest ring out at 25 s."""
    rng = random.Random(seed)
    out = []
    for _ in range(calls):
        if rng.random() < rate:
            out.append(RingSample(14.0 if rng.random() < late_share else 4.0, "human"))
        else:
            out.append(RingSample(25.0, "no_answer"))
    return tuple(out)


# -- RingCounts ---------------------------------------------------------------


def test_given_samples_when_counted_then_the_model_from_counts_is_the_model_from_samples():
    samples = _late_and_early(300, 0.3, 0.3, seed=1) + (RingSample(7.5, "ringing"),)
    counts = RingCounts.of(samples)
    assert counts.calls == 301
    assert sum(counts.leaving) == 301 and counts.ended[7] == 0 and counts.leaving[7] == 1
    assert RingModel.from_counts(counts, HORIZONS) == RingModel.from_samples(samples, HORIZONS)


def test_given_two_windows_when_added_then_the_counts_are_one_window_of_both():
    a = _late_and_early(100, 0.3, 0.3, seed=2)
    b = _late_and_early(150, 0.3, 0.5, seed=3)
    both = RingCounts.of(a).plus(RingCounts.of(b))
    assert both == RingCounts.of(a + b)
    assert RingModel.from_counts(both, HORIZONS) == RingModel.from_samples(a + b, HORIZONS)
    # And a weight counts each of the other's calls that much.
    half = EMPTY_RING_COUNTS.plus(RingCounts.of(b), 0.5)
    assert half.calls == pytest.approx(75.0)
    assert sum(half.human) == pytest.approx(0.5 * sum(1 for x in b if x.outcome == "human"))


def test_given_a_negative_weight_when_added_then_value_error():
    with pytest.raises(ValueError):
        EMPTY_RING_COUNTS.plus(RingCounts.of(_late_and_early(10, 0.3, 0.3, seed=4)), -1.0)


def test_given_a_model_when_at_a_new_level_then_the_shape_is_kept_and_the_rate_moves():
    model = RingModel.from_samples(_late_and_early(400, 0.3, 0.3, seed=5), HORIZONS)
    half = model.at_level(model.human_rate / 2)
    assert half.human_rate == pytest.approx(model.human_rate / 2)
    for r in (0, 5, 12):
        assert half.row(r)[:3] == pytest.approx(tuple(p / 2 for p in model.row(r)[:3]))
    assert half.at_risk == model.at_risk and half.samples == model.samples


# -- ShapeMemory ----------------------------------------------------------------


def test_given_a_bank_when_counts_then_it_joins_the_memory_only_at_the_next_bank():
    m = ShapeMemory(window=900.0, half_life=1e12)
    first = RingCounts.of(_late_and_early(80, 0.3, 0.3, seed=6))
    m.bank(first, now=0.0)
    assert m.counts(60.0).calls == 0  # may still overlap the window in use
    assert not m.due(899.0) and m.due(900.0)
    m.bank(RingCounts.of(_late_and_early(50, 0.3, 0.3, seed=7)), now=900.0)
    assert m.counts(900.0).calls == pytest.approx(80.0)
    assert m.counts(900.0).human == pytest.approx(first.human)


def test_given_a_half_life_when_time_passes_then_the_memory_halves_once():
    m = ShapeMemory(window=900.0, half_life=3600.0)
    m.bank(RingCounts.of(_late_and_early(100, 0.3, 0.3, seed=8)), now=0.0)
    m.bank(EMPTY_RING_COUNTS, now=3600.0)  # the first window joins, an hour old
    assert m.counts(3600.0).calls == pytest.approx(50.0)
    assert m.counts(7200.0).calls == pytest.approx(25.0)
    assert m.counts(7200.0).calls == pytest.approx(25.0)
    assert m.counts(100.0).calls == pytest.approx(25.0)  # an older time never grows it


@pytest.mark.parametrize(("window", "half_life"), [(0.0, 10.0), (900.0, 0.0), (-1.0, 10.0)])
def test_given_a_non_positive_window_or_half_life_when_built_then_value_error(window, half_life):
    with pytest.raises(ValueError):
        ShapeMemory(window=window, half_life=half_life)


def test_given_negative_counts_when_banked_then_value_error():
    with pytest.raises(ValueError):
        ShapeMemory().bank(RingCounts((-1.0,), (0.0,), (0.0,), -1.0), now=0.0)


# -- the policy -----------------------------------------------------------------


def _shift(policy: PredictivePolicy, windows: list[tuple[RingSample, ...]]) -> None:
    """Feed the policy one window of ring samples every 15 minutes (a 6-agent team)."""
    base = snapshot(talking=[235.0] * 4, ready=2)
    for k, ring in enumerate(windows):
        at = 900.0 * k
        policy.calls_to_place(
            dataclasses.replace(
                base,
                now=at,
                stats_at=at,
                ring_samples=ring,
                agents=tuple(
                    AgentView(a.state, at - (base.now - a.state_since)) for a in base.agents
                ),
            )
        )


def test_given_a_shift_of_small_windows_when_the_shape_is_remembered_then_late_rows_rest_on_more_calls():
    # A small team: 80 calls a window, 30 % answered, a third of the answers at 14 s.
    windows = [_late_and_early(80, 1 / 3, 0.3, seed=10 + k) for k in range(8)]
    remembering = PredictivePolicy(budget_guard=False, drift_z=0, shape_memory=True)
    forgetting = PredictivePolicy(budget_guard=False, drift_z=0, shape_memory=False)
    _shift(remembering, windows)
    _shift(forgetting, windows)
    kept, alone = remembering._ring, forgetting._ring
    assert kept is not None and alone is not None
    # The late row rests on several windows' calls, the warm-up gate still on this window's.
    assert kept.count_at(10) > 3 * alone.count_at(10)
    assert kept.samples == alone.samples == 80
    # The level is the same (the window's, pooled with the rate memory) ...
    assert kept.human_rate == pytest.approx(alone.human_rate)
    # ... and the late row is nearer the truth: a call ringing at 10 s that a person
    # answers is one of the late tenth (0.1 of all calls), of the 0.8 still ringing.
    truth = 0.1 / 0.8
    assert abs(kept.row(10)[1] - truth) <= abs(alone.row(10)[1] - truth) + 1e-9


def test_given_a_fall_in_the_rate_when_the_shape_is_remembered_then_the_level_follows_the_window():
    steady = [_late_and_early(100, 1 / 3, 0.3, seed=20 + k) for k in range(6)]
    fell = _late_and_early(120, 1 / 3, 0.08, seed=99)
    remembering = PredictivePolicy(budget_guard=False, drift_z=0, shape_memory=True)
    _shift(remembering, [*steady, fell])
    assert remembering.rate_verdict == "fall"
    assert remembering._ring is not None and remembering._ring.human_rate < 0.15
    # The shape memory is not forgotten with the level.
    assert remembering._shape is not None and remembering._shape.counts(5400.0).calls > 300


def test_given_a_bad_shape_half_life_when_building_predictive_then_value_error():
    with pytest.raises(ValueError):
        PredictivePolicy(shape_half_life=0.0)
