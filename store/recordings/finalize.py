"""Closing a recording: hash the file, write its row and an audit entry, count it.

The caller (the dialer, when MixMonitor stops or the call hangs up) passes the
storage, the key the recording was written under and the times; the file is
read and hashed before the transaction opens, so no transaction stays open
while a disk reads. A missing or empty file still gets its row,
with a status and a reason: evidence that the recording is not there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from metrics.definitions import (
    RECORDING_BYTES,
    RECORDING_CLOSE_TIME,
    RECORDINGS_FAILED,
    RECORDINGS_WRITTEN,
)
from metrics.labels import campaign_label, reason_label
from store.audit import append as audit_append
from store.db import transaction
from store.models import CallAttempt, Campaign, Recording, RecordingStatus
from store.recordings.evidence import account_subject
from store.recordings.inspect import FileFacts, inspect_file
from store.recordings.retention import retention_until
from store.recordings.storage import RecordingStorage, attempt_of


@dataclass(frozen=True)
class FinalizedRecording:
    """What finalize_recording wrote (or found already written)."""

    recording_id: int
    attempt_id: int
    storage_key: str
    status: RecordingStatus
    failure_reason: str | None
    size_bytes: int | None
    sha256: str | None
    duration_s: Decimal | None
    retention_until: datetime
    changed: bool  # False: the same file was finalized before; nothing written


def finalize_recording(
    engine: Engine,
    storage: RecordingStorage,
    *,
    attempt_id: int,
    key: str,
    started_at: datetime,
    ended_at: datetime,
    now: datetime,
    actor: str = "dialer",
    reason: str | None = None,
) -> FinalizedRecording:
    """Record the recording of `attempt_id` stored under `key` (sync: run it in a thread).

    `reason`: what the caller knows when the file is missing or empty (e.g.
    "mixmonitor_not_started"); kept as the row's failure_reason instead of the
    generic one. Calling again for the same attempt (a second stop event, an
    on_demand recording resumed into the same file) updates the row and audits
    the change; the same file finalized twice writes nothing.
    """
    if attempt_of(key) != attempt_id:
        raise ValueError(f"recording key {key!r} does not name attempt {attempt_id}")
    for name, value in (("started_at", started_at), ("ended_at", ended_at), ("now", now)):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime given as {name}; attach a time zone")
    clock = time.perf_counter()
    facts = inspect_file(storage, key)
    if facts.status is not RecordingStatus.ok and reason:
        facts = FileFacts(facts.status, reason[:200], facts.size_bytes, facts.sha256,
                          facts.duration_s)  # fmt: skip
    result, campaign = _write(engine, facts, attempt_id, key, started_at, ended_at, now, actor)
    RECORDING_CLOSE_TIME.observe(time.perf_counter() - clock)
    if result.changed:
        label = campaign_label(campaign)
        if facts.status is RecordingStatus.ok:
            RECORDINGS_WRITTEN.labels(campaign=label).inc()
            RECORDING_BYTES.labels(campaign=label).inc(facts.size_bytes or 0)
        else:
            RECORDINGS_FAILED.labels(campaign=label, reason=reason_label(facts.metric_reason)).inc()
    return result


def _write(
    engine: Engine,
    facts: FileFacts,
    attempt_id: int,
    key: str,
    started_at: datetime,
    ended_at: datetime,
    now: datetime,
    actor: str,
) -> tuple[FinalizedRecording, str]:
    with transaction(engine) as session:
        found = session.execute(
            select(CallAttempt.account_id, Campaign.name, Campaign.config)
            .outerjoin(Campaign, Campaign.id == CallAttempt.campaign_id)
            .where(CallAttempt.id == attempt_id)
        ).first()
        if found is None:
            raise LookupError(f"no call attempt {attempt_id} for recording {key}")
        account_id, campaign_name, config = found
        keep_until = retention_until(ended_at, config)
        row = session.execute(
            select(Recording).where(Recording.attempt_id == attempt_id)
        ).scalar_one_or_none()
        previous = None
        if row is not None:
            if (row.storage_key, row.status, row.sha256, row.size_bytes) == (
                key, facts.status.value, facts.sha256, facts.size_bytes,
            ):  # fmt: skip
                return _result(row, changed=False), campaign_name or "unknown"
            previous = {"status": row.status, "sha256": row.sha256, "size_bytes": row.size_bytes}
        else:
            row = Recording(attempt_id=attempt_id, created_at=now)
            session.add(row)
        row.storage_key = key
        row.status = facts.status.value
        row.failure_reason = facts.reason
        row.size_bytes = facts.size_bytes
        row.sha256 = facts.sha256
        row.duration_s = facts.duration_s
        row.started_at = started_at
        row.ended_at = ended_at
        row.retention_until = keep_until
        session.flush()
        payload: dict[str, Any] = {
            "action": "finalized" if previous is None else "updated",
            "recording_id": row.id,
            "attempt_id": attempt_id,
            "storage_key": key,
            "status": facts.status.value,
            "failure_reason": facts.reason,
            "size_bytes": facts.size_bytes,
            "sha256": facts.sha256,
            "duration_s": facts.duration_s,
            "started_at": started_at,
            "ended_at": ended_at,
            "retention_until": keep_until,
        }
        if previous is not None:
            payload["previous"] = previous
        audit_append(session, "recording", payload, actor=actor, subject=account_subject(account_id),
                     now=now)  # fmt: skip
        return _result(row, changed=True), campaign_name or "unknown"


def _result(row: Recording, *, changed: bool) -> FinalizedRecording:
    return FinalizedRecording(
        recording_id=row.id,
        attempt_id=row.attempt_id,
        storage_key=row.storage_key,
        status=RecordingStatus(row.status),
        failure_reason=row.failure_reason,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        duration_s=row.duration_s,
        retention_until=row.retention_until,
        changed=changed,
    )
