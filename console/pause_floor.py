"""What an agent's pause waits for, as the console sees it when asked: the dial times
of the calls in flight on the agent's campaign (dialer/pause_rule.py).

The dialers publish their calls in flight on the shared floor every tick
(dialer/floor.py): one Redis read answers. The floor is a cache: when no dialer has
published (none runs, or Redis lost the keys a moment ago) the calls of the campaign
placed within the wait bound and neither bridged nor ended are looked up in SQL; if
any, the calls are assumed to ring (the bounded wait); if SQL cannot say, too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import redis.asyncio as aioredis
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from dialer.floor import SharedFloor
from dialer.pause_rule import DEFAULT_WAIT_SECONDS
from store.db import transaction
from store.models import CallAttempt, Campaign

log = logging.getLogger(__name__)


def _open_outbound_calls(engine: Engine, campaign: str, since: datetime) -> bool:
    """An outbound call of the campaign placed since `since`, not bridged nor ended."""
    with transaction(engine) as session:
        found = session.scalar(
            select(CallAttempt.id)
            .join(Campaign, Campaign.id == CallAttempt.campaign_id)
            .where(
                Campaign.name == campaign,
                CallAttempt.direction == "outbound",
                CallAttempt.channel == "call",
                CallAttempt.result.is_(None),
                CallAttempt.bridged_at.is_(None),
                CallAttempt.started_at >= since,
            )
            .limit(1)
        )
        return found is not None


async def calls_in_flight(redis: aioredis.Redis, engine: Engine, campaign: str,
                          now: float) -> tuple[float, ...] | None:  # fmt: skip
    """The dial times of the campaign's calls ringing or waiting for an agent, from
    every dialer; None when unknown (calls are then assumed to ring)."""
    view = await SharedFloor(redis, campaign, owner="console").read()
    if view.dialers:
        return view.in_flight
    since = datetime.fromtimestamp(now - DEFAULT_WAIT_SECONDS, UTC)
    try:
        if not await asyncio.to_thread(_open_outbound_calls, engine, campaign, since):
            return ()
    except SQLAlchemyError as exc:
        log.warning("pause of campaign %s: open calls unknown (%s)", campaign, exc)
    return None
