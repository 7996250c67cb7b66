"""An hour's ledger of risk: charges made at decision times, summed over the last hour.

The pacing policy charges each decision that dials ahead the rise in the
chance of abandons its calls bring; the charges of the last rolling hour
bound the expected count of such events an hour, which no per-decision
limit does when a decision is taken every second.
"""

from __future__ import annotations

from collections import deque


class HourLedger:
    """Charges (time, amount) kept for `seconds`; `spent(now)` is their sum."""

    def __init__(self, seconds: float = 3600.0) -> None:
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        self.seconds = seconds
        self._charges: deque[tuple[float, float]] = deque()
        self._sum = 0.0

    def spent(self, now: float) -> float:
        """The charges of the `seconds` up to `now` (older ones are dropped)."""
        charges = self._charges
        while charges and charges[0][0] <= now - self.seconds:
            self._sum -= charges.popleft()[1]
        if not charges:
            self._sum = 0.0  # no float dust left behind
        return max(0.0, self._sum)

    def charge(self, now: float, amount: float) -> None:
        if amount > 0:
            self._charges.append((now, amount))
            self._sum += amount

    @property
    def last_spent(self) -> float:
        """The sum as of the last `spent` or `charge` (for traces; no clock)."""
        return max(0.0, self._sum)
