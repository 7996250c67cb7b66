"""Batches written to the database from a thread while the import reads on, so
the database stores one batch while Python validates the next. One batch in
flight at a time: the session is never used by two threads at once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class WriterThread:
    def __init__(self, write: Callable[[list[Any]], None]) -> None:
        self._write = write
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self._in_flight: Future[None] | None = None

    def submit(self, batch: list[Any]) -> None:
        self.wait()
        self._in_flight = self._pool.submit(self._write, batch)

    def wait(self) -> None:
        """Until the batch in flight is written; its error, if any, is raised here."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()

    def __enter__(self) -> WriterThread:
        return self

    def __exit__(self, *exc: object) -> None:
        # On an error the batch in flight still finishes (a running write cannot be
        # cancelled) before the caller rolls back; its own error is then secondary.
        self._pool.shutdown(wait=True)
        if exc[0] is None:
            self.wait()
