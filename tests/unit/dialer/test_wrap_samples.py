"""Wrap-up samples the live dial loop learns from the agents' states each tick."""

from __future__ import annotations

import pytest

from dialer.loop.wrap_samples import WrapWatcher
from dialer.pacing.snapshot import DurationSample


def test_given_an_agent_in_wrap_up_when_sampled_then_a_censored_sample_of_its_time_so_far():
    w = WrapWatcher()
    w.observe([(7, "wrap_up", 100.0)])
    assert w.samples(112.0) == (DurationSample(12.0, False),)


def test_given_a_wrap_up_over_when_sampled_then_its_length_from_the_next_state():
    w = WrapWatcher()
    w.observe([(7, "talking", 40.0)])
    w.observe([(7, "wrap_up", 100.0)])
    w.observe([(7, "ready", 125.0)])
    assert w.samples(130.0) == (DurationSample(25.0, True),)


def test_given_a_pause_from_wrap_up_when_sampled_then_the_wrap_up_ended_there():
    w = WrapWatcher()
    w.observe([(7, "wrap_up", 100.0), (8, "wrap_up", 101.0)])
    w.observe([(7, "paused", 118.0), (8, "wrap_up", 101.0)])
    assert set(w.samples(120.0)) == {DurationSample(18.0, True), DurationSample(19.0, False)}


def test_given_two_wrap_ups_between_looks_when_sampled_then_each_is_its_own_sample():
    w = WrapWatcher()
    w.observe([(7, "wrap_up", 100.0)])
    # Ready, a call, and wrap-up again since the last look: a new `since`.
    w.observe([(7, "wrap_up", 300.0)])
    assert w.samples(310.0) == (DurationSample(200.0, True), DurationSample(10.0, False))


def test_given_the_same_wrap_up_seen_every_tick_when_sampled_then_one_sample():
    w = WrapWatcher()
    for _ in range(5):
        w.observe([(7, "wrap_up", 100.0)])
    assert len(w.samples(105.0)) == 1


def test_given_an_agent_logged_out_in_wrap_up_when_sampled_then_never_counted_as_freed():
    w = WrapWatcher()
    w.observe([(7, "wrap_up", 100.0)])
    w.observe([])
    assert w.samples(160.0) == (DurationSample(60.0, False),)
    # Logged in again later: a later wrap-up is a new sample.
    w.observe([(7, "wrap_up", 500.0)])
    w.observe([(7, "ready", 520.0)])
    assert DurationSample(20.0, True) in w.samples(530.0)


@pytest.mark.parametrize("state", ["ready", "talking", "paused", "reserved", "no_audio"])
def test_given_agents_never_in_wrap_up_when_sampled_then_none(state):
    w = WrapWatcher()
    w.observe([(7, state, 100.0)])
    w.observe([(7, state, 100.0)])
    assert w.samples(200.0) == ()
