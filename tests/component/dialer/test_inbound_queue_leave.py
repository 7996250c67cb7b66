"""A caller leaving the inbound queue (dialer/inbound/queue.py): removed from the
waiting set and, when counted, their outcome recorded in one step. Done in two round
trips, a reader between them (the wallboard, the dial loop, a test) saw the caller
gone and not counted: an abandoned caller missing from the hour's figures."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from dialer.inbound.queue import InboundQueue, done_key, waiting_key

CAMPAIGN = "mx-queue"


class Watching(aioredis.Redis):
    """A client that, after each command it sends, looks at the queue as any other
    client would (in one transaction) and keeps what it saw."""

    seen: list[tuple[bool, int]]
    watcher: aioredis.Redis

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        result = await super().execute_command(*args, **options)
        pipe = self.watcher.pipeline(transaction=True)
        pipe.zscore(waiting_key(CAMPAIGN), "call-1")
        pipe.zcard(done_key(CAMPAIGN))
        waiting, done = await pipe.execute()
        self.seen.append((waiting is not None, int(done)))
        return result


@pytest.mark.parametrize("result", ["abandoned", "answered", "lost"])
async def test_given_a_caller_leaving_then_no_reader_sees_them_gone_and_not_counted(
    redis_url: str, aredis: aioredis.Redis, result: str
) -> None:
    client = Watching.from_url(redis_url)
    client.seen, client.watcher = [], aredis
    queue = InboundQueue(client)
    await queue.join(CAMPAIGN, "call-1", 1000.0)
    waited = await queue.leave(CAMPAIGN, "call-1", 1012.5, result)
    await client.aclose()
    assert waited == pytest.approx(12.5)
    # Every state another client could read: waiting and not counted, or gone and counted.
    assert (False, 0) not in client.seen, client.seen
    assert client.seen[-1] == (False, 1)
    outcomes = await InboundQueue(aredis).outcomes(CAMPAIGN, 1013.0, 3600, 20)
    assert (outcomes.answered, outcomes.abandoned, outcomes.lost) == (
        int(result == "answered"), int(result == "abandoned"), int(result == "lost"))  # fmt: skip
    assert outcomes.answered_within == int(result == "answered")


async def test_given_a_caller_leaving_uncounted_or_never_queued_then_only_what_is_due(
    aredis: aioredis.Redis,
) -> None:
    queue = InboundQueue(aredis)
    await queue.join(CAMPAIGN, "call-1", 1000.0)
    assert await queue.leave(CAMPAIGN, "call-1", 1005.0, None) == pytest.approx(5.0)
    assert await queue.count(CAMPAIGN) == 0
    assert await aredis.zcard(done_key(CAMPAIGN)) == 0  # not counted: nothing recorded
    # Hung up before joining (during the greeting): an abandon that waited nothing.
    assert await queue.leave(CAMPAIGN, "call-2", 1010.0, "abandoned") == 0.0
    outcomes = await queue.outcomes(CAMPAIGN, 1011.0, 3600, 20)
    assert outcomes.abandoned == 1
