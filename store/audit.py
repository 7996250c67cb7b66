"""The audit chain: append-only evidence where each entry hashes the one before it.

An entry's hash is SHA-256 over the canonical JSON of its content (time, kind,
actor, subject, payload) and the previous entry's hash, so editing, removing
or reordering any row breaks the chain from that row on, and `verify` names
the first entry that no longer fits.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, select, text
from sqlalchemy.orm import Session

from store.models import AuditEntry
from store.types import utcnow

GENESIS_HASH = "0" * 64

# One fixed key for pg_advisory_xact_lock: every writer of the chain takes it,
# so the read of the last hash and the insert of the next entry never interleave.
AUDIT_LOCK_KEY = 0x636F62_617564  # "cob" "aud"

# The kinds in use (documentation; any lower_snake_case kind is accepted so a
# new piece of evidence never waits for this list).
KINDS = frozenset(
    {
        "decision",
        "registry_import",
        "consent_change",
        "account_change",
        "account_create",
        "account_import",
        "disposition",
        "pii_view",
        "payment",
        "user_change",
        "attempt",
        "campaign_change",
        "promise",
        "callback",
        "login",
        "export",
        "recording",
        "recording_purge",
        "recording_hold",
    }
)


_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")


class AuditError(ValueError):
    """The entry cannot be written as given (unknown kind, value not serialisable)."""


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise AuditError("naive datetime in an audit payload; attach a time zone")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise AuditError(f"non-finite decimal {value} in an audit payload")
        # normalise so Decimal("1.50") and Decimal("1.5") hash alike? No: keep the
        # scale, it is part of the evidence (an amount of 1.50 was written).
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical_json)
    if isinstance(value, bytes):
        return value.hex()
    raise AuditError(f"cannot put {type(value).__name__} into an audit payload")


def _check_floats(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise AuditError("NaN or infinity in an audit payload")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditError(f"audit payload keys must be strings, got {key!r}")
            _check_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_floats(item)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 text, typed values as strings."""
    _check_floats(value)
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_encode,
    )


