"""When a ready agent's pause begins (dialer/pause_rule.py): pure, times given."""

from __future__ import annotations

from dialer.pause_rule import (
    AMD_ANALYSIS_SECONDS,
    DEFAULT_WAIT_SECONDS,
    PauseWait,
    ask,
    began_at,
    wait_bound,
)


def test_given_nothing_in_flight_when_asked_then_the_pause_begins_now() -> None:
    assert ask("break", 100.0, ()) is None


def test_given_calls_in_flight_when_asked_then_pausing_until_they_are_over_or_the_deadline() -> (
    None
):
    wait = ask("break", 100.0, (95.0, 99.5), wait_seconds=37.0)
    assert wait == PauseWait("break", 100.0, 100.0, 137.0)


def test_given_a_dialer_clock_ahead_when_asked_then_its_calls_in_flight_are_still_waited_for() -> (
    None
):
    wait = ask("break", 100.0, (100.2,), wait_seconds=37.0)
    assert wait is not None and wait.mark == 100.2
    assert began_at(wait, (100.2,), 101.0) is None


def test_given_the_floor_unknown_when_asked_then_calls_are_assumed_to_ring() -> None:
    wait = ask("lunch", 100.0, None)
    assert wait == PauseWait("lunch", 100.0, 100.0, 100.0 + DEFAULT_WAIT_SECONDS)


def test_given_the_bound_then_ring_timeout_plus_detection_plus_grace() -> None:
    assert wait_bound(30.0, 2.0) == 30.0 + AMD_ANALYSIS_SECONDS + 2.0
    assert DEFAULT_WAIT_SECONDS == 37.0


def test_given_a_waited_call_still_in_flight_then_still_pausing() -> None:
    wait = PauseWait("break", 100.0, 100.0, 137.0)
    assert began_at(wait, (99.0, 104.0), 110.0) is None


def test_given_only_calls_placed_after_the_ask_in_flight_then_the_pause_begins_now() -> None:
    wait = PauseWait("break", 100.0, 100.0, 137.0)
    assert began_at(wait, (101.0, 104.0), 110.0) == 110.0
    assert began_at(wait, (), 110.0) == 110.0


def test_given_the_deadline_passed_then_the_pause_began_at_the_deadline_whatever_rings() -> None:
    wait = PauseWait("break", 100.0, 100.0, 137.0)
    assert began_at(wait, (99.0,), 150.0) == 137.0
    assert began_at(wait, None, 137.0) == 137.0


def test_given_the_floor_unknown_before_the_deadline_then_still_pausing() -> None:
    assert began_at(PauseWait("break", 100.0, 100.0, 137.0), None, 136.9) is None
