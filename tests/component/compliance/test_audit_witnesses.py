"""Witnesses and the dialer's upkeep: checkpoints reach a directory and an HTTP
endpoint; a failing witness is counted, recorded and caught up, never skipped."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.transparency import keys
from compliance.transparency.checkpointer import Checkpointer
from compliance.transparency.keeper import AuditLogKeeper, witness_labels
from compliance.transparency.verify import verify_log
from compliance.transparency.witnesses import DirectoryWitness, HttpWitness, WitnessError
from metrics import definitions as m
from store.audit import append
from store.db import transaction
from store.models import AuditWitnessState


class Endpoint:
    """An append-only HTTP witness: POST adds a line, GET returns them all."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.failing = False
        self.redirect_to = ""  # answer every request with a 307 to there
        self.trickle = False  # answer GET one byte every 50 ms, without end
        self.asked = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.asked += 1
                if self._redirected():
                    return
                if outer.failing:
                    self.send_response(503)
                else:
                    outer.lines.append(body)
                    self.send_response(201)
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                outer.asked += 1
                if self._redirected():
                    return
                data = "".join(line + "\n" for line in outer.lines).encode()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(data)
                while outer.trickle:
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return  # the reader gave up
                    time.sleep(0.05)

            def _redirected(self) -> bool:
                if not outer.redirect_to:
                    return False
                self.send_response(307)
                self.send_header("Location", outer.redirect_to)
                self.end_headers()
                return True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/checkpoints"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.server.shutdown()


def add(engine: Engine, n: int) -> None:
    with transaction(engine) as session:
        for i in range(n):
            append(session, "decision", {"i": i})


def failures(label: str) -> float:
    return (
        m.REGISTRY.get_sample_value("cobrador_audit_witness_failures_total", {"witness": label})
        or 0.0
    )


def test_given_a_directory_and_an_http_witness_then_both_hold_every_checkpoint(
    engine: Engine, tmp_path: Path, endpoint: Endpoint
) -> None:
    key = keys.generate(tmp_path / "k")
    witnesses = [DirectoryWitness(tmp_path / "w"), HttpWitness(endpoint.url)]
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    keeper = AuditLogKeeper(
        engine, Checkpointer(engine, key, witnesses, every_entries=5, clock=lambda: now[0])
    )
    add(engine, 3)
    keeper.run_once()  # the first checkpoint comes at once
    add(engine, 3)
    keeper.run_once()  # 3 new entries, fewer than 5, less than 60 s: none
    now[0] += timedelta(seconds=61)
    keeper.run_once()
    assert len(endpoint.lines) == 2
    assert len((tmp_path / "w" / "checkpoints-2026-12-01.jsonl").read_text().splitlines()) == 2
    report = verify_log(engine, witnesses=witnesses, trusted_keys=[key.public_key()], now=now[0])
    assert report.ok, report.findings
    assert m.REGISTRY.get_sample_value("cobrador_audit_log_entries") == 6
    assert m.REGISTRY.get_sample_value("cobrador_audit_pending_entries") == 0


def test_given_a_failing_witness_then_it_is_counted_recorded_and_caught_up(
    engine: Engine, tmp_path: Path, endpoint: Endpoint
) -> None:
    key = keys.generate(tmp_path / "k")
    http = HttpWitness(endpoint.url)
    keeper = AuditLogKeeper(engine, Checkpointer(engine, key, [http], every_entries=1))
    label = witness_labels([http.name])[http.name]
    before = failures(label)
    endpoint.failing = True
    add(engine, 1)
    keeper.run_once()
    add(engine, 1)
    keeper.run_once()
    assert failures(label) == before + 2
    with Session(engine) as session:
        state = session.get(AuditWitnessState, http.name)
        assert state is not None and "503" in (state.last_error or "")
        assert state.last_seq is None
    report = verify_log(engine, witnesses=[http], trusted_keys=[key.public_key()],
                        now=datetime.now(UTC) + timedelta(hours=1))  # fmt: skip
    assert "witness_behind" in [f.code for f in report.findings]

    endpoint.failing = False
    keeper.run_once()  # catches up with both checkpoints, in order
    assert len(endpoint.lines) == 2
    with Session(engine) as session:
        state = session.scalars(select(AuditWitnessState)).one()
        assert state.last_seq == 1 and state.last_error is None


