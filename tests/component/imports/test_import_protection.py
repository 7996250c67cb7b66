"""The accounts import's protection columns (compliance/protection.py): a value sets it
with its evidence, an empty cell keeps what the account has (a supervisor's mark is not
undone by the next nightly file), `none` clears it; each change is audited."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from store.importing.accounts import import_accounts
from store.models import Account, AuditEntry

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
HEADER = "external_ref,debtor_name,country,balance,phone_1,protection,protection_ref\n"


def run(engine: Engine, tmp_path: Path, *rows: str) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    result = import_accounts(engine, path, today=TODAY, clock=lambda: NOW)
    assert result.written, result.errors


def state(engine: Engine) -> dict[str, tuple[str | None, str | None, datetime | None]]:
    with Session(engine) as s:
        return {a.external_ref: (a.protection, a.protection_ref, a.protection_at)
                for a in s.scalars(select(Account))}  # fmt: skip


def changes(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as s:
        return [json.loads(e.payload) for e in s.scalars(select(AuditEntry)
                .where(AuditEntry.kind == "protection_change").order_by(AuditEntry.id))]  # fmt: skip


def test_given_protection_cells_when_imported_then_set_kept_and_cleared(
    engine: Engine, tmp_path: Path
) -> None:
    run(engine, tmp_path, "D1,Ana,CO,100,3101234567,insolvency,RAD-2026-15\n",
        "D2,Beto,MX,100,5512345678,deceased,\n", "D3,Caro,PE,100,912345678,,\n")  # fmt: skip
    assert state(engine) == {
        "D1": ("insolvency", "RAD-2026-15", NOW),
        "D2": ("deceased", None, NOW),
        "D3": (None, None, None),
    }
    # The next file says nothing about D1 and D2: they stay protected.
    run(engine, tmp_path, "D1,Ana,CO,100,3101234567,,\n", "D2,Beto,MX,100,5512345678,,\n",
        "D3,Caro,PE,100,912345678,minor,ACTA-9\n")  # fmt: skip
    after = state(engine)
    assert after["D1"][0] == "insolvency" and after["D2"][0] == "deceased"
    assert after["D3"] == ("minor", "ACTA-9", NOW)
    # `none` ends it (the proceeding closed).
    run(engine, tmp_path, "D1,Ana,CO,100,3101234567,none,\n")
    assert state(engine)["D1"] == (None, None, None)
    entries = changes(engine)
    assert [(e["protection"], e["was"]) for e in entries] == [("minor", None), (None, "insolvency")]
    assert all(e["source"] == "csv_import" for e in entries)


def test_given_bad_protection_cells_when_imported_then_named_and_nothing_written(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "D1,Ana,CO,100,3101234567,quiebra,\n"
                    "D2,Beto,MX,100,5512345678,,REF-1\n", encoding="utf-8")  # fmt: skip
    result = import_accounts(engine, path, today=TODAY, clock=lambda: NOW)
    assert not result.written
    found = {(e.line, e.column) for e in result.errors}
    assert found == {(2, "protection"), (3, "protection_ref")}
    assert "unknown protection 'quiebra'" in str(result.errors[0].reason)
