"""When a channel's legal window next opens for a debtor: a forward search over a
predicate that says whether an instant is inside every window of every candidate zone
(the compliance engine's day, hours and holiday rules). Pure; the predicate is handed in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

# Windows open on whole minutes; a quarter of an hour is shorter than any window the
# profiles ship, so a coarse step never jumps over one.
COARSE = timedelta(minutes=15)
# Longer than any run of closed days (a long weekend with holidays on both sides).
HORIZON = timedelta(days=10)


def next_opening(
    allowed: Callable[[datetime], bool],
    after: datetime,
    horizon: timedelta = HORIZON,
    step: timedelta = COARSE,
) -> datetime | None:
    """The first whole minute strictly after `after` at which `allowed` holds, or None
    within `horizon` (the debtor can never be reached: a zone or a profile fails)."""
    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if allowed(start):
        return start
    closed = start
    probe = start + step
    end = after + horizon
    while probe <= end:
        if allowed(probe):
            # The opening lies in (closed, probe]: narrow it to the minute.
            low, high = closed, probe
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) // 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    break
                if allowed(middle):
                    high = middle
                else:
                    low = middle
            return high
        closed = probe
        probe += step
    return None
