"""When an after-hours caller is called back: the center's next opening, moved
forward to the first moment inside the debtor's calling window.

Pure: the opening instant, a checker of the debtor's window (the compliance
engine's time rules, see console/callback_window) and a step in; an instant out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from compliance.callback_window import CallbackChecker, CallbackTarget
from dialer.inbound.hours import OpeningHours

STEP = timedelta(minutes=15)
HORIZON = timedelta(days=8)


def callback_due(now: datetime, hours: OpeningHours, target: CallbackTarget,
                 checker: CallbackChecker, step: timedelta = STEP) -> datetime | None:  # fmt: skip
    """First instant >= the next opening when the center is open AND the debtor may
    be called; None when there is none within HORIZON (fail closed: no callback
    time is invented, the request stays for a person to handle)."""
    at = hours.next_opening(now)
    while at is not None and at - now <= HORIZON:
        if hours.is_open(at) and not checker(target, at):
            return at
        at = at + step
        if not hours.is_open(at):
            at = hours.next_opening(at)
    return None
