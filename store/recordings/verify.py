"""Re-hash every stored recording and name the ones changed, truncated or removed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Row, func, select

from store.models import Recording
from store.recordings.storage import BadKey, RecordingStorage

PAGE = 1000

# A problem per recording, worst first when several apply.
REMOVED = "removed"  # the file is gone
TRUNCATED = "truncated"  # the file is shorter than when it was finalized
CHANGED = "changed"  # same size or longer, different SHA-256
UNREADABLE = "unreadable"  # the file is there but could not be read


@dataclass(frozen=True)
class RecordingProblem:
    recording_id: int
    attempt_id: int
    storage_key: str
    problem: str
    expected_size: int | None
    actual_size: int | None = None
    expected_sha256: str | None = None
    actual_sha256: str | None = None
    detail: str = ""

    def describe(self) -> str:
        head = f"recording {self.recording_id} (attempt {self.attempt_id}, {self.storage_key})"
        if self.problem == REMOVED:
            return f"{head}: REMOVED, the file is gone (was {self.expected_size} bytes)"
        if self.problem == TRUNCATED:
            return (
                f"{head}: TRUNCATED to {self.actual_size} bytes (was {self.expected_size}); "
                f"sha256 {self.actual_sha256}, expected {self.expected_sha256}"
            )
        if self.problem == CHANGED:
            return (
                f"{head}: CHANGED, sha256 {self.actual_sha256}, expected {self.expected_sha256} "
                f"({self.actual_size} bytes, was {self.expected_size})"
            )
        return f"{head}: UNREADABLE ({self.detail})"


@dataclass
class RecordingsVerifyResult:
    checked: int = 0
    skipped: int = 0  # purged, or no file was ever stored (missing/failed rows)
    problems: list[RecordingProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(engine: Engine) -> Iterator[Row[Any]]:
    table = Recording.__table__
    last = 0
    with engine.connect() as conn:
        while True:
            rows = conn.execute(
                select(table).where(table.c.id > last).order_by(table.c.id).limit(PAGE)
            ).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].id


def check_one(storage: RecordingStorage, row: Any) -> RecordingProblem | None:
    """The problem with one finalized recording's file, or None when it still matches."""

    def problem(kind: str, **extra: Any) -> RecordingProblem:
        return RecordingProblem(
            row.id, row.attempt_id, row.storage_key, kind, row.size_bytes,
            expected_sha256=row.sha256, **extra,
        )  # fmt: skip

    try:
        size = storage.size(row.storage_key)
        if size is None:
            return problem(REMOVED)
        digest = storage.sha256(row.storage_key)
    except FileNotFoundError:
        return problem(REMOVED)
    except (OSError, BadKey) as exc:
        return problem(UNREADABLE, detail=f"{type(exc).__name__}: {exc}")
    if digest == row.sha256 and size == row.size_bytes:
        return None
    kind = TRUNCATED if size < (row.size_bytes or 0) else CHANGED
    return problem(kind, actual_size=size, actual_sha256=digest)


def files_kept(engine: Engine) -> int:
    """How many recordings the database says have a file on storage (hashed, not purged)."""
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(Recording)
            .where(Recording.sha256.is_not(None), Recording.purged_at.is_(None))
        ).scalar_one()
    return int(count)


def verify_recordings(
    engine: Engine,
    storage: RecordingStorage,
    progress: Callable[[int], None] | None = None,
) -> RecordingsVerifyResult:
    """Check every recording that has a hash and was not purged, in id order."""
    result = RecordingsVerifyResult()
    for row in _rows(engine):
        if row.purged_at is not None or row.sha256 is None:
            result.skipped += 1
            continue
        found = check_one(storage, row)
        if found is not None:
            result.problems.append(found)
        result.checked += 1
        if progress is not None:
            progress(result.checked)
    return result
