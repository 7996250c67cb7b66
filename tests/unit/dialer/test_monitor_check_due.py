"""When a monitoring session's agent state is read again (dialer/monitoring.py
check_due): the bound on what a lost agent event lets a supervisor hear."""

from __future__ import annotations

import pytest

from dialer.monitoring import CHECK_SECONDS, check_due

T = 1_800_000_000.0


@pytest.mark.parametrize(
    ("checked_at", "now", "due"),
    [
        (None, T, True),  # never read: at once
        (T, T, False),  # just read
        (T, T + CHECK_SECONDS / 2, False),
        (T, T + CHECK_SECONDS, True),  # the bound itself
        (T, T + 3600, True),  # a process paused for an hour
        (T, T - 1, True),  # the clock was set back: read, never wait for it to catch up
        (T, T - 86400, True),
    ],
)
def test_given_last_reading_then_due_at_most_check_seconds_later(
    checked_at: float | None, now: float, due: bool
) -> None:
    assert check_due(checked_at, now) is due


def test_given_a_shorter_period_then_it_is_the_bound() -> None:
    assert check_due(T, T + 0.5, every=0.5) is True
    assert check_due(T, T + 0.4, every=0.5) is False
