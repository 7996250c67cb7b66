"""The debtor's verified portal sessions, kept in SQL: the cookie carries a random id
and SQL its hash, so "Salir" (or an idle or too old session) ends every copy of the
cookie at once, not only the one in the debtor's browser. Nothing here lives in
Redis: losing Redis logs no debtor in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, or_, update

from store.db import transaction
from store.models import PortalSession

# A session ends after this long without anything the debtor did (a page, a form; a
# poll does not count) and in any case this long after the identity check.
IDLE = timedelta(minutes=20)
MAX_AGE = timedelta(hours=1)
MAX_ID = 100  # characters of a cookie's id looked up: more is no session


def _digest(sid: str) -> str:
    # Only the hash is stored: a read of the table gives no usable cookie.
    return hashlib.sha256(sid.encode()).hexdigest()


def start(engine: Engine, account_id: int, now: datetime) -> str:
    """A new verified session for the account; returns the id the cookie carries."""
    sid = secrets.token_urlsafe(24)
    with transaction(engine) as session:
        # Housekeeping: this account's sessions that can no longer be used.
        session.execute(
            delete(PortalSession).where(
                PortalSession.account_id == account_id,
                or_(PortalSession.ended_at.is_not(None), PortalSession.verified_at < now - MAX_AGE),
            )
        )
        session.add(PortalSession(id=_digest(sid), account_id=account_id, verified_at=now,
                                  last_seen_at=now))  # fmt: skip
    return sid


def resolve(engine: Engine, sid: str, account_id: int, now: datetime, activity: bool) -> bool:
    """Whether the cookie's session is live for that account: started, not ended, not
    idle, not too old, not from the future (a clock that went back). `activity`: this
    request is something the debtor did, which keeps the session going."""
    if not sid or len(sid) > MAX_ID:
        return False
    with transaction(engine) as session:
        row = session.get(PortalSession, _digest(sid))
        if row is None or row.account_id != account_id or row.ended_at is not None:
            return False
        if (
            now - row.last_seen_at > IDLE
            or now - row.verified_at > MAX_AGE
            or now < row.verified_at - timedelta(minutes=1)
        ):
            row.ended_at = now
            return False
        if activity and now > row.last_seen_at:
            row.last_seen_at = now
        return True


def end(engine: Engine, sid: str, now: datetime) -> None:
    """The debtor left ("Salir"): the session is over for every copy of the cookie."""
    if not sid or len(sid) > MAX_ID:
        return
    with transaction(engine) as session:
        session.execute(
            update(PortalSession)
            .where(PortalSession.id == _digest(sid), PortalSession.ended_at.is_(None))
            .values(ended_at=now)
        )
