"""The output of a `cobrador demo` subprocess, read from start to end on a thread of
its own and kept for a failing test's message.

A pipe nobody drains fills, and the demo's next log line then blocks it: its output
is read on after "ready" until the process ends, and a failure names its last lines.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

TAIL_LINES = 60


class DemoOutput:
    """Every line a demo (stdout and stderr merged, text mode) wrote so far."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None, "start the demo with stdout=subprocess.PIPE"
        self.proc = proc
        self.lines: list[str] = []
        self.started = ""  # the output up to "ready", once until_ready saw it
        self._ready = threading.Event()
        self._ended = threading.Event()
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream: Iterator[str]) -> None:
        try:
            for line in stream:
                self.lines.append(line)
                if line.strip() == "ready":
                    self._ready.set()
        finally:
            self._ended.set()

    def until_ready(self, seconds: float) -> str:
        """The output up to its "ready" line. A demo that ends or stays silent for
        `seconds` first is killed and fails the test with what it wrote."""
        deadline = time.monotonic() + seconds
        while not self._ready.wait(0.2):
            if self._ended.is_set() or time.monotonic() > deadline:
                break
        if not self._ready.is_set():
            self.proc.kill()
            raise AssertionError("the demo never printed ready:\n" + "".join(self.lines))
        upto = next(i for i, line in enumerate(self.lines) if line.strip() == "ready")
        self.started = "".join(self.lines[: upto + 1])
        return self.started

    def tail(self, count: int = TAIL_LINES) -> str:
        return "".join(self.lines[-count:])

    @contextmanager
    def told_on_failure(self) -> Iterator[None]:
        """A failure inside (an assertion, a wait that ran out) carries the demo's last
        log lines in its message: what the demo was doing meanwhile."""
        try:
            yield
        except (Exception, pytest.fail.Exception) as exc:
            raise AssertionError(
                f"{type(exc).__name__}: {exc}\nthe demo's last log lines:\n{self.tail()}"
            ) from exc
