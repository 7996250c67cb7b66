"""Re-hash every stored recording and name the ones changed, truncated or removed,
and name the files on disk that no recording row accounts for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Row, func, select

from store.models import CallAttempt, Recording
from store.recordings.storage import BadKey, RecordingStorage, attempt_of

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


@dataclass(frozen=True)
class UnknownFile:
    """A file in the recordings storage that no recording row names: a recording whose
    row was never written (its dialer died, a bug) or a file put there by hand."""

    path: str  # relative to the storage root
    size: int | None
    attempt_id: int | None  # the attempt its name gives, when it is a recording key

    def describe(self) -> str:
        what = f"attempt {self.attempt_id}" if self.attempt_id is not None \
            else "not a recording name"  # fmt: skip
        return f"file {self.path}: NO ROW ({what}, {self.size} bytes)"


@dataclass
class RecordingsVerifyResult:
    checked: int = 0
    skipped: int = 0  # purged, or no file was ever stored (missing/failed rows)
    problems: list[RecordingProblem] = field(default_factory=list)
    files: int = 0  # files on disk looked at
    in_progress: int = 0  # files without a row yet whose call is still open
    unknown: list[UnknownFile] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unknown


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
    """Check every recording that has a hash and was not purged, in id order; then
    every file on disk against the rows (`unknown_files`)."""
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
    unknown_files(engine, storage, result)
    return result


def unknown_files(
    engine: Engine, storage: RecordingStorage, result: RecordingsVerifyResult
) -> None:
    """Files no row names, a page of paths at a time (memory bounded, one indexed
    lookup per page). A file of a call still in progress (its attempt open) has no
    row yet by design: counted apart, not reported."""
    page: list[str] = []
    for path in storage.files():
        page.append(path)
        if len(page) == PAGE:
            _check_page(engine, storage, page, result)
            page = []
    if page:
        _check_page(engine, storage, page, result)


def _check_page(engine: Engine, storage: RecordingStorage, paths: list[str],
                result: RecordingsVerifyResult) -> None:  # fmt: skip
    result.files += len(paths)
    with engine.connect() as conn:
        known = set(conn.scalars(select(Recording.storage_key)
                                 .where(Recording.storage_key.in_(paths))))  # fmt: skip
        attempts: dict[str, int | None] = {}
        for path in paths:
            if path not in known:
                try:
                    attempts[path] = attempt_of(path)
                except BadKey:
                    attempts[path] = None
        ids = [a for a in attempts.values() if a is not None]
        open_ids = set(conn.scalars(select(CallAttempt.id).where(
            CallAttempt.id.in_(ids), CallAttempt.result.is_(None)))) if ids else set()  # fmt: skip
    for path, attempt_id in attempts.items():
        if attempt_id is not None and attempt_id in open_ids:
            result.in_progress += 1
            continue
        try:
            size = storage.size(path) if attempt_id is not None else None
        except (OSError, BadKey):
            size = None
        result.unknown.append(UnknownFile(path, size, attempt_id))
