"""The audit log's entries: append-only evidence, each one a leaf of a Merkle tree.

An entry's leaf is the canonical JSON of its content (time, kind, actor,
subject, payload, and for entries older than the Merkle log the hash of the
entry before it); its RFC 9162 leaf hash is SHA-256 over 0x00 and those bytes.
Writers take no lock: an entry is queued (audit_pending) in the writer's own
transaction and the integrator (compliance/transparency/integrator.py) gives
it its place in the tree; signed checkpoints kept outside the database make
the tree's history provable (docs/audit-log.md).
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
from typing import Any, cast

from sqlalchemy import ColumnElement, Engine, Row, Table, insert, select
from sqlalchemy.orm import Session

from store.models import AuditEntry, AuditPending
from store.types import utcnow

# The first entry of a chain written before the Merkle log pointed at this.
GENESIS_HASH = "0" * 64
# prev_hash of entries written since the Merkle log: no chain, the tree orders them.
UNCHAINED = ""

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
        # Field visits (field/): plans, check-ins refused at the address, skips,
        # cancellations, shifts with their position consent, purges, map views.
        "field_plan",
        "visit_checkin_refused",
        "visit_skipped",
        "field_visit_cancelled",
        "field_shift",
        "field_positions_purged",
        "field_map_view",
    }
)


_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")


class AuditError(ValueError):
    """The entry cannot be written as given (unknown kind, value not serialisable)."""


def said_digest(name: str, said: str) -> dict[str, Any]:
    """`<name>_sha256` (of its UTF-8) and `<name>_chars`: what an entry, kept for ever,
    keeps of words a person wrote or of a contact address instead of the value (kept,
    where at all, under retention): enough to prove a copy is what arrived. Unkeyed:
    whoever holds the value proves it (and can test a guess against it)."""
    return {f"{name}_sha256": hashlib.sha256(said.encode("utf-8")).hexdigest(),
            f"{name}_chars": len(said)}  # fmt: skip


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


def leaf_bytes(
    *,
    created_at: datetime | str,
    kind: str,
    actor: str,
    subject: str | None,
    payload_json: str,
    prev_hash: str,
) -> bytes:
    """The bytes of an entry's Merkle leaf: its content, without its row id.

    The id is left out so that moving an entry (or its content) to another
    place shows as a re-order: its leaf hash is found at another index. The
    same canonical JSON as `canonical_json` (every value here is a string or
    None, so the payload's checks need not run again).
    """
    when = created_at if isinstance(created_at, str) else _encode(created_at)
    body = json.dumps(
        {
            "created_at": when,
            "kind": kind,
            "actor": actor,
            "subject": subject,
            "payload": payload_json,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return body.encode("utf-8")


def entry_leaf_hash(entry: Any) -> bytes:
    """The RFC 9162 leaf hash of a stored entry (ORM object or plain row)."""
    return hashlib.sha256(
        b"\x00"
        + leaf_bytes(
            created_at=entry.created_at,
            kind=entry.kind,
            actor=entry.actor,
            subject=entry.subject,
            payload_json=entry.payload,
            prev_hash=entry.prev_hash,
        )
    ).digest()


@dataclass(frozen=True)
class NewEntry:
    """One entry for append_many."""

    kind: str
    payload: Mapping[str, Any]
    actor: str = "system"
    subject: str | None = None


@dataclass(frozen=True)
class LoggedEntry:
    """An entry as written (the row's columns); `hash` is its RFC 9162 leaf hash."""

    id: int
    created_at: datetime
    kind: str
    actor: str
    subject: str | None
    payload: str
    prev_hash: str
    hash: str


def _build(item: NewEntry, now: datetime | None) -> dict[str, Any]:
    if not _KIND_RE.fullmatch(item.kind):
        raise AuditError(f"audit kind must be a lower_snake_case word, got {item.kind!r}")
    if now is not None and now.tzinfo is None:
        raise AuditError("naive datetime given as the audit time")
    created_at = (now or utcnow()).astimezone(UTC)
    payload_json = canonical_json(dict(item.payload))
    subject = None if item.subject is None else str(item.subject)
    leaf = leaf_bytes(
        created_at=created_at, kind=item.kind, actor=item.actor, subject=subject,
        payload_json=payload_json, prev_hash=UNCHAINED,
    )  # fmt: skip
    return {
        "created_at": created_at,
        "kind": item.kind,
        "actor": item.actor,
        "subject": subject,
        "payload": payload_json,
        "prev_hash": UNCHAINED,
        "hash": hashlib.sha256(b"\x00" + leaf).hexdigest(),
    }


def append_many(
    session: Session, items: Iterable[NewEntry], *, now: datetime | None = None
) -> list[LoggedEntry]:
    """Add several entries in order in the caller's transaction (no lock is taken).

    They are queued for the Merkle tree and get their leaf indexes, in this
    order, once the caller commits and the integrator runs. Two statements
    whatever the number of entries (Core, not ORM objects: this is on the
    pop and recording paths and in every hopper batch).
    """
    rows = [_build(item, now) for item in items]
    if not rows:
        return []
    table = cast(Table, AuditEntry.__table__)
    ids = session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    ).scalars().all()  # fmt: skip
    session.execute(insert(cast(Table, AuditPending.__table__)), [{"entry_id": i} for i in ids])
    return [LoggedEntry(id=i, **row) for i, row in zip(ids, rows, strict=True)]


def append(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    actor: str = "system",
    subject: str | None = None,
    *,
    now: datetime | None = None,
) -> LoggedEntry:
    """Add one entry inside the caller's transaction and flush it (no lock is taken)."""
    return append_many(session, [NewEntry(kind, payload, actor, subject)], now=now)[0]


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
