"""The open-recordings ledger in SQL: "a recording was started for attempt X at
path P", written before MixMonitor starts and deleted once the recording's row
is final. A dialer that dies (and a Redis that forgets) leaves its entries for
the next dialer's reconciliation to close, with the file or with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from store.db import transaction
from store.importing.bulk import any_of
from store.models import RecordingLedgerEntry


def write_entry(engine: Engine, *, attempt_id: int, campaign: str, storage_key: str, pbx_path: str,
                started_at: datetime, owner: str) -> None:  # fmt: skip
    """Written down, once per attempt (an on_demand recording restarted keeps its entry)."""
    with transaction(engine) as s:
        if s.get(RecordingLedgerEntry, attempt_id) is None:
            s.add(RecordingLedgerEntry(attempt_id=attempt_id, campaign=campaign, storage_key=storage_key,
                                       pbx_path=pbx_path, started_at=started_at, owner=owner))  # fmt: skip


def note_failure(engine: Engine, attempt_id: int, failure: str) -> None:
    """MixMonitor could not start: the reason survives a crash before the call ends."""
    with transaction(engine) as s:
        s.execute(update(RecordingLedgerEntry).where(RecordingLedgerEntry.attempt_id == attempt_id)
                  .values(failure=failure[:200]))  # fmt: skip


def remove_entries(engine: Engine, attempt_ids: Sequence[int]) -> None:
    if not attempt_ids:
        return
    with transaction(engine) as s:
        s.execute(
            delete(RecordingLedgerEntry).where(
                any_of(RecordingLedgerEntry.attempt_id, list(attempt_ids), s)
            )
        )


def open_entries(engine: Engine, campaign: str) -> list[RecordingLedgerEntry]:
    with Session(engine, expire_on_commit=False) as s:
        return list(s.scalars(select(RecordingLedgerEntry).where(RecordingLedgerEntry.campaign == campaign)
                              .order_by(RecordingLedgerEntry.attempt_id)))  # fmt: skip