def test_given_an_unmounted_witness_volume_then_publishing_fails_loudly(
    engine: Engine, tmp_path: Path
) -> None:
    key = keys.generate(tmp_path / "k")
    witness = DirectoryWitness(tmp_path / "not-mounted" / "witness")
    keeper = Checkpointer(engine, key, [witness])
    add(engine, 1)
    from compliance.transparency.integrator import integrate

    integrate(engine)
    _, outcomes = keeper.run_once()
    assert outcomes[0].error and "cannot append" in outcomes[0].error
    assert not (tmp_path / "not-mounted").exists()


def test_an_unreachable_http_witness_is_a_finding_not_a_pass(
    engine: Engine, tmp_path: Path
) -> None:
    key = keys.generate(tmp_path / "k")
    report = verify_log(engine, witnesses=[HttpWitness("http://127.0.0.1:9/none", timeout=1)],
                        trusted_keys=[key.public_key()])  # fmt: skip
    assert [f.code for f in report.findings] == ["witness_unavailable"]


def test_given_a_witness_answering_without_end_then_read_stops_at_its_bound(
    endpoint: Endpoint,
) -> None:
    # A line per checkpoint is what a witness holds; an endpoint that streams more than
    # the bound (here 10 KiB) is refused, having been read no further than the bound.
    endpoint.lines = ["x" * 1000] * 50
    with pytest.raises(WitnessError, match="answer over 10240 bytes"):
        HttpWitness(endpoint.url, max_bytes=10 * 1024).read()
    # Under the bound it is read whole (50 lines that are not checkpoints: each said).
    assert len(HttpWitness(endpoint.url, max_bytes=100 * 1024).read()) == 50


def test_given_a_witness_line_nested_past_the_parser_depth_then_it_is_a_finding_not_a_crash(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    """json.loads raises RecursionError (not ValueError) on deep nesting: a witness
    holding such a line stopped `cobrador audit verify` with a traceback."""
    deep = "[" * 100_000 + "]" * 100_000
    endpoint.lines = [deep, '{"checkpoint": "' + "[" * 100_000 + '", "signature": "x"}']
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "checkpoints-2026-12-05.jsonl").write_text(deep + "\n")

    records = HttpWitness(endpoint.url).read() + DirectoryWitness(tmp_path / "w").read()

    assert [r.signed for r in records] == [None, None, None]
    assert all(r.error and "checkpoint" in r.error for r in records)


def test_given_a_witness_answering_a_redirect_then_it_is_not_followed(
    endpoint: Endpoint, tmp_path: Path, engine: Engine
) -> None:
    """The witness's answer chose where our POST and GET went next (an address inside
    our network, another witness's lines): a redirect is the witness's failure."""
    elsewhere = Endpoint()
    try:
        elsewhere.lines = ["x"]
        endpoint.redirect_to = elsewhere.url
        witness = HttpWitness(endpoint.url)
        with pytest.raises(WitnessError, match="307"):
            witness.read()
        from compliance.transparency.integrator import integrate

        add(engine, 1)
        integrate(engine)
        _, outcomes = Checkpointer(engine, keys.generate(tmp_path / "k"), [witness]).run_once()

        assert outcomes[0].error and "307" in outcomes[0].error
        assert elsewhere.asked == 0 and endpoint.asked == 2
    finally:
        elsewhere.server.shutdown()


def test_given_a_witness_answering_a_byte_at_a_time_then_read_stops_at_its_deadline(
    endpoint: Endpoint,
) -> None:
    """urlopen's timeout is per socket read: one byte every 50 ms kept a verification
    reading for as long as the endpoint liked."""
    endpoint.trickle = True
    try:
        with pytest.raises(WitnessError, match="not answered in full within 0.5 s"):
            HttpWitness(endpoint.url, read_seconds=0.5).read()
    finally:
        endpoint.trickle = False
