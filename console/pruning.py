"""Rows of the console's own bookkeeping that can no longer matter are deleted
periodically: console sessions past any role's lifetime (or ended a day ago), login
throttles with no window, lock or back-off memory left, and the portal's identity
gates that can no longer change an answer, and portal sessions over or ended a day
ago. Without it these tables grow with every
login, every portal link answered and every address that ever mistyped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import Engine, and_, delete, or_

from console import verify_lock, verify_tries
from console.keys import CLOCK, ENGINE
from console.login_throttle import LOCKOUT_MEMORY, WINDOW
from console.sessions import COOKIE_MAX_AGE
from outreach.links import MAX_TTL as LINK_MAX_TTL
from selfservice.identity import ADDRESS_WINDOW, REFERENCE_LOCK
from selfservice.portal_sessions import MAX_AGE as PORTAL_SESSION_MAX_AGE
from store.db import transaction
from store.models import ConsoleSession, LoginThrottle, PortalGate, PortalSession

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
# An ended session is kept a day (whoever reads the table sees recent logouts).
ENDED_KEPT = timedelta(days=1)
# A link's gate is kept a day past the longest a link can live: by then the link is
# refused as expired before its gate is read, locked or not.
LINK_GATE_KEPT = LINK_MAX_TTL + timedelta(days=1)


@dataclass(frozen=True)
class Pruned:
    sessions: int
    throttles: int
    portal_gates: int = 0
    portal_sessions: int = 0


def prune(engine: Engine, now: datetime) -> Pruned:
    """Delete what can no longer change an answer: a session older than the longest
    lifetime (it resolves to nobody anyway) or ended over a day ago; a throttle whose
    failure window is over, with no lock in force and none remembered for back-off;
    a portal gate (selfservice/identity.py) that can no longer change an answer."""
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
        gates = session.execute(delete(PortalGate).where(spent_portal_gates(now))).rowcount  # type: ignore[attr-defined]
        p = PortalSession
        portal = session.execute(delete(p).where(or_(
            p.verified_at < now - PORTAL_SESSION_MAX_AGE - ENDED_KEPT,
            p.ended_at < now - ENDED_KEPT,
        ))).rowcount  # type: ignore[attr-defined]  # fmt: skip
    return Pruned(int(sessions or 0), int(throttles or 0), int(gates or 0), int(portal or 0))


def spent_portal_gates(now: datetime) -> Any:
    """The portal gates whose row changes nothing any more:
    - a link's, once the link cannot be used (LINK_GATE_KEPT after its first answer,
      which came before the link expired): a locked link stays locked until then;
    - a reference's (shared or the anonymous path's) with no wrong answer since its last success or unlock
      (`total_failures`), unlocked or with a day lock that has run out; one with wrong
      answers is kept: they count towards its day lock and towards the hold that
      waits for a person (bounded: one row per account);
    - a client address's, once its throttle window is over;
    - an account's agent checks (console/verify_lock.py), as a reference's;
    - a call's or chat's own wrong answers (console/verify_tries.py), once the call is
      over (verify_tries.KEPT after its first answer)."""
    g = PortalGate
    return or_(
        and_(g.key.startswith("link:"), g.created_at < now - LINK_GATE_KEPT),
        and_(or_(g.key.startswith("ref:"), g.key.startswith("entry:")), g.total_failures == 0, or_(
            and_(g.locked_at.is_(None), g.failures == 0),
            g.locked_at < now - REFERENCE_LOCK,
        )),
        and_(g.key.startswith("addr:"),
             or_(g.window_started_at.is_(None), g.window_started_at < now - ADDRESS_WINDOW)),
        and_(g.key.startswith("call:"), g.created_at < now - verify_tries.KEPT),
        and_(g.key.startswith("agent:"), g.total_failures == 0, or_(
            and_(g.locked_at.is_(None), g.failures == 0),
            g.locked_at < now - verify_lock.LOCK,
        )),
    )  # fmt: skip


async def prune_ctx(app: web.Application) -> AsyncIterator[None]:
    """Prune at start and then every hour, in a worker thread."""

    async def loop() -> None:
        while True:
            try:
                done = await asyncio.to_thread(prune, app[ENGINE], app[CLOCK]())
                if done.sessions or done.throttles or done.portal_gates or done.portal_sessions:
                    log.info("pruned %d console sessions, %d login throttles, %d portal gates "
                             "and %d portal sessions", done.sessions, done.throttles,
                             done.portal_gates, done.portal_sessions)  # fmt: skip
            except Exception:  # a store outage: the next round retries
                log.exception("pruning console sessions, login throttles and portal gates failed")
            await asyncio.sleep(PRUNE_EVERY_SECONDS)

    task = asyncio.create_task(loop(), name="console-prune")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
