"""The console's pop subscriber at start: it waits for a slow or absent Redis (saying
so) instead of failing the console's start, and a subscriber that dies is an error."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from support.polling import until

from console import pophub
from console.pophub import PopHub


class SlowPubSub:
    """Redis's pubsub as a slow host gives it: subscribe returns when `answer` is set."""

    def __init__(self, answer: asyncio.Event, fail: Exception | None) -> None:
        self.answer, self.fail = answer, fail
        self.subscribed: tuple[str, ...] = ()

    async def subscribe(self, *channels: str) -> None:
        if self.fail is not None:
            raise self.fail
        await self.answer.wait()
        self.subscribed = channels

    async def get_message(self, **_: Any) -> None:
        await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        return None


class SlowRedis:
    def __init__(self, fail: Exception | None = None) -> None:
        self.answer = asyncio.Event()
        self.fail = fail
        self.pubsubs: list[SlowPubSub] = []

    def pubsub(self, **_: Any) -> SlowPubSub:
        self.pubsubs.append(SlowPubSub(self.answer, self.fail))
        return self.pubsubs[-1]


def _hub(redis: SlowRedis) -> PopHub:
    return PopHub(redis, None, clock=lambda: None)  # type: ignore[arg-type]


async def test_given_redis_slow_to_answer_when_the_console_starts_then_it_waits_saying_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: start gave up after 10 s with a TimeoutError and the console did not start.
    monkeypatch.setattr(pophub, "READY_WARN_SECONDS", 0.01)
    redis = SlowRedis()
    hub = _hub(redis)
    caplog.set_level(logging.WARNING, logger="console.pophub")
    starting = asyncio.create_task(hub.start())
    await until(
        lambda: sum("still waiting to subscribe" in r.message for r in caplog.records) >= 3,
        "three warnings while Redis does not answer",
    )
    assert not starting.done()
    redis.answer.set()
    await asyncio.wait_for(starting, 60)
    assert redis.pubsubs[-1].subscribed  # start returned only once subscribed
    await hub.stop()


async def test_given_a_subscriber_that_dies_when_the_console_starts_then_start_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pophub, "READY_WARN_SECONDS", 0.01)
    hub = _hub(SlowRedis(fail=ValueError("not a redis reply")))
    with pytest.raises(ValueError, match="not a redis reply"):
        await asyncio.wait_for(hub.start(), 60)
