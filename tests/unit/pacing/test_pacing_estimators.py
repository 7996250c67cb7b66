"""Estimators: censored survival, ring-outcome hazards, the Wilson bound."""

from __future__ import annotations

import math

import pytest

from dialer.pacing.estimators import (
    RingModel,
    Survival,
    free_within_rows,
    wilson_upper,
    wrap_free_rows,
)
from dialer.pacing.snapshot import DurationSample, RingSample


def test_given_no_trials_when_wilson_upper_then_it_is_one():
    assert wilson_upper(0, 0) == 1.0


def test_given_zero_of_many_when_wilson_upper_then_small_but_positive():
    upper = wilson_upper(0, 1000)
    assert 0 < upper < 0.005


def test_given_more_drops_when_wilson_upper_then_higher_and_above_the_raw_rate():
    assert wilson_upper(5, 100) > 0.05
    assert wilson_upper(5, 100) < wilson_upper(6, 100)
    assert wilson_upper(3, 40) > wilson_upper(30, 400)  # fewer samples, wider bound


@pytest.mark.parametrize("successes,trials", [(-1, 10), (11, 10)])
def test_given_impossible_counts_when_wilson_upper_then_value_error(successes, trials):
    with pytest.raises(ValueError):
        wilson_upper(successes, trials)


def test_given_finished_samples_when_survival_then_step_function_of_durations():
    s = Survival.from_samples([DurationSample(x, True) for x in (10, 20, 30, 40)], 100)
    assert s.at(5) == 1.0
    assert s.at(15) == pytest.approx(0.75)
    assert s.at(35) == pytest.approx(0.25)


def test_given_ongoing_long_calls_when_survival_then_censored_ones_keep_it_high():
    finished = [DurationSample(x, True) for x in (30, 40, 50)]
    ongoing = [DurationSample(100, False) for _ in range(3)]
    naive = Survival.from_samples(finished, 180)
    censored = Survival.from_samples(finished + ongoing, 180)
    assert naive.at(60) == 0.0
    assert censored.at(60) == pytest.approx(0.5)
    assert censored.at(500) > 0  # beyond the data: exponential tail, never zero


def test_given_no_samples_when_survival_then_exponential_prior():
    s = Survival.from_samples([], 100)
    assert s.at(100) == pytest.approx(math.exp(-1))


def test_given_negative_duration_when_survival_then_value_error():
    with pytest.raises(ValueError):
        Survival.from_samples([DurationSample(-1, True)], 100)


def test_given_fixed_talk_when_free_within_then_only_agents_near_the_end_free_up():
    talk = Survival.from_samples([DurationSample(100, True) for _ in range(20)], 100)
    rows, _ = free_within_rows(talk, wrap_points=(0.0,), horizons=(10.0,))
    assert rows[95][0] == pytest.approx(1.0)
    assert rows[50][0] == pytest.approx(0.0)
    assert rows[95][1] == pytest.approx(0.0)  # variance of a sure thing


def test_given_wrap_up_of_20s_when_talk_ends_then_agent_is_not_free_before_wrap_ends():
    talk = Survival.from_samples([DurationSample(100, True) for _ in range(20)], 100)
    rows, _ = free_within_rows(talk, wrap_points=(20.0,), horizons=(10.0, 30.0))
    assert rows[95][0] == pytest.approx(0.0)
    assert rows[95][1] == pytest.approx(1.0)


def test_given_wrap_samples_when_wrap_rows_then_probability_grows_with_elapsed_wrap():
    wrap = Survival.from_samples([DurationSample(x, True) for x in range(10, 31)], 20)
    rows, tail = wrap_free_rows(wrap, horizons=(5.0,))
    assert rows[5][0] < rows[20][0] <= 1.0
    assert 0 < tail[0] < 1


def test_given_30_percent_humans_at_8s_when_ring_model_then_rates_by_time_rung():
    samples = [RingSample(8.0, "human")] * 30 + [RingSample(25.0, "no_answer")] * 70
    model = RingModel.from_samples(samples, horizons=(5.0, 15.0))
    assert model.human_rate == pytest.approx(0.3)
    assert model.row(0)[0] == pytest.approx(0.0)  # nobody answers within 5 s
    assert model.row(0)[1] == pytest.approx(0.3)
    assert model.row(5)[0] == pytest.approx(0.3)
    assert model.row(12)[1] == pytest.approx(0.0)  # past the answer time: no person left


def test_given_calls_still_ringing_when_ring_model_then_they_count_as_censored():
    ended = [RingSample(8.0, "human")] * 30 + [RingSample(25.0, "no_answer")] * 60
    ringing = [RingSample(3.0, "ringing")] * 10
    model = RingModel.from_samples(ended + ringing, horizons=(15.0,))
    # The 10 still ringing at 3 s are not counted as failures: 30 of 90 decided.
    assert model.human_rate == pytest.approx(30 / 90)


def test_given_negative_ring_sample_when_ring_model_then_value_error():
    with pytest.raises(ValueError):
        RingModel.from_samples([RingSample(-2.0, "human")], horizons=(5.0,))
