"""Audit entries on real SQL: appends (no lock), the database-only verify, export, CLI.

Tampering against signed checkpoints and witnesses: test_audit_log.py."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from cobrador.cli import main
from compliance.transparency.integrator import integrate
from compliance.transparency.verify import verify
from store.audit import (
    UNCHAINED,
    AuditError,
    NewEntry,
    append,
    append_many,
    canonical_json,
    entry_leaf_hash,
)
from store.db import transaction
from store.models import AuditEntry


def _fill(engine: Engine, n: int = 5) -> list[int]:
    ids = []
    with transaction(engine) as session:
        for i in range(n):
            entry = append(
                session,
                "decision",
                {"n": i, "amount": Decimal("10.50"), "day": date(2026, 1, i + 1)},
                subject=f"account:{i}",
            )
            ids.append(entry.id)
    integrate(engine)
    return ids


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))


def test_given_entries_when_verified_then_chain_is_intact(engine: Engine) -> None:
    ids = _fill(engine)
    result = verify(engine)
    assert result.ok and result.checked == len(ids)
    with transaction(engine) as session:
        first = session.get(AuditEntry, ids[0])
        assert first is not None and first.prev_hash == UNCHAINED
        assert first.hash == entry_leaf_hash(first).hex()


def test_given_empty_chain_when_verified_then_ok(engine: Engine) -> None:
    assert verify(engine).ok


def test_given_edited_payload_when_verified_then_that_entry_is_named(engine: Engine) -> None:
    ids = _fill(engine)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entries SET payload = :p WHERE id = :id"),
            {"p": '{"n":99}', "id": ids[2]},
        )
    result = verify(engine)
    assert not result.ok and result.first_bad_id == ids[2]
    assert "edited" in (result.problem or "")


def test_given_edited_actor_and_rehashed_row_when_verified_then_that_entry_is_named(
    engine: Engine,
) -> None:
    # A forger who recomputes the edited row's own hash does not change its leaf.
    ids = _fill(engine)
    with transaction(engine) as session:
        row = session.get(AuditEntry, ids[1])
        assert row is not None
        row.actor = "someone-else"
        row.hash = entry_leaf_hash(row).hex()
    result = verify(engine)
    assert not result.ok and result.first_bad_id == ids[1]
    assert "entry_edited" in (result.problem or "")


def test_given_deleted_entry_and_leaf_when_verified_then_the_gap_is_named(engine: Engine) -> None:
    ids = _fill(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_leaves WHERE entry_id = :id"), {"id": ids[1]})
        conn.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[1]})
    result = verify(engine)
    assert not result.ok and "leaves 1..1 are missing" in (result.problem or "")


def test_given_swapped_rows_when_verified_then_the_first_swapped_is_named(engine: Engine) -> None:
    ids = _fill(engine)
    cols = "created_at, kind, actor, subject, payload, prev_hash, hash"
    with engine.begin() as conn:
        a = conn.execute(text(f"SELECT {cols} FROM audit_entries WHERE id = :id"), {"id": ids[1]})
        row_a = a.one()
        b = conn.execute(text(f"SELECT {cols} FROM audit_entries WHERE id = :id"), {"id": ids[3]})
        row_b = b.one()
        sets = ", ".join(f"{c} = :{c}" for c in cols.split(", "))
        conn.execute(
            text(f"UPDATE audit_entries SET {sets} WHERE id = :id"),
            {**row_b._asdict(), "id": ids[1]},
        )
        conn.execute(
            text(f"UPDATE audit_entries SET {sets} WHERE id = :id"),
            {**row_a._asdict(), "id": ids[3]},
        )
    result = verify(engine)
    assert not result.ok and result.first_bad_id == ids[1]
    assert "entry_reordered" in (result.problem or "")


def test_given_savepoint_rolled_back_when_appending_after_then_chain_is_intact(
    engine: Engine,
) -> None:
    with transaction(engine) as session:
        append(session, "decision", {"n": 1})
        savepoint = session.begin_nested()
        append(session, "decision", {"n": 2})
        savepoint.rollback()
        append(session, "decision", {"n": 3})
        append_many(session, [NewEntry("attempt", {"n": 4}), NewEntry("attempt", {"n": 5})])
    result = verify(engine)
    assert result.ok and result.checked == 4


def test_given_batch_with_a_bad_entry_when_appending_many_then_nothing_added(
    engine: Engine,
) -> None:
    with transaction(engine) as session:
        with pytest.raises(AuditError):
            append_many(
                session, [NewEntry("decision", {"ok": 1}), NewEntry("decision", {"x": object()})]
            )
        append(session, "decision", {"n": 1})
    assert verify(engine).checked == 1


def test_given_concurrent_writers_when_appending_then_chain_never_forks(engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(8):
                with transaction(engine) as session:
                    append(session, "attempt", {"writer": w, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = verify(engine)
    assert result.ok and result.checked == 32


def test_given_rolled_back_transaction_when_verified_then_chain_is_intact(engine: Engine) -> None:
    _fill(engine, 2)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        append(session, "decision", {"x": 1})
        raise RuntimeError("caller failed")
    _fill(engine, 2)
    assert verify(engine).checked == 4


def test_given_bad_payloads_when_appending_then_refused(engine: Engine) -> None:
    with transaction(engine) as session:
        with pytest.raises(AuditError):
            append(session, "decision", {"at": datetime(2026, 1, 1)})
        with pytest.raises(AuditError):
            append(session, "decision", {"x": float("nan")})
        with pytest.raises(AuditError):
            append(session, "decision", {"x": object()})
        with pytest.raises(AuditError):
            append(session, "Bad Kind", {})
        with pytest.raises(AuditError):
            append(session, "decision", {}, now=datetime(2026, 1, 1))


def test_given_equal_content_in_any_key_order_when_canonicalised_then_identical() -> None:
    a = {"b": 1, "a": [Decimal("1.50"), datetime(2026, 3, 1, 12, tzinfo=UTC)], "ñ": "sí"}
    b = {"ñ": "sí", "a": [Decimal("1.50"), datetime(2026, 3, 1, 12, tzinfo=UTC)], "b": 1}
    assert canonical_json(a) == canonical_json(b)
    assert canonical_json(a) == '{"a":["1.50","2026-03-01T12:00:00Z"],"b":1,"ñ":"sí"}'


def test_given_intact_chain_when_cli_verify_then_exit_0(
    engine: Engine, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(engine, 3)
    assert main(["audit", "verify"]) == 0
    assert "3 entries" in capsys.readouterr().out


def test_given_tampered_chain_when_cli_verify_then_nonzero_naming_entry(
    engine: Engine, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _fill(engine, 3)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entries SET kind = 'payment' WHERE id = :id"), {"id": ids[1]}
        )
    assert main(["audit", "verify"]) == 1
    assert f"entry {ids[1]}" in capsys.readouterr().err


def test_given_entries_when_exported_as_jsonl_and_csv_then_rows_in_range(
    engine: Engine, cli_env: None, tmp_path: Path
) -> None:
    with transaction(engine) as session:
        for day in (1, 2, 3):
            append(session, "payment", {"day": day}, now=datetime(2026, 5, day, tzinfo=UTC))
    out = tmp_path / "a.jsonl"
    code = main(
        ["audit", "export", "--from", "2026-05-02", "--to", "2026-05-03T00:00:00Z",
         "--format", "jsonl", "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["payload"]["day"] for r in rows] == [2]
    out_csv = tmp_path / "a.csv"
    assert main(["audit", "export", "--format", "csv", "-o", str(out_csv)]) == 0
    lines = out_csv.read_text().splitlines()
    assert lines[0].startswith("id,created_at,kind") and len(lines) == 4


def test_given_naive_or_garbage_time_when_exporting_then_exit_2(
    engine: Engine, cli_env: None
) -> None:
    assert main(["audit", "export", "--from", "2026-05-02T10:00"]) == 2
    assert main(["audit", "export", "--from", "yesterday"]) == 2
    assert main(["audit", "export", "--from", "2026-05-03", "--to", "2026-05-02"]) == 2
