"""Rolling sample logs that build a Snapshot's censored samples from call and agent events.

The simulator feeds them its events; the live dial loop can feed them the
same events (originate, answer/hangup, bridge, wrap-up end) so that both
build `talk_samples`, `wrap_samples` and `ring_samples` the same way: every
interval that STARTED inside the window, finished ones with their length,
running ones as censored ("at least this long").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any

from dialer.pacing.snapshot import (
    HANDLE_SAMPLE_WINDOW_SECONDS,
    RING_OUTCOMES,
    RING_SAMPLE_WINDOW_SECONDS,
    DurationSample,
    RingSample,
)


class _Interval:
    __slots__ = ("start", "sample")

    def __init__(self, start: float) -> None:
        self.start = start
        self.sample: Any = None  # DurationSample or RingSample once finished


class DurationLog:
    """Talk (or wrap-up) intervals started within the last `window_seconds`."""

    def __init__(self, window_seconds: float = HANDLE_SAMPLE_WINDOW_SECONDS) -> None:
        self.window = window_seconds
        self._intervals: deque[_Interval] = deque()
        self._open: dict[Hashable, _Interval] = {}

    def start(self, key: Hashable, at: float) -> None:
        """`key` (an agent, a call) starts an interval; a second start replaces the first."""
        interval = _Interval(at)
        self._intervals.append(interval)
        self._open[key] = interval

    def end(self, key: Hashable, at: float) -> None:
        interval = self._open.pop(key, None)
        if interval is None:
            return  # started before we were watching: no length to learn from
        interval.sample = DurationSample(max(0.0, at - interval.start), True)

    def samples(self, now: float) -> tuple[DurationSample, ...]:
        _forget_before(self._intervals, now - self.window)
        return tuple(
            [
                i.sample if i.sample is not None else DurationSample(max(0.0, now - i.start), False)
                for i in self._intervals
            ]
        )


class RingLog:
    """Calls dialed within the last `window_seconds`, with how their ringing ended."""

    def __init__(self, window_seconds: float = RING_SAMPLE_WINDOW_SECONDS) -> None:
        self.window = window_seconds
        self._intervals: deque[_Interval] = deque()
        self._open: dict[Hashable, _Interval] = {}

    def dialed(self, call: Hashable, at: float) -> None:
        interval = _Interval(at)
        self._intervals.append(interval)
        self._open[call] = interval

    def ended(self, call: Hashable, at: float, outcome: str) -> None:
        """The call stopped ringing: `human`, `machine`, `busy`, `failed` or `no_answer`."""
        if outcome not in RING_OUTCOMES or outcome == "ringing":
            raise ValueError(f"unknown ring outcome {outcome!r}")
        interval = self._open.pop(call, None)
        if interval is None:
            return
        interval.sample = RingSample(max(0.0, at - interval.start), outcome)

    def samples(self, now: float) -> tuple[RingSample, ...]:
        _forget_before(self._intervals, now - self.window)
        return tuple(
            [
                i.sample if i.sample is not None else RingSample(max(0.0, now - i.start), "ringing")
                for i in self._intervals
            ]
        )


def _forget_before(intervals: deque[_Interval], horizon: float) -> None:
    while intervals and intervals[0].start < horizon:
        intervals.popleft()
