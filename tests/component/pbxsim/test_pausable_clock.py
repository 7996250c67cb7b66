"""pbxsim's pausable test clock on a late event loop: a wait woken late ends at its
own end in simulated time, so the waits chained after it keep their order against
the waits running beside them (tests/support/held_clock.py)."""

from __future__ import annotations

import asyncio
import time

from support.held_clock import PausableClock

SPEED = 2.0  # one simulated second is half a second of wall time


async def test_given_the_event_loop_late_at_a_waits_end_then_the_next_wait_starts_from_that_end() -> (
    None
):
    """Unloaded: A (1 s) then B (1 s) end at 1 and 2, C (2.5 s) beside them at 2.5. The
    loop blocked until 2.2 woke A late; the lag passed as simulated time and B ended at
    3.2, after C: the order of a recorded trace (a debtor hanging up during the
    safe-harbor message's last prompt) changed on a loaded machine."""
    clock = PausableClock(SPEED)
    start = clock.now()
    ended: list[tuple[str, float]] = []

    async def chain() -> None:
        await clock.sleep(1.0)
        ended.append(("A", clock.now() - start))
        await clock.sleep(1.0)
        ended.append(("B", clock.now() - start))

    async def beside() -> None:
        await clock.sleep(2.5)
        ended.append(("C", clock.now() - start))

    tasks = [asyncio.create_task(chain()), asyncio.create_task(beside())]
    await asyncio.sleep(0)  # both waits begin
    time.sleep(2.2 / SPEED)  # noqa: ASYNC251 - the late event loop this test is about
    await asyncio.gather(*tasks)
    assert [name for name, _ in ended] == ["A", "B", "C"]
    assert ended[0][1] < 1.2  # A's end as the simulation sees it, not the loop's lag


async def test_given_a_pause_then_time_stops_and_waits_keep_their_time_left() -> None:
    clock = PausableClock(SPEED)
    clock.pause("test")
    start = clock.now()
    waiter = asyncio.create_task(clock.sleep(0.5))
    await asyncio.sleep(1.0 / SPEED)
    assert not waiter.done() and clock.now() == start
    clock.resume("test")
    await waiter
    assert 0.5 <= clock.now() - start < 1.0
