"""`cobrador demo` stopped with Ctrl-C and started again on the same data: the
second start dials again at once in every country, though its Redis (hopper,
windows, counters) started empty and every account the first start admitted to
a hopper carries a hold in SQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.demo_output import DemoOutput
from test_demo import AT, free_port

START_WAIT = 180.0  # the test's own bound on a loaded machine, not the figure checked
FIRST_CALL_SECONDS = 10.0  # the acceptance: a call placed within 10 s of being ready
COUNTRIES = ("MX", "CO", "PE")
OUTPUTS: dict[int, DemoOutput] = {}  # each demo's output, by pid


def start(data: Path, cwd: Path, *first: str) -> tuple[subprocess.Popen[str], float]:
    """The demo as a manager runs it; returns it and when it said `ready` (monotonic)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cobrador.cli", "demo", *first, "--at", AT,
         "--port", str(free_port()), "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd,
    )  # fmt: skip
    output = DemoOutput(proc)
    OUTPUTS[proc.pid] = output
    output.until_ready(START_WAIT)
    return proc, time.monotonic()


def placed_since(data: Path, after: int) -> dict[str, int]:
    """Per country, the first attempt after `after` that passed the final check."""
    engine = create_engine(f"sqlite:///{data / 'cobrador.sqlite3'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT a.country, MIN(c.id) FROM call_attempts c JOIN accounts a ON a.id = c.account_id"
                " WHERE c.id > :after AND c.direction = 'outbound' AND c.decision_id IS NOT NULL"
                " AND (c.result IS NULL OR c.result NOT IN ('blocked', 'not_placed'))"
                " GROUP BY a.country"), {"after": after}).all()  # fmt: skip
    finally:
        engine.dispose()
    return {str(country): int(first) for country, first in rows}


def last_attempt(data: Path) -> int:
    engine = create_engine(f"sqlite:///{data / 'cobrador.sqlite3'}")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM call_attempts")).scalar_one()
            )
    finally:
        engine.dispose()


def started_around(data: Path, before: int) -> tuple[str, str]:
    """The last start time up to attempt `before`, and the first after it."""
    engine = create_engine(f"sqlite:///{data / 'cobrador.sqlite3'}")
    try:
        with engine.connect() as conn:
            return (
                str(conn.execute(text("SELECT MAX(started_at) FROM call_attempts WHERE id <= :b"),
                                 {"b": before}).scalar_one()),
                str(conn.execute(text("SELECT MIN(started_at) FROM call_attempts WHERE id > :b"),
                                 {"b": before}).scalar_one()),
            )  # fmt: skip
    finally:
        engine.dispose()


def until_placed(data: Path, after: int, proc: subprocess.Popen[str]) -> float:
    """Polls SQL until every country has a call placed; when it saw them (monotonic)."""
    deadline = time.monotonic() + START_WAIT
    with OUTPUTS[proc.pid].told_on_failure():
        while set(placed_since(data, after)) < set(COUNTRIES):
            assert proc.poll() is None, "the demo stopped"
            if time.monotonic() > deadline:
                pytest.fail(f"no call placed in every country: {placed_since(data, after)}")
            time.sleep(0.2)
    return time.monotonic()


@pytest.fixture
def stopped_later() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0


def test_given_a_demo_stopped_with_ctrl_c_when_started_again_then_it_dials_every_country_at_once(
    tmp_path: Path, stopped_later: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "demo-data"
    first, _ = start(data, tmp_path, "--bots", "3", "--agents", "1", "--accounts", "150")
    stopped_later.append(first)
    # Every country dialed: the first refills admitted (and held) their accounts.
    until_placed(data, 0, first)
    stop(first)

    before = last_attempt(data)
    # The same --at again: the clock resumes after the first start's calls, so no new
    # attempt is older than one already recorded (evidence never runs backwards).
    second, ready = start(data, tmp_path)
    stopped_later.append(second)
    seen = until_placed(data, before, second)
    stop(second)
    assert seen - ready <= FIRST_CALL_SECONDS, f"first calls {seen - ready:.1f} s after ready"
    first_end, second_start = started_around(data, before)
    assert second_start > first_end, (first_end, second_start)
