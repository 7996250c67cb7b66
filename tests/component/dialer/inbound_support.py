"""Helpers for the inbound component tests kept outside test_inbound_calls.py
(skill groups, metrics, recovery): the FastAGI routes wired as dialer/service.py
does, screen-pops seen on the pops channel (polling: tests/support/polling.py)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from support.polling import within

from dialer.inbound.calls import InboundCalls
from dialer.messages import POPS_CHANNEL
from store.models import CallAttempt

DID = "5215550001000"  # the test campaign's caller ID (conftest.seed_campaign)


def wire_inbound(floor: Any) -> InboundCalls:
    inbound = InboundCalls(sql=floor.engine, redis=floor.redis, clock=floor.clock,
                           poll_seconds=0.05)  # fmt: skip
    floor.agi.routes["inbound"] = inbound.handle
    floor.agi.routes["inbound_end"] = inbound.handle_end
    floor.agi.route_timeouts["inbound"] = 60.0
    return inbound


def inbound_attempts(engine: Any) -> list[CallAttempt]:
    with Session(engine) as s:
        # In the order they were written: PostgreSQL returns rows in no given order.
        rows = s.scalars(
            select(CallAttempt).where(CallAttempt.direction == "inbound").order_by(CallAttempt.id)
        )
        return list(rows.all())


class Pops:
    """Screen-pops published for agents (the console's PopHub reads the same channel)."""

    def __init__(self, redis: Any) -> None:
        self.pubsub = redis.pubsub()
        self.seen: list[dict[str, Any]] = []  # every pop read so far

    async def start(self) -> None:
        await self.pubsub.subscribe(POPS_CHANNEL)

    async def next(self) -> dict[str, Any]:
        """The next pop published. A pop that never comes fails the test after
        polling.WITHIN seconds: a bound for a hang, not a measure of the dialer (the
        20 s this allowed before are within reach of a loaded 2-core CI machine)."""
        return await within(self._next(), "a screen-pop published")

    async def _next(self) -> dict[str, Any]:
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message and message.get("type") == "message":
                pop: dict[str, Any] = json.loads(message["data"])
                self.seen.append(pop)
                return pop

    async def close(self) -> None:
        await self.pubsub.aclose()
