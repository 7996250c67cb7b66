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
Since a worker reuses its migrated databases (tests/support/database_pool.py), a
session drops a few databases (its pool, its template, the `fresh_database` tests'
and those a test changed the schema of) instead of one a test.

What a run left is dropped by a later run only once the run is over (`abandoned`):
a run holds a shared advisory lock named after it while any of its workers lives.
"""

from __future__ import annotations

import queue
import re
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


# The first key of the advisory lock a run holds while it lives ('td'); the second is
# the run's id, the 8 hex digits after `t_` in its databases' names.
RUN_LOCK_SPACE = 0x7464
RUN_ID = re.compile(r"t_([0-9a-f]{8})_")


def run_lock_key(run: str) -> int:
    """The run id `run` (8 hex digits) as pg_advisory_lock_shared's signed int4."""
    key = int(run, 16)
    return key - (1 << 32) if key >= 1 << 31 else key


def run_of_lock_key(objid: int) -> str:
    """The run id of a lock as pg_locks shows it (objid, an unsigned oid)."""
    return f"{objid:08x}"


def abandoned(names: list[str], own_prefix: str, live: set[str], connected: set[str]) -> list[str]:
    """The test databases among `names` that a run left and nobody uses: named by a
    run (t_<8 hex>_...) other than this one (`own_prefix`), whose run holds no lock
    (`live`: the run ids whose lock is held), and with no connection (`connected`).
    A run beside this one keeps its databases, even the template it has not connected
    to for minutes; a database not named by a run is not ours to drop."""
    left = []
    for name in names:
        run = RUN_ID.match(name)
        if run and not name.startswith(own_prefix) and run[1] not in live and name not in connected:
            left.append(name)
    return sorted(left)
