"""Login throttling in SQL: one atomic admission per attempt, lockouts with back-off.

An attempt is counted *before* its password is checked, in one conditional
UPDATE (count-then-check in a single statement), so a burst of parallel logins
can never get more guesses through than the limit. A failure that reaches the
limit locks the user name for ``lock_duration(lockouts)``, doubling each time;
a successful login clears the name's record.

Per address only failures on *unknown* user names are counted: the office
behind one NAT whose agents mistype their own passwords is never locked out,
while guessing user names from one address is.

State lives in SQL, not in Redis: losing Redis never unlocks an attacked account.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cobrador.ground.addresses import throttle_bucket
from store.audit import append as audit_append
from store.db import transaction
from store.models import LoginThrottle

USER_FAILURES = 5
ADDRESS_UNKNOWN_NAME_FAILURES = 20
WINDOW = timedelta(minutes=15)
LOCK_BASE = timedelta(minutes=5)
LOCK_MAX = timedelta(hours=4)
# A name not locked for this long starts its back-off from LOCK_BASE again.
LOCKOUT_MEMORY = timedelta(days=1)


def lock_duration(lockouts: int) -> timedelta:
    """The lock after ``lockouts`` earlier ones: 5, 10, 20... minutes, at most 4 hours."""
    if lockouts >= 16:
        return LOCK_MAX
    return min(LOCK_BASE * (2**lockouts), LOCK_MAX)


def user_key(username: str) -> str:
    # Hashed: bounded size, and no attacker-typed text stored.
    return "user:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()


def address_key(address: str) -> str:
    # An IPv6 client by its /64: one guesser cannot take a fresh address per guess.
    return "addr:" + throttle_bucket(address)


@dataclass(frozen=True)
class Admission:
    admitted: bool
    # When refused: the instant a new attempt may be admitted again.
    retry_at: datetime | None = None
    # Refused (or to be answered as refused) because of the client's address.
    by_address: bool = False
    address_locked: bool = False


def _insert_ignore(session: Session, key: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(LoginThrottle).values(key=key, failures=0, lockouts=0)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


def _take(session: Session, key: str, limit: int, now: datetime) -> datetime | None:
    """Count one attempt on ``key`` unless it is locked or at its limit; None when
    counted, else the instant it may be tried again. One UPDATE: atomic under any
    concurrency (row lock on PostgreSQL, the write lock on SQLite)."""
    _insert_ignore(session, key)
    t = LoginThrottle
    expired = or_(t.window_started_at.is_(None), t.window_started_at <= now - WINDOW)
    counted = session.execute(
        update(t)
        .where(
            t.key == key,
            or_(t.locked_until.is_(None), t.locked_until <= now),
            or_(t.failures < limit, expired),
        )
        .values(
            failures=case((expired, 1), else_=t.failures + 1),
            window_started_at=case((expired, now), else_=t.window_started_at),
        )
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount == 1:  # type: ignore[attr-defined]
        return None
    row = session.get(t, key)
    assert row is not None
    if row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    # At the limit with the last admitted attempt still being checked.
    return max(now, (row.window_started_at or now) + WINDOW)


def admit(engine: Engine, username: str, address: str, known: bool, now: datetime) -> Admission:
    """Count this attempt before its password is checked; refuse it when locked."""
    with transaction(engine) as session:
        address_locked = False
        if known:
            row = session.get(LoginThrottle, address_key(address))
            address_locked = row is not None and _locked(row, ADDRESS_UNKNOWN_NAME_FAILURES, now)
        else:
            retry = _take(session, address_key(address), ADDRESS_UNKNOWN_NAME_FAILURES, now)
            if retry is not None:
                return Admission(False, retry, by_address=True, address_locked=True)
        retry = _take(session, user_key(username), USER_FAILURES, now)
        if retry is not None:
            return Admission(False, retry, address_locked=address_locked)
        return Admission(True, address_locked=address_locked)


def _locked(row: LoginThrottle, limit: int, now: datetime) -> bool:
    if row.locked_until is not None and row.locked_until > now:
        return True
    fresh = row.window_started_at is not None and row.window_started_at > now - WINDOW
    return fresh and row.failures >= limit


def failed(
    engine: Engine,
    username: str,
    address: str,
    known: bool,
    now: datetime,
    subject: str | None,
) -> datetime | None:
    """The attempt was wrong (it is already counted): lock the user name, and for an
    unknown name the address, when this failure reached the limit. Returns the
    end of the user name's lock when it starts now."""
    locked = _lock_if_at_limit(
        engine, user_key(username), USER_FAILURES, now, "user", address, subject
    )
    if not known:
        _lock_if_at_limit(
            engine,
            address_key(address),
            ADDRESS_UNKNOWN_NAME_FAILURES,
            now,
            "address",
            address,
            None,
        )
    return locked


def _lock_if_at_limit(
    engine: Engine,
    key: str,
    limit: int,
    now: datetime,
    scope: str,
    address: str,
    subject: str | None,
) -> datetime | None:
    with transaction(engine) as session:
        row = session.get(LoginThrottle, key)
        if row is None or row.failures < limit:
            return None
        if row.locked_until is not None and row.locked_until > now:
            return None
        earlier = row.lockouts
        if row.locked_until is not None and row.locked_until + LOCKOUT_MEMORY < now:
            earlier = 0
        failures, lockouts = row.failures, row.lockouts
    until = now + lock_duration(earlier)
    t = LoginThrottle
    with transaction(engine) as session:
        # Compare-and-set: only one of several failures that saw the limit locks.
        changed = session.execute(
            update(t)
            .where(t.key == key, t.failures == failures, t.lockouts == lockouts)
            .values(failures=0, window_started_at=None, locked_until=until, lockouts=earlier + 1)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        audit_append(
            session,
            "login_locked",
            {
                "scope": scope,
                "address": address,
                "until": until.isoformat(),
                "lockouts": earlier + 1,
            },
            subject=subject,
            now=now,
        )
    return until


def succeeded(engine: Engine, username: str) -> None:
    with transaction(engine) as session:
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == user_key(username))
            .values(failures=0, window_started_at=None, locked_until=None, lockouts=0)
            .execution_options(synchronize_session=False)
        )


def unlock(engine: Engine, username: str) -> bool:
    """Clear a user name's lock (an administrator's reset); True if it was locked."""
    with transaction(engine) as session:
        row = session.get(LoginThrottle, user_key(username))
        was = row is not None and (row.locked_until is not None or row.failures > 0)
        if row is not None:
            session.delete(row)
        return was


def locked_until(engine: Engine, username: str, now: datetime) -> datetime | None:
    with transaction(engine) as session:
        until = session.scalar(
            select(LoginThrottle.locked_until).where(LoginThrottle.key == user_key(username))
        )
        return until if until is not None and until > now else None
