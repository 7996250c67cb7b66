"""The import's writer thread: batches are written one at a time, in order,
with up to `depth` of them queued; a failed write surfaces in the importing
thread and the batches queued behind it are dropped."""

from __future__ import annotations

import threading

import pytest

from store.importing.writer_thread import WriterThread


def test_given_depth_two_when_batches_submitted_then_written_in_order_one_at_a_time() -> None:
    written: list[int] = []
    busy = threading.Lock()
    release = threading.Event()

    def write(batch: list[int]) -> None:
        assert busy.acquire(blocking=False), "two batches written at once"
        try:
            release.wait()
            written.extend(batch)
        finally:
            busy.release()

    with WriterThread(write, depth=2) as writer:
        writer.submit([1, 2])
        writer.submit([3])  # queued behind the first: submit does not wait
        assert written == []
        release.set()
        writer.submit([4])
        writer.wait()
        assert written == [1, 2, 3, 4]


def test_given_failed_write_then_error_raised_to_importer_and_queued_batches_dropped() -> None:
    written: list[str] = []
    first_started, go_on = threading.Event(), threading.Event()

    def write(batch: list[str]) -> None:
        first_started.set()
        go_on.wait()
        if batch == ["bad"]:
            raise ValueError("duplicate key")
        written.extend(batch)

    with pytest.raises(ValueError, match="duplicate key"), WriterThread(write, depth=2) as writer:
        writer.submit(["bad"])
        first_started.wait()
        writer.submit(["queued"])
        go_on.set()
        writer.wait()
    assert written == []


def test_given_depth_one_when_submitting_then_previous_batch_finished_first() -> None:
    finished: list[int] = []

    def write(batch: list[int]) -> None:
        finished.extend(batch)

    with WriterThread(write) as writer:
        writer.submit([1])
        writer.submit([2])
        assert finished == [1]  # the first was waited for before the second went
        writer.wait()
    assert finished == [1, 2]
