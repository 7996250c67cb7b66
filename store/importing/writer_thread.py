"""Batches written to the database from a thread while the import reads on, so
the database stores one batch while Python validates the next. The batches are
written one at a time, in order: the session is never used by two threads at
once. Up to `depth` batches may be queued, so the database never waits for the
next one when the importing thread has other work to do."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class WriterThread:
    def __init__(self, write: Callable[[list[Any]], None], depth: int = 1) -> None:
        self._write = write
        self._depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self._in_flight: deque[Future[None]] = deque()
        self._failed = False  # after a failed batch the ones queued behind it are dropped

    def submit(self, batch: Any) -> None:
        while len(self._in_flight) >= self._depth:
            self._in_flight.popleft().result()
        self._in_flight.append(self._pool.submit(self._write_unless_failed, batch))

    def _write_unless_failed(self, batch: Any) -> None:
        if self._failed:
            return
        try:
            self._write(batch)
        except BaseException:
            self._failed = True
            raise

    def wait(self) -> None:
        """Until every queued batch is written; the first error is raised here."""
        while self._in_flight:
            self._in_flight.popleft().result()

    def __enter__(self) -> WriterThread:
        return self

    def __exit__(self, *exc: object) -> None:
        # On an error the batch being written still finishes (a running write cannot
        # be cancelled) before the caller rolls back; queued ones are not written.
        self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
        if exc[0] is None:
            self.wait()
