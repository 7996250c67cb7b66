"""The demo's clock over the data of an earlier start: never earlier than what it holds."""

from __future__ import annotations

from datetime import timedelta

from cobrador.demo import DemoClock


def test_given_data_ahead_of_the_clock_when_resumed_then_it_reads_just_after_the_last_contact() -> (
    None
):
    clock = DemoClock(offset=-86_400.0)  # started with --at a day back
    latest = clock.now() + timedelta(days=1, minutes=10)  # the earlier run's last call
    resumed = clock.not_before(latest)
    assert resumed is not None
    assert latest < resumed.now() < latest + timedelta(minutes=1)


def test_given_the_clock_past_the_data_when_resumed_then_unchanged() -> None:
    clock = DemoClock(offset=3_600.0)
    assert clock.not_before(clock.now() - timedelta(minutes=5)) is None
    assert clock.not_before(None) is None
