"""The loop every CSV import shares: stream rows, validate, resolve against
the database in batches, write, report. All-or-nothing unless skip_invalid."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from store.importing.csv_source import CsvRow, CsvSource, RowError
from store.importing.report import ImportResult, Progress, RejectsWriter, rejects_path_for


class RowImporter(Protocol):
    kind: str
    required: set[str]
    allowed: set[str] | None
    created: int
    updated: int
    unchanged: int

    def validate(self, row: CsvRow) -> Any | list[RowError]:
        """Pure checks of one row: a record, or every problem found."""

    def resolve(self, session: Session, batch: list[tuple[CsvRow, Any]]) -> list[list[RowError]]:
        """Checks that need the database (unknown account...): errors per record."""

    def write(self, session: Session, records: list[Any]) -> None: ...

    def finish(self, session: Session, path: Path, result: ImportResult) -> None: ...


def audit_or_default(audit: Callable[..., Any] | None) -> Callable[..., Any]:
    """The audit writer: the given one (tests), else the compliance audit chain."""
    if audit is not None:
        return audit
    from compliance.audit import append

    return append


def run_import(
    engine: Engine,
    path: Path,
    importer: RowImporter,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    batch_size: int = 2000,
    progress_stream: IO[str] | None = None,
) -> ImportResult:
    started = time.monotonic()
    result = ImportResult(kind=importer.kind, dry_run=dry_run)
    with CsvSource(path, importer.required, importer.allowed) as source:
        progress = Progress(source.size, importer.kind, progress_stream)
        rejects = None
        if skip_invalid and not dry_run:
            rejects = RejectsWriter(rejects_path_for(path), source.header)
        writing = not dry_run

        def reject(row: CsvRow, errors: list[RowError]) -> None:
            nonlocal writing
            result.add_errors(errors)
            if rejects is not None:
                rejects.write(row.line, row.raw, errors)
            else:
                writing = False  # keep validating, write nothing

        with Session(engine, expire_on_commit=False) as session:
            pending: list[tuple[CsvRow, Any]] = []

            def flush() -> None:
                if not pending:
                    return
                good = []
                for (row, record), errors in zip(
                    pending, importer.resolve(session, pending), strict=True
                ):
                    if errors:
                        reject(row, errors)
                    else:
                        good.append(record)
                if writing and good:
                    importer.write(session, good)
                pending.clear()

            for row in source:
                result.rows += 1
                outcome = importer.validate(row)
                if isinstance(outcome, list):
                    reject(row, outcome)
                else:
                    pending.append((row, outcome))
                    if len(pending) >= batch_size:
                        flush()
                progress.update(source.bytes_read, result.rows)
            flush()
            progress.done()
            result.sha256 = source.sha256_hex()
            if writing:
                importer.finish(session, path, result)
                session.commit()
                result.written = True
            else:
                session.rollback()
        result.created, result.updated, result.unchanged = (
            importer.created, importer.updated, importer.unchanged)  # fmt: skip
        if rejects is not None:
            rejects.close()
            result.rejected = rejects.count
            if rejects.count:
                result.rejects_path = rejects.path
            else:
                rejects.path.unlink(missing_ok=True)
    result.seconds = time.monotonic() - started
    return result
