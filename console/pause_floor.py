"""What an agent's pause waits for, as the console sees it when asked: the dial times
of the calls in flight on the agent's campaign (dialer/pause_rule.py).

The dialers publish their calls in flight on the shared floor every tick
(dialer/floor.py): one Redis read answers. The floor is a cache: when no dialer has
published (none runs, or Redis lost the keys a moment ago) the calls of the campaign
placed within the wait bound and neither bridged nor ended are looked up in SQL; if
any, the calls are assumed to ring (the bounded wait); if SQL cannot say, too.

The wait is bounded by the longest wait bound the live dialers published (their ring
timeout, detection and connect grace: a floor run with a 60 s ring timeout holds a
pause longer than the default); with no dialer publishing, by the defaults.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PauseFloor:
    """What a pause asked now waits for, and for how long at most."""

    # The dial times of the calls ringing or waiting for an agent, from every dialer;
    # None when unknown (calls are then assumed to ring).
    in_flight: tuple[float, ...] | None
    wait_seconds: float = DEFAULT_WAIT_SECONDS


async def calls_in_flight(redis: aioredis.Redis, engine: Engine, campaign: str,
                          now: float) -> PauseFloor:  # fmt: skip
    """The campaign's calls a pause asked now waits for, and the longest wait."""
    view = await SharedFloor(redis, campaign, owner="console").read()
    if view.dialers:
        return PauseFloor(view.in_flight, view.wait_seconds or DEFAULT_WAIT_SECONDS)
    since = datetime.fromtimestamp(now - DEFAULT_WAIT_SECONDS, UTC)
    try:
        if not await asyncio.to_thread(_open_outbound_calls, engine, campaign, since):
            return PauseFloor(())
    except SQLAlchemyError as exc:
        log.warning("pause of campaign %s: open calls unknown (%s)", campaign, exc)
    return PauseFloor(None)
