"""Server-side console sessions in SQL: the cookie only carries a random token.

Logout, a password reset, a disabled user or a changed role end sessions at
once (``ended_at``); a session also ends after an idle time and an absolute
lifetime that depend on the role (auditors see personal data: shortest).
Nothing here lives in Redis, so losing Redis logs nobody in or out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, or_, update
from sqlalchemy.orm import Session

from console.users import CurrentUser, current_user
from store.db import transaction
from store.models import ConsoleSession, Role, User


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta


LIFETIMES = {
    Role.agent: Lifetime(idle=timedelta(hours=4), absolute=timedelta(hours=12)),
    # A field agent's phone sits in a pocket between visits, offline for hours.
    Role.field: Lifetime(idle=timedelta(hours=10), absolute=timedelta(hours=14)),
    Role.supervisor: Lifetime(idle=timedelta(hours=1), absolute=timedelta(hours=12)),
    Role.admin: Lifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=8)),
    Role.auditor: Lifetime(idle=timedelta(minutes=15), absolute=timedelta(hours=4)),
}
# The cookie's own lifetime: the longest session any role may have.
COOKIE_MAX_AGE = int(max(lt.absolute for lt in LIFETIMES.values()).total_seconds())
# last_seen_at is written at most this often (not on every request).
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    # Only the hash is stored: a read of the table gives no usable cookie.
    return hashlib.sha256(token.encode()).hexdigest()


def start(engine: Engine, user: CurrentUser, now: datetime) -> str:
    """A new session for ``user``; returns the token the cookie carries."""
    token = secrets.token_urlsafe(32)
    oldest = now - max(lt.absolute for lt in LIFETIMES.values())
    with transaction(engine) as session:
        # Housekeeping: this user's sessions that can no longer be used.
        session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.user_id == user.id,
                or_(ConsoleSession.ended_at.is_not(None), ConsoleSession.created_at < oldest),
            )
        )
        session.add(
            ConsoleSession(
                id=_digest(token),
                user_id=user.id,
                role=user.role.value,
                created_at=now,
                last_seen_at=now,
            )
        )
    return token


@dataclass(frozen=True)
class Resolved:
    """The user behind a cookie: ``user`` None when the session is over."""

    user: CurrentUser | None
    role_mismatch: bool = False


def resolve(
    engine: Engine, user_id: int, claimed_role: str | None, token: str | None, now: datetime
) -> Resolved:
    """The logged-in user for this cookie, re-read from SQL; None when the user is
    gone or disabled, or the session ended, idled out or outlived its role's limit."""
    with transaction(engine) as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            return Resolved(None)
        row = None
        if token and len(token) <= 100:
            row = session.get(ConsoleSession, _digest(token))
        if row is not None and row.user_id == user.id and row.ended_at is not None:
            return Resolved(None)  # logged out, or ended by a change to the user
        if claimed_role != user.role:
            return Resolved(None, role_mismatch=True)
        if row is None or row.user_id != user.id:
            return Resolved(None)
        role = Role(user.role)
        limits = LIFETIMES[role]
        if (
            row.role != user.role
            or now - row.last_seen_at > limits.idle
            or (now - row.created_at > limits.absolute)
        ):
            row.ended_at = now
            row.end_reason = "expired" if row.role == user.role else "role_changed"
            return Resolved(None)
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return Resolved(current_user(user))


def end(engine: Engine, token: str | None, now: datetime, reason: str = "logout") -> None:
    if not token or len(token) > 100:
        return
    with transaction(engine) as session:
        session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.id == _digest(token), ConsoleSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )


def end_all_in(session: Session, user_id: int, now: datetime, reason: str) -> int:
    """End every open session of a user inside the caller's transaction; how many."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
