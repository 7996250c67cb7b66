"""pbxsim's clock, held by the test: while held, no simulated wait ends (no debtor
answers, no ring runs out), so what a test does "while the call rings" happens while
it rings however slow the machine, instead of within a ring time of wall clock."""

from __future__ import annotations

import asyncio

from pbxsim.clock import ScaledClock


class HeldClock(ScaledClock):
    """A ScaledClock whose waits end only while it runs: a wait whose time passes while
    the clock is held ends when it is released. A hangup still interrupts a wait at once
    (pbxsim's `wait` races the clock against the channel's interrupt)."""

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__(speed)
        self._running = asyncio.Event()
        self._running.set()

    def hold(self) -> None:
        self._running.clear()

    def release(self) -> None:
        self._running.set()

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        await self._running.wait()
