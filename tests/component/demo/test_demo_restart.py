"""`cobrador demo` stopped with Ctrl-C and started again on the same data: the
second start dials again in every country, though every account the first start
admitted to a hopper carries a hold in SQL, and its clock resumes after the first
start's calls. How soon it dials is bench/redis_loss_bench.py's business: a test
asserts no speed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.demo_output import DemoOutput
from test_demo import AT, free_port

START_WAIT = 180.0  # a bound for a hang on a loaded machine, never a figure checked
COUNTRIES = ("MX", "CO", "PE")
# AT is a Wednesday, 11:00 in Mexico City and 12:00 in Bogotá and Lima: a working day
# in the three countries (no public holiday) with hours of their calling windows left
# (Colombia's close at 19:00, Peru's at 20:00, Mexico's at 22:00). The second start
# resumes the clock just after the first start's last attempt: minutes later at most
# on any machine, so every country may still be called. A clock resumed much later (a
# time stamped by another clock) could land in an evening, a weekend or a holiday such
# as 8 December (Colombia and Peru) where only Mexico may be called: said as such.
RESUMED_WITHIN = timedelta(hours=1)
RESUMED_RE = re.compile(r"simulated time resumes at (\S+),")
# A call placed is one the network answered for: past the final check, dialed, and
# ended by what the line or the debtor did (no answer, busy, a person, a machine...).
# Not one blocked at the final check or never placed, nor one we hung up ourselves
# before it was answered (`cancelled`: the demo's own stop withdraws its ringing calls,
# and a call still ringing when the poll saw it may be one of them), nor one whose end
# no dialer saw (`lost`). Hence not a call still in flight either: it may end cancelled.
NOT_PLACED = ("blocked", "not_placed", "cancelled", "lost")
OUTPUTS: dict[int, DemoOutput] = {}  # each demo's output, by pid


def start(data: Path, cwd: Path, *first: str) -> subprocess.Popen[str]:
    """The demo as a manager runs it, once it said `ready`."""
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
    return proc


def placed_since(data: Path, after: int) -> dict[str, int]:
    """Per country, the first call placed (NOT_PLACED says what is not) after attempt `after`."""
    engine = create_engine(f"sqlite:///{data / 'cobrador.sqlite3'}")
    excluded = ", ".join(f"'{result}'" for result in NOT_PLACED)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT a.country, MIN(c.id) FROM call_attempts c JOIN accounts a ON a.id = c.account_id"
                " WHERE c.id > :after AND c.direction = 'outbound' AND c.decision_id IS NOT NULL"
                f" AND c.result IS NOT NULL AND c.result NOT IN ({excluded})"
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


def blocked_since(data: Path, after: int) -> dict[str, dict[str, int]]:
    """Per country, why calls were held back in decisions after `after` (a failure's story)."""
    engine = create_engine(f"sqlite:///{data / 'cobrador.sqlite3'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT a.country, d.reasons, COUNT(*) FROM decisions d"
                " JOIN accounts a ON a.id = d.account_id WHERE d.id > :after AND d.allowed = 0"
                " AND d.channel = 'call' GROUP BY a.country, d.reasons"), {"after": after}).all()  # fmt: skip
    finally:
        engine.dispose()
    out: dict[str, dict[str, int]] = {}
    for country, reasons, count in rows:
        out.setdefault(str(country), {})[str(reasons)] = int(count)
    return out


def last_decision(data: Path) -> int:
    engine = create_engine(f"sqlite:///{data / 'cobrador.sqlite3'}")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM decisions")).scalar_one()
            )
    finally:
        engine.dispose()


def until_placed(data: Path, after: int, proc: subprocess.Popen[str], decided: int = 0) -> None:
    """Polls SQL until every country has a call placed after attempt `after`."""
    deadline = time.monotonic() + START_WAIT
    with OUTPUTS[proc.pid].told_on_failure():
        while set(placed_since(data, after)) < set(COUNTRIES):
            assert proc.poll() is None, "the demo stopped"
            if time.monotonic() > deadline:
                pytest.fail(f"no call placed in every country: {placed_since(data, after)};"
                            f" calls held back since, by country and reasons:"
                            f" {blocked_since(data, decided)}")  # fmt: skip
            time.sleep(0.2)


def resumed_at(proc: subprocess.Popen[str]) -> datetime | None:
    """The simulated time the demo said it resumes at, if it said so."""
    found = RESUMED_RE.search(OUTPUTS[proc.pid].started)
    return datetime.fromisoformat(found.group(1)) if found else None


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


def test_given_a_demo_stopped_with_ctrl_c_when_started_again_then_it_dials_every_country(
    tmp_path: Path, stopped_later: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "demo-data"
    first = start(data, tmp_path, "--bots", "3", "--agents", "1", "--accounts", "150")
    stopped_later.append(first)
    # Every country dialed: the first refills admitted (and held) their accounts.
    until_placed(data, 0, first)
    stop(first)

    before, decided = last_attempt(data), last_decision(data)
    # The same --at again: the clock resumes after the first start's calls, so no new
    # attempt is older than one already recorded (evidence never runs backwards).
    second = start(data, tmp_path)
    stopped_later.append(second)
    at = datetime.fromisoformat(AT)
    resumed = resumed_at(second)
    assert resumed is None or at <= resumed < at + RESUMED_WITHIN, (
        f"the second start's clock resumed at {resumed}, not just after the first start's"
        f" calls ({AT}): the countries' calling windows there are not the test's premise"
    )
    until_placed(data, before, second, decided)
    stop(second)
    first_end, second_start = started_around(data, before)
    assert second_start > first_end, (first_end, second_start)


def test_given_calls_cancelled_blocked_or_in_flight_then_none_is_counted_as_placed(
    tmp_path: Path,
) -> None:
    """What placed_since counts, on rows as the demo writes them: MX's only call was
    withdrawn by the demo's stop (cancelled), CO's is still ringing, PE's was blocked at
    the final check and then answered busy once: only PE's busy call is placed."""
    engine = create_engine(f"sqlite:///{tmp_path / 'cobrador.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE accounts (id INTEGER PRIMARY KEY, country TEXT)"))
        conn.execute(text("CREATE TABLE call_attempts (id INTEGER PRIMARY KEY, account_id INTEGER,"
                          " direction TEXT, decision_id INTEGER, result TEXT)"))  # fmt: skip
        conn.execute(text("INSERT INTO accounts VALUES (1, 'MX'), (2, 'CO'), (3, 'PE')"))
        conn.execute(text(
            "INSERT INTO call_attempts VALUES (1, 1, 'outbound', 1, 'no_answer'),"
            " (2, 1, 'outbound', 2, 'cancelled'), (3, 2, 'outbound', 3, NULL),"
            " (4, 3, 'outbound', 4, 'blocked'), (5, 3, 'outbound', NULL, 'not_placed'),"
            " (6, 2, 'outbound', 5, 'lost'), (7, 3, 'outbound', 6, 'busy')"))  # fmt: skip
    engine.dispose()

    assert placed_since(tmp_path, 1) == {"PE": 7}
    assert placed_since(tmp_path, 0) == {"MX": 1, "PE": 7}
