"""pbxsim's clock, held by the test: while held, no simulated wait ends (no debtor
answers, no ring runs out), so what a test does "while the call rings" happens while
it rings however slow the machine, instead of within a ring time of wall clock."""

from __future__ import annotations

import asyncio
import time

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


class PausableClock(ScaledClock):
    """A ScaledClock that stops while paused: simulated time does not pass, so a wait
    that had 2 s left when paused has 2 s left when resumed (a HeldClock's waits run
    on while held and all end at its release). Pauses are kept by reason: time runs
    again when every reason that paused it has resumed it."""

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__(speed)
        self._reasons: set[object] = set()
        self._paused_at: float | None = None
        self._paused_for = 0.0  # wall seconds spent in the pauses before this one
        self._running = asyncio.Event()
        self._running.set()

    def now(self) -> float:
        wall = self._paused_at if self._paused_at is not None else time.monotonic()
        return self._epoch + (wall - self._start - self._paused_for) * self.speed

    @property
    def paused(self) -> bool:
        return bool(self._reasons)

    def pause(self, reason: object = None) -> None:
        if not self._reasons:
            self._paused_at = time.monotonic()
            self._running.clear()
        self._reasons.add(reason)

    def resume(self, reason: object = None) -> None:
        self._reasons.discard(reason)
        if not self._reasons and self._paused_at is not None:
            self._paused_for += time.monotonic() - self._paused_at
            self._paused_at = None
            self._running.set()

    async def sleep(self, seconds: float) -> None:
        until = self.now() + max(0.0, seconds)
        while True:
            await self._running.wait()
            left = until - self.now()
            if left <= 0:
                # Woken late (a loaded machine runs the event loop late): the lag was
                # no simulated time. Time is set back to the wait's end, so what the
                # waiter does next (the next prompt, a hangup) starts from there, as
                # in the recording, and never later than a wait due after it.
                self._paused_for += -left / self.speed
                return
            await asyncio.sleep(left / self.speed)
