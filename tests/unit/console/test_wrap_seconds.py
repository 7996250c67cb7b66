"""Wrap-up and handle seconds of a call from its row's times and the wrap-up's end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.wrap_metrics import CallTimes, wrap_and_handle

BRIDGED = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
ENDED = BRIDGED + timedelta(seconds=95)


def test_given_a_call_ended_then_wrap_is_from_its_end_and_handle_adds_the_talk() -> None:
    call = CallTimes("mx", BRIDGED, ENDED)
    assert wrap_and_handle(call, ENDED + timedelta(seconds=25)) == (25.0, 120.0)


def test_given_naive_times_as_sqlite_returns_them_then_read_as_utc() -> None:
    call = CallTimes("mx", BRIDGED.replace(tzinfo=None), ENDED.replace(tzinfo=None))
    assert wrap_and_handle(call, ENDED + timedelta(seconds=5)) == (5.0, 100.0)


def test_given_a_wrap_up_ended_before_the_call_by_the_clock_then_no_negative_wrap() -> None:
    assert wrap_and_handle(CallTimes("mx", BRIDGED, ENDED), ENDED - timedelta(seconds=3)) == (
        0.0,
        95.0,
    )


def test_given_a_call_never_bridged_or_not_ended_then_nothing_to_observe() -> None:
    later = ENDED + timedelta(seconds=5)
    assert wrap_and_handle(CallTimes("mx", None, ENDED), later) is None
    assert wrap_and_handle(CallTimes("mx", BRIDGED, None), later) is None
