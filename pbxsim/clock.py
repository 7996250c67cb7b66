"""Simulated time for pbxsim: real time, optionally accelerated.

Scenario durations are in simulated seconds; at speed 10 a 30 s call lasts 3 s
of wall time. Tests and benchmarks inject the clock they want.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Simulated epoch seconds."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of simulated time."""


class ScaledClock:
    """Wall clock running `speed` times faster (speed 1 = real time)."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be > 0")
        self.speed = speed
        self._epoch = time.time()
        self._start = time.monotonic()

    def now(self) -> float:
        return self._epoch + (time.monotonic() - self._start) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)
