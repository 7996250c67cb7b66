"""Rows of the console's own bookkeeping that can no longer matter are deleted
periodically: console sessions past any role's lifetime (or ended a day ago), and
login throttles with no window, lock or back-off memory left. Without it both
tables grow with every login and every address that ever mistyped a password."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import Engine, and_, delete, or_

from console.keys import CLOCK, ENGINE
from console.login_throttle import LOCKOUT_MEMORY, WINDOW
from console.sessions import COOKIE_MAX_AGE
from store.db import transaction
from store.models import ConsoleSession, LoginThrottle

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
# An ended session is kept a day (whoever reads the table sees recent logouts).
ENDED_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class Pruned:
    sessions: int
    throttles: int


def prune(engine: Engine, now: datetime) -> Pruned:
    """Delete what can no longer change an answer: a session older than the longest
    lifetime (it resolves to nobody anyway) or ended over a day ago; a throttle whose
    failure window is over, with no lock in force and none remembered for back-off."""
    oldest_session = now - timedelta(seconds=COOKIE_MAX_AGE) - ENDED_KEPT
    s, t = ConsoleSession, LoginThrottle
    with transaction(engine) as session:
        sessions = session.execute(
            delete(s).where(or_(s.created_at < oldest_session, s.ended_at < now - ENDED_KEPT))
        ).rowcount  # type: ignore[attr-defined]
        throttles = session.execute(delete(t).where(and_(
            or_(t.window_started_at.is_(None), t.window_started_at < now - WINDOW),
            or_(t.locked_until.is_(None), t.locked_until < now - LOCKOUT_MEMORY),
        ))).rowcount  # type: ignore[attr-defined]  # fmt: skip
    return Pruned(int(sessions or 0), int(throttles or 0))


async def prune_ctx(app: web.Application) -> AsyncIterator[None]:
    """Prune at start and then every hour, in a worker thread."""

    async def loop() -> None:
        while True:
            try:
                done = await asyncio.to_thread(prune, app[ENGINE], app[CLOCK]())
                if done.sessions or done.throttles:
                    log.info("pruned %d console sessions and %d login throttles",
                             done.sessions, done.throttles)  # fmt: skip
            except Exception:  # a store outage: the next round retries
                log.exception("pruning console sessions and login throttles failed")
            await asyncio.sleep(PRUNE_EVERY_SECONDS)

    task = asyncio.create_task(loop(), name="console-prune")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
