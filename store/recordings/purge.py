"""Retention: delete expired recording files, keep their rows with purged_at, audit each.

A recording under legal hold (an auditor's hold, or its account disputed) is
never touched, however old. Each deletion is its own transaction: the row is
marked and audited, the file deleted, then the transaction commits; a file
that cannot be deleted rolls its row back and is counted as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select

from metrics.definitions import RECORDINGS_PURGE
from store.audit import append as audit_append
from store.db import transaction
from store.models import Account, CallAttempt, Recording
from store.recordings.evidence import account_subject
from store.recordings.hold import held_by_dispute
from store.recordings.storage import RecordingStorage

log = logging.getLogger(__name__)

PAGE = 500


@dataclass
class PurgeReport:
    dry_run: bool
    expired: int = 0  # past retention and not purged yet
    purged: int = 0  # files deleted (or would be, in a dry run)
    held: int = 0  # expired but under legal hold: kept
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        return (
            f"recordings purge{' (dry run)' if self.dry_run else ''}: {self.expired} expired, "
            f"{verb} {self.purged}, kept {self.held} under legal hold, {self.failed} failed"
        )


def _expired_ids(engine: Engine, now: datetime, after: int) -> list[int]:
    with transaction(engine) as session:
        return list(
            session.execute(
                select(Recording.id)
                .where(
                    Recording.retention_until <= now,
                    Recording.purged_at.is_(None),
                    Recording.id > after,
                )
                .order_by(Recording.id)
                .limit(PAGE)
            ).scalars()
        )


def purge_expired(
    engine: Engine,
    storage: RecordingStorage,
    now: datetime,
    *,
    dry_run: bool = False,
    actor: str = "cli",
    progress: Callable[[PurgeReport], None] | None = None,
) -> PurgeReport:
    """Purge every recording whose retention ended by `now` and is not held."""
    report = PurgeReport(dry_run=dry_run)
    last = 0
    while ids := _expired_ids(engine, now, last):
        last = ids[-1]
        for recording_id in ids:
            outcome = _purge_one(engine, storage, recording_id, now, dry_run, actor)
            if outcome is None:
                continue  # held or purged meanwhile by another run
            report.expired += 1
            if outcome == "held":
                report.held += 1
            elif outcome.startswith("failed"):
                report.failed += 1
                report.failures.append(outcome)
            else:
                report.purged += 1
            RECORDINGS_PURGE.labels(result=outcome.split(":")[0]).inc()
            if progress is not None:
                progress(report)
    return report


def _purge_one(
    engine: Engine,
    storage: RecordingStorage,
    recording_id: int,
    now: datetime,
    dry_run: bool,
    actor: str,
) -> str | None:
    try:
        with transaction(engine) as session:
            found = session.execute(
                select(Recording, Account.id, Account.status)
                .join(CallAttempt, CallAttempt.id == Recording.attempt_id)
                .outerjoin(Account, Account.id == CallAttempt.account_id)
                .where(Recording.id == recording_id)
                .with_for_update(of=Recording)
            ).first()
            if found is None:
                return None
            row, account_id, account_status = found
            if row.purged_at is not None or row.retention_until > now:
                return None
            if row.legal_hold or held_by_dispute(account_status):
                return "held"
            if dry_run:
                return "dry_run"
            existed = storage.exists(row.storage_key)
            row.purged_at = now
            audit_append(
                session,
                "recording_purge",
                {"recording_id": row.id, "attempt_id": row.attempt_id,
                 "storage_key": row.storage_key, "sha256": row.sha256,
                 "retention_until": row.retention_until, "file_existed": existed},
                actor=actor, subject=account_subject(account_id), now=now,
            )  # fmt: skip
            if existed:
                storage.delete(row.storage_key)
            return "purged"
    except OSError as exc:
        log.warning("recording %s could not be purged: %s", recording_id, exc)
        return f"failed: recording {recording_id}: {type(exc).__name__}: {exc.strerror or exc}"
