"""The loop every CSV import shares: stream rows, validate, resolve against
the database in batches, write, report. All-or-nothing unless skip_invalid."""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from store.audit import append as audit_append
from store.importing.csv_source import CsvRow, CsvSource, RowError, make_row
from store.importing.report import ImportResult, Progress, RejectsWriter, rejects_path_for
from store.importing.writer_thread import WriterThread


class RowImporter(Protocol):
    kind: str
    required: set[str]
    allowed: set[str] | None
    created: int
    updated: int
    unchanged: int

    def validate(self, row: CsvRow) -> Any | list[RowError]:
        """Checks of one row: a record, or every problem found."""

    def resolve(self, session: Session, batch: list[tuple[CsvRow, Any]]) -> list[list[RowError]]:
        """Checks that need the database (unknown account...): errors per record."""

    def write(self, session: Session, records: Any) -> None:
        """Write a batch of valid records (or what prepare() made of them)."""

    def finish(self, session: Session, path: Path, result: ImportResult) -> None: ...


class PreparingRowImporter(RowImporter, Protocol):
    """An importer with work to do on each batch before it is written that needs
    no write access: prepare() runs in the importing thread while the batch before
    is being written (on a connection of its own, never the session), and write()
    gets what it returns. Its resolve() must not read the session."""

    resolve_reads_session: bool  # False

    def prepare(self, records: list[Any]) -> Any: ...


def audit_or_default(audit: Callable[..., Any] | None) -> Callable[..., Any]:
    """The audit writer: the given one (tests), else the audit chain."""
    return audit if audit is not None else audit_append


class ParallelRowImporter(RowImporter, Protocol):
    """An importer whose row checks split in two: a pure, picklable part that can
    run in worker processes, and a stateful part (duplicates) run in order."""

    def pure_validator(self) -> Callable[[CsvRow], Any]: ...

    def check(self, row: CsvRow, outcome: Any) -> Any | list[RowError]: ...


PARALLEL_MIN_BYTES = 8 << 20  # below this, worker start-up costs more than it saves
CHUNK_ROWS = 1000
# Enough queued work for the workers to stay busy while the parent waits on the
# database for a batch; small enough to bound memory (the file is streamed).
MAX_CHUNKS_IN_FLIGHT = 16


def _validate_chunk(validator: Callable[[CsvRow], Any], header: list[str],
                    rows: list[tuple[int, list[str]]]) -> list[Any]:  # fmt: skip
    # Rows are built here, in the worker: the parent only reads and ships cells.
    return [validator(make_row(header, line, raw)) for line, raw in rows]


def validated_rows(
    source: CsvSource, importer: RowImporter, workers: int
) -> Iterator[tuple[CsvRow, Any]]:
    """(row, record-or-errors) in file order; validation in worker processes
    when the importer allows it and the file is big enough to pay for them."""
    if workers <= 1 or not hasattr(importer, "pure_validator") or source.size < PARALLEL_MIN_BYTES:
        for row in source:
            yield row, importer.validate(row)
        return
    parallel: ParallelRowImporter = importer  # type: ignore[assignment]
    validator = parallel.pure_validator()
    header = source.header
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        in_flight: deque[tuple[list[tuple[int, list[str]]], Future[list[Any]]]] = deque()

        def drain_one() -> Iterator[tuple[CsvRow, Any]]:
            chunk, future = in_flight.popleft()
            for (line, raw), outcome in zip(chunk, future.result(), strict=True):
                # The parent needs only the line and the cells (rejects file, errors).
                row = CsvRow(line=line, values={}, raw=raw)
                yield row, (outcome if isinstance(outcome, list) else parallel.check(row, outcome))

        chunk: list[tuple[int, list[str]]] = []
        for item in source.raw_rows():
            chunk.append(item)
            if len(chunk) >= CHUNK_ROWS:
                in_flight.append((chunk, pool.submit(_validate_chunk, validator, header, chunk)))
                chunk = []
                if len(in_flight) >= MAX_CHUNKS_IN_FLIGHT:
                    yield from drain_one()
        if chunk:
            in_flight.append((chunk, pool.submit(_validate_chunk, validator, header, chunk)))
        while in_flight:
            yield from drain_one()


# Collector passes: one per this many new container objects (CPython's default: 700).
BULK_GC_THRESHOLD = 50_000


@contextmanager
def fewer_collector_passes() -> Iterator[None]:
    """Thousands of rows are in flight at any time (chunks, batches), young objects
    that live a while: with the default thresholds the cyclic collector scans them
    again and again, and each full pass walks every object of the loaded libraries
    too (phonenumbers' metadata...): it took half the importing thread's CPU. Here
    the objects that exist before the import are frozen out of the collector's
    passes and it runs less often; both are restored afterwards. (The rows make no
    reference cycles: memory stays bounded by what is in flight.)"""
    threshold = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0  # else the process froze objects itself: leave them
    if freeze:
        gc.freeze()
    gc.set_threshold(BULK_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if freeze:
            gc.unfreeze()


def audit_file_import(audit: Callable[..., Any], session: Session, kind: str, path: Path,
                      result: ImportResult, actor: str, **counts: Any) -> None:  # fmt: skip
    """One audit entry per imported file: its sha256 proves what was imported."""
    audit(session, f"{kind}_import", {"file": path.name, "sha256": result.sha256, "rows": result.rows,
                                      "rejected_rows": result.error_count, **counts}, actor=actor)  # fmt: skip


def run_import(
    engine: Engine,
    path: Path,
    importer: RowImporter,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    batch_size: int = 2000,
    progress_stream: IO[str] | None = None,
    workers: int | None = None,
) -> ImportResult:
    started = time.monotonic()
    result = ImportResult(kind=importer.kind, dry_run=dry_run)
    with fewer_collector_passes(), CsvSource(path, importer.required, importer.allowed) as source:
        progress = Progress(source.size, importer.kind, progress_stream)
        if hasattr(importer, "use_header"):  # importers that rebuild rows from raw cells
            importer.use_header(source.header)
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

        # resolve() may read the database through the session: the batches in
        # flight must be written first, unless the importer says it does not; then
        # two batches may wait for the writer, so it never waits for the next.
        resolve_waits = getattr(importer, "resolve_reads_session", True)
        prepare = getattr(importer, "prepare", None)
        with (
            Session(engine, expire_on_commit=False) as session,
            WriterThread(
                partial(importer.write, session), depth=1 if resolve_waits else 2
            ) as writer,
        ):
            pending: list[tuple[CsvRow, Any]] = []
            if writing and hasattr(importer, "start"):  # work before the first row is read
                importer.start(session)

            def flush() -> None:
                if not pending:
                    return
                if resolve_waits:
                    writer.wait()
                good = []
                for (row, record), errors in zip(
                    pending, importer.resolve(session, pending), strict=True
                ):
                    if errors:
                        reject(row, errors)
                    else:
                        good.append(record)
                if writing and good:
                    # prepare() runs here, while the batch before is being written.
                    writer.submit(prepare(good) if prepare is not None else good)
                pending.clear()

            workers = (os.cpu_count() or 1) if workers is None else workers
            for row, outcome in validated_rows(source, importer, workers):
                result.rows += 1
                if isinstance(outcome, list):
                    reject(row, outcome)
                else:
                    pending.append((row, outcome))
                    if len(pending) >= batch_size:
                        flush()
                progress.update(source.bytes_read, result.rows)
            flush()
            writer.wait()
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
