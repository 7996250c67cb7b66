"""Sample logs: finished intervals with their length, running ones censored, old ones forgotten."""

from __future__ import annotations

import pytest

from dialer.pacing.samples import DurationLog, RingLog
from dialer.pacing.snapshot import DurationSample, RingSample


def test_given_a_finished_and_a_running_talk_when_samples_then_one_exact_one_censored():
    log = DurationLog(window_seconds=3600)
    log.start("agent-1", 100.0)
    log.start("agent-2", 150.0)
    log.end("agent-1", 280.0)
    assert log.samples(400.0) == (DurationSample(180.0, True), DurationSample(250.0, False))


def test_given_talks_started_before_the_window_when_samples_then_forgotten():
    log = DurationLog(window_seconds=600)
    log.start("a", 0.0)
    log.end("a", 100.0)
    log.start("b", 500.0)
    assert log.samples(1000.0) == (DurationSample(500.0, False),)


def test_given_an_end_without_a_start_when_logged_then_ignored():
    log = DurationLog()
    log.end("never-started", 10.0)
    assert log.samples(20.0) == ()


def test_given_calls_ringing_and_ended_when_ring_samples_then_outcomes_and_censored():
    log = RingLog(window_seconds=900)
    log.dialed(1, 10.0)
    log.dialed(2, 12.0)
    log.ended(1, 18.0, "human")
    assert log.samples(20.0) == (RingSample(8.0, "human"), RingSample(8.0, "ringing"))


@pytest.mark.parametrize("outcome", ["ringing", "answered", ""])
def test_given_unknown_outcome_when_ring_ends_then_value_error(outcome):
    log = RingLog()
    log.dialed(1, 0.0)
    with pytest.raises(ValueError):
        log.ended(1, 5.0, outcome)
