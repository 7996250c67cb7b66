"""An agent's wrap-up and handle time, observed by the console when the agent leaves
a call's wrap-up (Disponible, its timer after the disposition, or a pause).

The console owns the wrap-up's end: the dialer puts the agent in wrap-up when the call
ends (a disposition saved in the call leaves the agent talking until then,
console/live_contact.py) and never sees the agent leave it. Wrap-up is that end minus the call's end as SQL keeps it, handle is
talk (the call's bridged time, as the dialer observes it) plus wrap-up, both read
from the attempt's row; labelled by the campaign only, as the dialer's talk time.
Only outbound calls an agent talked on count (a chat's or an inbound call's wrap-up
does not), and only a wrap-up left by a move of the agent (a lost phone leg or a
logout in wrap-up observes nothing).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from dialer.agent_state import AgentState, Left
from metrics import definitions as m
from metrics.labels import campaign_label
from store.db import transaction
from store.models import CallAttempt, Campaign

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallTimes:
    campaign: str  # "" for an attempt with no campaign
    bridged_at: datetime | None
    ended_at: datetime | None


def wrap_and_handle(call: CallTimes, wrap_ended: datetime) -> tuple[float, float] | None:
    """(wrap-up, handle) seconds of a call whose wrap-up ended at `wrap_ended`; None
    for a call never bridged or not ended yet (a wrap-up an older console left at a
    disposition saved in the call, ended by a pause: no wrap-up to measure). A clock
    behind the call's end counts no wrap-up, never a negative one."""
    if call.bridged_at is None or call.ended_at is None:
        return None
    talk = max(0.0, (_utc(call.ended_at) - _utc(call.bridged_at)).total_seconds())
    wrap = max(0.0, (_utc(wrap_ended) - _utc(call.ended_at)).total_seconds())
    return wrap, talk + wrap


def read_call(engine: Engine, attempt_id: int) -> CallTimes | None:
    """The attempt's campaign and times; None for no such attempt, or one that was no
    outbound call (a chat, an inbound call)."""
    with transaction(engine) as session:
        row = session.execute(
            select(Campaign.name, CallAttempt.bridged_at, CallAttempt.ended_at)
            .select_from(CallAttempt)
            .outerjoin(Campaign, Campaign.id == CallAttempt.campaign_id)
            .where(CallAttempt.id == attempt_id, CallAttempt.channel == "call",
                   CallAttempt.direction == "outbound")
        ).first()  # fmt: skip
    if row is None:
        return None
    return CallTimes(row[0] or "", row[1], row[2])


async def count_wrap_end(engine: Engine, left: Left, wrap_ended: datetime) -> None:
    """Observe the wrap-up the agent just left (`left`, read in the move's own step:
    of two moves at once only one left it), if it was a call's."""
    if left.state is not AgentState.wrap_up or left.attempt_id is None:
        return
    try:
        call = await asyncio.to_thread(read_call, engine, left.attempt_id)
    except SQLAlchemyError as exc:
        # The agent's move is made; a figure lost is no reason to fail it.
        log.warning("wrap-up of attempt %s not observed (%s)", left.attempt_id,
                    type(exc).__name__)  # fmt: skip
        return
    seconds = wrap_and_handle(call, wrap_ended) if call is not None else None
    if call is None or seconds is None:
        return
    campaign = campaign_label(call.campaign) if call.campaign else "none"
    m.WRAP_TIME.labels(campaign).observe(seconds[0])
    m.HANDLE_TIME.labels(campaign).observe(seconds[1])


def _utc(at: datetime) -> datetime:
    # SQLite gives back naive UTC; PostgreSQL aware.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