def entry_hash(
    *,
    created_at: datetime,
    kind: str,
    actor: str,
    subject: str | None,
    payload_json: str,
    prev_hash: str,
) -> str:
    """The hash of one entry; the row id is left out so it is assigned by the database."""
    body = canonical_json(
        {
            "created_at": created_at,
            "kind": kind,
            "actor": actor,
            "subject": subject,
            "payload": payload_json,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    elif bind.dialect.name == "sqlite":
        # SQLite has one writer at a time; a write statement that touches no row
        # takes the write lock now, before we read the last hash. (If another
        # writer committed since this transaction's first read, SQLite refuses
        # with "database is locked" instead of letting the chain fork.)
        session.execute(text("UPDATE audit_entries SET id = id WHERE 0"))
    else:  # pragma: no cover - only the two supported databases
        raise AuditError(f"no chain lock for database {bind.dialect.name}")


_HEAD_KEY = "cobrador.audit.head"


def _current_transaction(session: Session) -> object:
    # The innermost transaction: a savepoint that rolls back must not leave a
    # cached head pointing at an entry that no longer exists.
    return session.get_nested_transaction() or session.get_transaction()


def _chain_head(session: Session) -> str:
    """The last hash of the chain, under the chain lock (cached for this transaction)."""
    txn = _current_transaction(session)
    cached = session.info.get(_HEAD_KEY)
    if cached is not None and cached[0] is txn:
        return str(cached[1])
    _lock_chain(session)
    last = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar_one_or_none()
    return last or GENESIS_HASH


@dataclass(frozen=True)
class NewEntry:
    """One entry for append_many."""

    kind: str
    payload: Mapping[str, Any]
    actor: str = "system"
    subject: str | None = None


def _build(prev_hash: str, item: NewEntry, now: datetime | None) -> AuditEntry:
    if not _KIND_RE.fullmatch(item.kind):
        raise AuditError(f"audit kind must be a lower_snake_case word, got {item.kind!r}")
    if now is not None and now.tzinfo is None:
        raise AuditError("naive datetime given as the audit time")
    created_at = (now or utcnow()).astimezone(UTC)
    payload_json = canonical_json(dict(item.payload))
    subject = None if item.subject is None else str(item.subject)
    return AuditEntry(
        created_at=created_at,
        kind=item.kind,
        actor=item.actor,
        subject=subject,
        payload=payload_json,
        prev_hash=prev_hash,
        hash=entry_hash(
            created_at=created_at,
            kind=item.kind,
            actor=item.actor,
            subject=subject,
            payload_json=payload_json,
            prev_hash=prev_hash,
        ),
    )


def append_many(
    session: Session, items: Iterable[NewEntry], *, now: datetime | None = None
) -> list[AuditEntry]:
    """Add several entries in order with one lock and one flush (the hopper's batches)."""
    items = list(items)
    if not items:
        return []
    head = _chain_head(session)
    entries = []
    for item in items:
        entry = _build(head, item, now)
        entries.append(entry)
        head = entry.hash
    session.add_all(entries)
    session.flush()
    session.info[_HEAD_KEY] = (_current_transaction(session), head)
    return entries


def append(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    actor: str = "system",
    subject: str | None = None,
    *,
    now: datetime | None = None,
) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction and flush it.

    The chain is locked until the caller's transaction ends, so commit soon.
    """
    return append_many(session, [NewEntry(kind, payload, actor, subject)], now=now)[0]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None
    head_hash: str = GENESIS_HASH


def _iter_entries(
    engine: Engine, *conditions: ColumnElement[bool], batch: int = 5000
) -> Iterator[Row[Any]]:
    """Entries (plain rows, no ORM objects) in id order, in keyset pages so memory stays flat."""
    table = AuditEntry.__table__
    last_id = 0
    with engine.connect() as conn:
        while True:
            rows = conn.execute(
                select(table)
                .where(table.c.id > last_id, *conditions)
                .order_by(table.c.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id


def verify(engine: Engine, known_hash: str | None = None) -> VerifyResult:
    """Walk the chain in id order; stop at the first entry that does not fit.

    The chain alone cannot show that its newest entries were cut off; with
    `known_hash` (a head printed by an earlier verify, kept outside the
    database) the chain must still contain that entry.
    """
    prev = GENESIS_HASH
    checked = 0
    seen_known = known_hash is None
    for entry in _iter_entries(engine):
        if entry.prev_hash != prev:
            return VerifyResult(
                False,
                checked,
                entry.id,
                "prev_hash does not match the entry before it "
                "(an entry was removed, inserted or reordered)",
                prev,
            )
        try:
            expected = entry_hash(
                created_at=entry.created_at,
                kind=entry.kind,
                actor=entry.actor,
                subject=entry.subject,
                payload_json=entry.payload,
                prev_hash=entry.prev_hash,
            )
        except AuditError as exc:  # pragma: no cover - only reachable by tampering
            return VerifyResult(False, checked, entry.id, f"unreadable entry: {exc}", prev)
        if expected != entry.hash:
            return VerifyResult(
                False, checked, entry.id, "content does not match its hash (entry edited)", prev
            )
        prev = entry.hash
        checked += 1
        seen_known = seen_known or entry.hash == known_hash
    if not seen_known:
        return VerifyResult(
            False,
            checked,
            None,
            f"the known entry {known_hash} is not in the chain (entries removed from the end)",
            prev,
        )
    return VerifyResult(True, checked, None, None, prev)


def iter_export(
    engine: Engine, start: datetime | None = None, end: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Entries with created_at in [start, end), as plain dicts, in chain order."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(AuditEntry.created_at >= start)
    if end is not None:
        conditions.append(AuditEntry.created_at < end)
    for entry in _iter_entries(engine, *conditions):
        yield {
            "id": entry.id,
            "created_at": _encode(entry.created_at),
            "kind": entry.kind,
            "actor": entry.actor,
            "subject": entry.subject,
            "payload": json.loads(entry.payload),
            "prev_hash": entry.prev_hash,
            "hash": entry.hash,
        }
