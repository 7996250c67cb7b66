"""The drops of PostgreSQL test databases (tests/support/database_drops.py): several
wait for their checkpoint together, a failed one does not stop the others, a session
is told what it leaves, and what earlier runs left is dropped by one worker each."""

from __future__ import annotations

import threading

import pytest
from support.database_drops import Dropper, shared_out

# Generous: reached only when the drops do not overlap, and then the test fails.
OVERLAP_WAIT = 30.0


def test_given_several_drops_then_they_wait_for_the_checkpoint_together() -> None:
    # Each DROP DATABASE waits for a checkpoint: three drops that each wait until all
    # three are running pass only when they run at once (one at a time, the first
    # waits for the others forever: the barrier breaks and every drop fails).
    together = threading.Barrier(3, timeout=OVERLAP_WAIT)
    dropped: list[str] = []

    def execute(sql: str) -> None:
        together.wait()
        dropped.append(sql)

    dropper = Dropper(execute, threads=3)
    for name in ("t_run_a", "t_run_b", "t_run_c"):
        dropper.drop(name)
    assert dropper.close(OVERLAP_WAIT) == 0
    assert dropper.errors == []
    assert sorted(dropped) == [
        f'DROP DATABASE IF EXISTS "t_run_{x}" WITH (FORCE)' for x in ("a", "b", "c")
    ]


def test_given_one_thread_then_the_drops_do_not_overlap() -> None:
    # The same check against one thread (the dropper before this change): it fails.
    together = threading.Barrier(2, timeout=0.5)
    dropper = Dropper(lambda sql: together.wait(), threads=1)
    dropper.drop("t_run_a")
    dropper.drop("t_run_b")
    assert dropper.close(OVERLAP_WAIT) == 0
    assert len(dropper.errors) == 2 and all("t_run_" in e for e in dropper.errors)


def test_given_a_failed_drop_then_the_next_ones_still_run_and_it_is_reported() -> None:
    dropped: list[str] = []

    def execute(sql: str) -> None:
        if '"t_run_bad"' in sql:
            raise RuntimeError("database is being accessed by other users")
        dropped.append(sql)

    dropper = Dropper(execute, threads=1)
    for name in ("t_run_bad", "t_run_a", "t_run_b"):
        dropper.drop(name)
    assert dropper.close(OVERLAP_WAIT) == 0
    assert len(dropped) == 2
    assert dropper.errors == ["t_run_bad: database is being accessed by other users"]


def test_given_a_drop_still_waiting_when_the_session_ends_then_close_says_how_many_are_left() -> (
    None
):
    checkpoint = threading.Event()
    dropper = Dropper(lambda sql: checkpoint.wait(), threads=1)
    dropper.drop("t_run_a")
    dropper.drop("t_run_b")
    assert dropper.close(0.0) == 2  # one waiting on its checkpoint, one not started
    checkpoint.set()
    assert dropper.close(OVERLAP_WAIT) == 0


def test_given_drops_that_stopped_moving_then_the_session_does_not_wait_out_its_wait() -> None:
    # A checkpoint syncing hundreds of databases takes minutes: once no drop has
    # finished for `stall` seconds the session goes (the next run drops the rest).
    # Without the stall rule this close would wait an hour (pytest-timeout fails it).
    checkpoint = threading.Event()
    dropper = Dropper(lambda sql: checkpoint.wait(), threads=2)
    for name in ("t_run_a", "t_run_b", "t_run_c"):
        dropper.drop(name)
    try:
        assert dropper.close(3600.0, stall=0.05) == 3
    finally:
        checkpoint.set()


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_given_what_earlier_runs_left_then_each_database_is_dropped_by_one_worker(
    workers: int,
) -> None:
    left = [f"t_old_{i:03d}" for i in range(10)]
    shares = [shared_out(left, worker, workers) for worker in range(workers)]
    every = [name for share in shares for name in share]
    assert sorted(every) == left  # each once, none forgotten
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
