"""tests/support: the one `until`, `within` and `free_port`."""

from __future__ import annotations

import asyncio
import socket

import pytest
from support.polling import until, within
from support.ports import free_port


async def test_given_a_condition_that_becomes_true_then_until_returns() -> None:
    calls = []

    def ready() -> bool:
        calls.append(1)
        return len(calls) >= 3

    await until(ready, every=0)
    assert len(calls) == 3


async def test_given_an_async_condition_then_it_is_awaited() -> None:
    async def ready() -> bool:
        return True

    await until(ready)


async def test_given_a_condition_never_true_then_the_failure_names_it() -> None:
    with pytest.raises(AssertionError, match="not reached in 0 s: the agent is ready"):
        await until(lambda: False, "the agent is ready", within=0, every=0)
    with pytest.raises(AssertionError, match="state: paused"):
        await until(lambda: None, lambda: "state: paused", within=0, every=0)


async def test_given_an_awaitable_that_ends_then_within_gives_its_result() -> None:
    async def answer() -> int:
        return 42

    assert await within(answer(), "the answer") == 42


async def test_given_an_awaitable_that_never_ends_then_within_fails_naming_it() -> None:
    with pytest.raises(AssertionError, match="not reached in 0.05 s: the pop"):
        await within(asyncio.Event().wait(), "the pop", seconds=0.05)


def test_given_a_free_port_then_a_server_can_bind_it() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
