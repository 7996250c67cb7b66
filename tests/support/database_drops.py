"""Test databases dropped off the tests' path (tests/conftest.py).

PostgreSQL's DROP DATABASE forgets the database's pending fsyncs, then waits for an
immediate checkpoint, which fsyncs every file written since the last one: a test
database copied from the template is some 540 files. On CI's disk (about 3 ms an
fsync) the checkpointer falls behind the tests' copies, a checkpoint syncs hundreds
of databases (397,412 files, 977 s, in one run of tests/component), and a session's
drops finish a few at a time. Drops waiting together share one checkpoint, so
DROP_THREADS are in flight at once; and a session stops waiting once none has
finished for DROP_STALL_SECONDS: it waited DROP_WAIT_SECONDS (120 s), idle, at the
end of every tier for a handful of drops, while the next run drops what is left.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

# Each thread holds one connection while its DROP waits: 4 xdist workers take 16 of
# the server's 100 (PostgreSQL's default max_connections) at most.
DROP_THREADS = 4
# A session stops waiting for its drops once none has finished for this long.
DROP_STALL_SECONDS = 10.0


class Dropper:
    """Runs `execute('DROP DATABASE ...')` for each name given to `drop`, on `threads`
    daemon threads: a session never waits for its drops past `close`'s wait."""

    def __init__(self, execute: Callable[[str], None], threads: int = DROP_THREADS) -> None:
        self._execute = execute
        self._names: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._pending = 0
        self.errors: list[str] = []
        self._threads = [
            threading.Thread(target=self._loop, name=f"drop-test-dbs-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def drop(self, name: str) -> None:
        with self._lock:
            self._pending += 1
        self._names.put(name)

    @property
    def pending(self) -> int:
        """Databases given to `drop` and not dropped yet (failed ones count as done)."""
        with self._lock:
            return self._pending

    def _loop(self) -> None:
        while (name := self._names.get()) is not None:
            try:
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # reported at the end; the next drops still run
                self.errors.append(f"{name}: {exc}")
            finally:
                with self._done:
                    self._pending -= 1
                    self._done.notify_all()

    def close(self, wait: float, stall: float = DROP_STALL_SECONDS) -> int:
        """Finish the drops given so far, waiting at most `wait` seconds in all and
        giving up once none has finished for `stall` seconds; the number of databases
        left (0 when every drop ran). A checkpoint that syncs hundreds of databases
        takes minutes: waiting for it bought a few drops for two idle minutes at the
        end of every tier, while the next run drops what is left anyway."""
        for _ in self._threads:
            self._names.put(None)
        deadline = time.monotonic() + wait
        with self._done:
            while self._pending and (left := deadline - time.monotonic()) > 0:
                before = self._pending
                self._done.wait(min(stall, left))
                if self._pending == before:
                    break  # none finished for `stall` seconds: the server is behind
        return self.pending


def shared_out(names: list[str], worker: int, workers: int) -> list[str]:
    """This worker's share of what earlier runs left: each name dropped by one worker
    (every worker used to queue all of them, and drop the same database four times)."""
    return sorted(names)[worker::workers] if workers > 1 else sorted(names)
