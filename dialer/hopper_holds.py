"""The hold on accounts admitted to a Redis hopper, kept honest when Redis forgets.

An account admitted to a campaign's hopper gets a hold in SQL (`next_attempt_at`
pushed past any plausible wait, `hopper_since` set) so the refill does not pick
it again while it waits in the hopper. The hopper lives in Redis: a FLUSHALL, a
Redis restarted without its data or restored from an older snapshot loses entries
whose accounts would then sleep until the hold runs out. `release_stranded` gives
those accounts back: every account held in SQL that the hopper does not hold (in
any state: ready, delayed, leased) and that has no call in flight (an open attempt)
becomes due again at the time it was admitted, so the next refill finds it, with
the compliance engine's first check as always.

The dial loop runs it under the campaign's refill lock (no refill of another dialer
sits between its SQL write and its Redis write meanwhile): at start, whenever the
hopper's marker key is missing (Redis lost it), and every few minutes (a stale
snapshot, attempts closed as lost by a reconciliation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Set
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from sqlalchemy import Engine, case, select, update
from sqlalchemy.orm import Session

from dialer.hopper import Hopper
from store.db import transaction
from store.importing.bulk import any_of
from store.models import Account, CallAttempt

PAGE = 1000
# An open attempt younger than this is a call that may be in flight (a live dialer
# ends every call within stuck_call_seconds): its account is never given back.
IN_FLIGHT_SECONDS = 3600.0
CHECK_EVERY_SECONDS = 300.0


def marker_key(campaign: str) -> str:
    """Set once the hopper and SQL's holds agree; Redis losing it means the hopper is lost."""
    return f"cobrador:hopper:{{{campaign}}}:alive"


async def hopper_lost(redis: aioredis.Redis, campaign: str) -> bool:
    return not await redis.exists(marker_key(campaign))


def held_page(sql: Engine, campaign_id: int, after: int, limit: int = PAGE) -> list[int]:
    """Accounts of the campaign held in a hopper, in id order (ix_accounts_in_hopper)."""
    with Session(sql) as s:
        return list(s.scalars(
            select(Account.id).where(Account.campaign_id == campaign_id, Account.hopper_since.is_not(None),
                                     Account.id > after).order_by(Account.id).limit(limit)
        ))  # fmt: skip


def in_flight(sql: Engine, account_ids: list[int], now: datetime) -> set[int]:
    """Accounts with an open attempt (outbound or inbound) recent enough to be a live call."""
    if not account_ids:
        return set()
    since = now - timedelta(seconds=IN_FLIGHT_SECONDS)
    with Session(sql) as s:
        return {int(a) for a in s.scalars(
            select(CallAttempt.account_id).where(any_of(CallAttempt.account_id, account_ids, s),
                                                 CallAttempt.result.is_(None), CallAttempt.started_at >= since)
        ) if a is not None}  # fmt: skip


def give_back(sql: Engine, account_ids: list[int], now: datetime) -> int:
    """Due again at the time each was admitted (never later than now: a clock set
    back, as a demo restarted at the same simulated time); only those still held
    (a call that ended meanwhile has set its own next attempt and cleared the hold)."""
    if not account_ids:
        return 0
    with transaction(sql) as s:
        done = s.execute(
            update(Account).where(any_of(Account.id, account_ids, s), Account.hopper_since.is_not(None))
            .values(next_attempt_at=case((Account.hopper_since < now, Account.hopper_since), else_=now),
                    hopper_since=None),
            execution_options={"synchronize_session": False},
        ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        return int(done)


async def release_stranded(sql: Engine, hopper: Hopper, campaign_id: int, now: datetime,
                           mine: Set[int] = frozenset()) -> int:  # fmt: skip
    """Give back the accounts held for a hopper that no longer holds them; returns
    how many. `mine`: accounts the calling dialer has in hand (calls, previews)."""
    # Set first: a loss while this pass runs removes it again, and the next tick
    # makes another pass.
    await hopper.redis.set(marker_key(hopper.campaign), "1")
    released = 0
    after = 0
    while True:
        ids = await asyncio.to_thread(held_page, sql, campaign_id, after)
        if not ids:
            break
        after = ids[-1]
        present = await hopper.contains(ids)
        missing = [a for a in ids if a not in present and a not in mine]
        if missing:
            busy = await asyncio.to_thread(in_flight, sql, missing, now)
            released += await asyncio.to_thread(
                give_back, sql, [a for a in missing if a not in busy], now
            )
        if len(ids) < PAGE:
            break
    return released
