"""The guard's stop judged against the hour it starves (issue 27).

Where the windows to come would break at even a quarter of the aim's rate,
the guard stopped dialing ahead. At a low answer rate `progressive` keeps
most of the team idle, the hour's answers fall, and its allowance falls
under the abandons already in it: unseen-5 of the 2027 draw (25 agents,
5 % answers, seed 6) broke its hour that way with no new abandon.
"""

from __future__ import annotations

import dataclasses

import pytest
from pacing_helpers import snapshot

from dialer.pacing.policies import PredictivePolicy
from dialer.pacing.snapshot import AbandonWindow, RingSample

# One call in twenty answered by a person after 8 s, the rest over at 25 s.
LOW_RINGS = tuple(
    RingSample(8.0, "human") if i % 20 == 0 else RingSample(25.0, "no_answer") for i in range(400)
)


def _hour_near_full(rings=LOW_RINGS, hour=(458.0, 12.0), half=(229.0, 8.0)):
    # 25 agents; 12 abandons in an hour of 458 answers (13 allowed): no clump of room left.
    s = snapshot(talking=[30.0 + 6 * i for i in range(20)], ready=5, ringing=[2.0] * 10)
    return dataclasses.replace(
        s,
        ring_samples=rings,
        abandonment=(
            AbandonWindow(1800.0, *half),
            AbandonWindow(3600.0, *hour),
            AbandonWindow(86400.0, 4000.0, 60.0),
            AbandonWindow(2592000.0, 90000.0, 1500.0),
        ),
    )


def test_given_a_low_answer_rate_and_a_full_hour_when_the_guard_would_stop_then_it_dials_cautiously():
    s = _hour_near_full()
    starving = PredictivePolicy(guard_break_test=True)
    stopping = PredictivePolicy(guard_break_test=True, guard_starving=False)
    stopped = stopping.calls_to_place(s)
    assert stopping.last_reason == "budget"
    placed = starving.calls_to_place(s)
    # progressive here brings ~130 answers an hour where the floor had 458:
    # the hour's allowance would fall under its 12 abandons with no new one.
    assert starving.last_starving and starving.last_reason == "cautious"
    assert placed >= stopped


def test_given_a_high_answer_rate_when_the_guard_stops_then_progressive_is_kept():
    # At 30 % answers progressive keeps the team busy: its hour holds its answers.
    rings = tuple(
        RingSample(8.0, "human") if i % 10 < 3 else RingSample(25.0, "no_answer")
        for i in range(400)
    )
    s = _hour_near_full(rings=rings)
    policy = PredictivePolicy(guard_break_test=True)
    assert policy.calls_to_place(s) == PredictivePolicy(
        guard_break_test=True, guard_starving=False
    ).calls_to_place(s)
    assert policy.last_reason == "budget" and not policy.last_starving


def test_given_the_day_window_full_when_the_hour_starves_then_the_guard_still_stops():
    s = _hour_near_full()
    day_full = tuple(
        AbandonWindow(w.seconds, w.human_answered, 0.05 * w.human_answered)
        if w.seconds > 3600.0
        else w
        for w in s.abandonment
    )
    policy = PredictivePolicy(guard_break_test=True)
    policy.calls_to_place(dataclasses.replace(s, abandonment=day_full))
    assert policy.last_reason == "budget" and not policy.last_starving


def test_given_an_hour_with_room_when_deciding_then_the_starving_check_is_not_asked():
    s = _hour_near_full(hour=(458.0, 2.0), half=(229.0, 1.0))
    policy = PredictivePolicy(guard_break_test=True)
    policy.calls_to_place(s)
    assert policy.last_reason in ("model", "overflow") and not policy.last_starving


@pytest.mark.parametrize("starving", [True, False])
def test_given_the_cautious_level_off_when_the_hour_starves_then_the_guard_stops(starving):
    policy = PredictivePolicy(guard_break_test=True, guard_cautious=False, guard_starving=starving)
    policy.calls_to_place(_hour_near_full())
    assert policy.last_reason == "budget" and not policy.last_starving
