"""Wait for a condition by polling it, never by a fixed sleep."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

# How long a wait may take before the test fails: a bound for a hang, never a
# measure of the code (a loaded 2-core CI machine slows everything tenfold).
WITHIN = 60.0

T = TypeVar("T")


async def until(
    condition: Callable[[], object],
    what: str | Callable[[], str] = "condition",
    within: float = WITHIN,
    every: float = 0.02,
) -> None:
    """Poll `condition()` (plain or awaitable) until it is true. After `within` seconds
    of wall time (a loaded machine slows the test, not the deadline's meaning) the
    test fails naming `what` (a callable is asked then, to describe the state)."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not reached in {within:g} s: {what() if callable(what) else what}"
            )
        await asyncio.sleep(every)


async def within(awaitable: Awaitable[T], what: str, seconds: float = WITHIN) -> T:
    """What `awaitable` gives (a socket's next message, a process's end), failing the test
    naming `what` after `seconds` of wall time: a bound for a hang, like `until`'s."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise AssertionError(f"not reached in {seconds:g} s: {what}") from None


def until_sync(
    condition: Callable[[], object],
    what: str | Callable[[], str] = "condition",
    within: float = WITHIN,
    every: float = 0.2,
    tolerate: tuple[type[BaseException], ...] = (),
) -> None:
    """`until` for code with no event loop (a subprocess's HTTP API): polls
    `condition()`, counting an exception of a `tolerate` type as "not yet"."""
    deadline = time.monotonic() + within
    while True:
        try:
            if condition():
                return
        except tolerate:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not reached in {within:g} s: {what() if callable(what) else what}"
            )
        time.sleep(every)
