"""A first account import into empty tables on PostgreSQL builds the plain indexes
and the phones' foreign key after loading the rows: afterwards (or after a
rollback) the schema is exactly what it was, and a table another session is
reading makes the import take the ordinary path."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import store.importing.fresh_load as fresh_load
from store.importing.accounts import import_accounts
from store.models import Account, Phone

TODAY = date(2026, 11, 24)
HEADER = "external_ref,debtor_name,country,balance,phone_1,phone_2\n"


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (DATABASE_URL)")
    return engine


def schema(engine: Engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        indexes = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('accounts', 'phones')"
        ))  # fmt: skip
        constraints = conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid IN (CAST('accounts' AS regclass), CAST('phones' AS regclass))"
        ))  # fmt: skip
        return {tuple(r) for r in [*indexes, *constraints]}  # type: ignore[misc]


def rows(n: int) -> str:
    return "".join(f"F{i},Deudor {i},MX,10.00,66212{i:05d},66298{i:05d}\n" for i in range(n))


def counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        return (s.scalar(select(func.count()).select_from(Account)) or 0,
                s.scalar(select(func.count()).select_from(Phone)) or 0)  # fmt: skip


def test_given_empty_tables_when_imported_then_rows_written_and_schema_as_before(
    pg: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=fresh_load.__name__)
    before = schema(pg)
    assert any(name == "ix_phones_number_e164" for name, _ in before)
    path = tmp_path / "a.csv"
    path.write_text(HEADER + rows(50))
    result = import_accounts(pg, path, today=TODAY, batch_size=7)
    assert result.written and result.created == 50
    assert "built after loading" in caplog.text
    assert counts(pg) == (50, 100)
    assert schema(pg) == before
    with pytest.raises(IntegrityError), pg.begin() as conn:  # the foreign key is back
        conn.execute(text("INSERT INTO phones (account_id, position, number_e164, phone_type, "
                          "consent, status, updated_at) VALUES (-1, 1, '+1', 'mobile', false, "
                          "'active', now())"))  # fmt: skip


def test_given_empty_tables_and_a_bad_row_then_nothing_written_and_schema_as_before(
    pg: Engine, tmp_path: Path
) -> None:
    before = schema(pg)
    path = tmp_path / "a.csv"
    path.write_text(HEADER + rows(20) + "BAD,Beto,MX,-1,,\n")
    result = import_accounts(pg, path, today=TODAY, batch_size=7)
    assert not result.written
    assert counts(pg) == (0, 0)
    assert schema(pg) == before


def test_given_another_session_reading_accounts_then_ordinary_path_and_rows_written(
    pg: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=fresh_load.__name__)
    monkeypatch.setattr(fresh_load, "LOCK_TIMEOUT", "100ms")
    before = schema(pg)
    path = tmp_path / "a.csv"
    path.write_text(HEADER + rows(10))
    with pg.connect() as reader:
        reader.execute(select(func.count()).select_from(Account))  # holds ACCESS SHARE
        result = import_accounts(pg, path, today=TODAY, batch_size=3)
        reader.rollback()
    assert result.written and result.created == 10
    assert "ordinary path" in caplog.text and "built after loading" not in caplog.text
    assert counts(pg) == (10, 20)
    assert schema(pg) == before
