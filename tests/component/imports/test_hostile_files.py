"""Hostile CSV files: whatever the bytes, an import ends with row errors or one file
error that says what to do, in bounded memory; never another exception, and nothing
written that PostgreSQL would refuse half-way."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from compliance.debtor_time import account_day
from store.importing.accounts import import_accounts
from store.importing.csv_source import MAX_LINE_CHARS, ImportFileError
from store.importing.payments import import_payments
from store.importing.report import MAX_REASON_CHARS
from store.models import Account, Phone

TODAY = date(2026, 11, 24)
HEADER = "external_ref,debtor_name,country,balance,currency,phone_1\n"
GOOD = "A1,Ana Pérez,MX,100.50,MXN,6621234567\n"


def write(tmp_path: Path, data: bytes, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def accounts(engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(Account)) or 0


def test_given_a_first_line_with_no_end_then_refused_without_reading_it_whole(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, b"a" * (MAX_LINE_CHARS + 10))
    with pytest.raises(ImportFileError, match="first line is longer than"):
        import_accounts(engine, path, today=TODAY)


def test_given_a_header_cell_over_the_csv_field_limit_then_a_file_error(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, b'external_ref,"' + b"x" * 200_000 + b'"\n')
    with pytest.raises(ImportFileError, match="line 1: malformed CSV header"):
        import_accounts(engine, path, today=TODAY)


@pytest.mark.parametrize("quote", [b"", b'"'])
def test_given_a_ten_megabyte_cell_then_the_line_is_named_and_nothing_written(
    engine: Engine, tmp_path: Path, quote: bytes
) -> None:
    cell = quote + b"x" * 10_000_000 + quote
    data = (HEADER + GOOD).encode() + b"A2," + cell + b",MX,1,MXN,\n"
    with pytest.raises(ImportFileError, match="line 3: a line is longer than"):
        import_accounts(engine, write(tmp_path, data), today=TODAY)
    assert accounts(engine) == 0


def test_given_a_quoted_cell_over_many_lines_over_the_limit_then_said_so(
    engine: Engine, tmp_path: Path
) -> None:
    cell = '"' + "x\n" * 100_000 + '"'
    data = (HEADER + GOOD + f"A2,{cell},MX,1,MXN,\n").encode()
    with pytest.raises(ImportFileError, match="line 3: a cell is longer than 131072"):
        import_accounts(engine, write(tmp_path, data), today=TODAY)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_given_a_utf16_file_then_the_error_says_utf16_and_how_to_save_it(
    engine: Engine, tmp_path: Path, encoding: str
) -> None:
    data = (HEADER + GOOD).encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    with pytest.raises(ImportFileError, match='UTF-16.*"CSV UTF-8"'):
        import_accounts(engine, write(tmp_path, data), today=TODAY)


def test_given_a_nul_in_a_cell_then_that_row_refused_with_its_column(
    engine: Engine, tmp_path: Path
) -> None:
    data = (HEADER + GOOD + "A2,Be\x00to,MX,1,MXN,\n").encode()
    result = import_accounts(engine, write(tmp_path, data), today=TODAY)
    assert not result.written
    [error] = result.errors
    assert (error.line, error.column) == (3, "debtor_name")
    assert "NUL" in error.reason
    assert accounts(engine) == 0


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Ana\x1b[2J\x1b[31mPérez", "control character (U+001B)"),  # clears a terminal
        ("Ana \u202eZEREP", "text-direction control (U+202E)"),  # shows reversed
        ("Ana \u2067Pérez\u2069", "text-direction control (U+2067)"),
        ("Ana\x7fPérez", "control character (U+007F)"),
        ("Ana\x85Pérez", "control character (U+0085)"),
    ],
)
def test_given_a_control_character_in_a_cell_then_that_row_refused_with_its_column(
    engine: Engine, tmp_path: Path, name: str, says: str
) -> None:
    data = (HEADER + GOOD + f"A2,{name},MX,1,MXN,\n").encode()
    result = import_accounts(engine, write(tmp_path, data), today=TODAY)
    assert not result.written
    [error] = result.errors
    assert (error.line, error.column) == (3, "debtor_name")
    assert says in error.reason
    assert accounts(engine) == 0


def test_given_a_tab_and_a_line_break_in_quoted_cells_then_the_row_is_imported(
    engine: Engine, tmp_path: Path
) -> None:
    data = (HEADER + 'A2,"Ana\tMaría\nPérez",MX,1,MXN,\n').encode()
    result = import_accounts(engine, write(tmp_path, data), today=TODAY)
    assert not result.errors
    assert accounts(engine) == 1


def test_given_a_nul_in_the_header_then_a_file_error(engine: Engine, tmp_path: Path) -> None:
    data = ("external_ref,debtor_name,coun\x00try,balance\n" + "A1,Ana,MX,1\n").encode()
    with pytest.raises(ImportFileError, match="NUL"):
        import_accounts(engine, write(tmp_path, data), today=TODAY)


def test_given_cr_only_line_ends_then_rows_read_one_by_one(engine: Engine, tmp_path: Path) -> None:
    data = (HEADER + GOOD + "A2,Beto,MX,1,MXN,\n").replace("\n", "\r").encode()
    result = import_accounts(engine, write(tmp_path, data), today=TODAY)
    assert result.written and result.rows == 2


@pytest.mark.parametrize(
    ("country", "currency", "refused"),
    [("MX", "COP", True), ("CO", "MXN", True), ("PE", "EUR", True), ("PE", "USD", False),
     ("MX", "usd", False), ("CO", "COP", False)],
)  # fmt: skip
def test_given_a_currency_not_of_the_country_then_the_row_refused_with_the_expected_ones(
    engine: Engine, tmp_path: Path, country: str, currency: str, refused: bool
) -> None:
    data = f"{HEADER}A1,Ana,{country},100,{currency},\n".encode()
    result = import_accounts(engine, write(tmp_path, data), today=TODAY, dry_run=True)
    if refused:
        [error] = result.errors
        assert error.column == "currency" and f"not used for debts in {country}" in error.reason
        assert "USD" in error.reason
    else:
        assert not result.errors


def test_given_many_rows_with_giant_bad_cells_then_kept_reasons_are_short(
    engine: Engine, tmp_path: Path
) -> None:
    row = "B{n}," + "Ana," + "MX," + "9" * 100_000 + ",MXN,\n"
    data = (HEADER + "".join(row.format(n=n) for n in range(30))).encode()
    result = import_accounts(engine, write(tmp_path, data), today=TODAY)
    assert result.error_count == 30
    assert all(len(e.reason) <= MAX_REASON_CHARS + 3 for e in result.errors)


def test_given_a_nul_in_a_payment_then_that_row_refused(engine: Engine, tmp_path: Path) -> None:
    data = "external_ref,amount,paid_at,reference\nA1,10,2026-11-01T10:00:00-06:00,R\x00\n"
    result = import_payments(
        engine, write(tmp_path, data.encode(), "payments.csv"), debtor_day=account_day
    )
    assert [(e.column, "NUL" in e.reason) for e in result.errors][:1] == [("reference", True)]


LINES = st.sampled_from(
    [HEADER, GOOD, "\ufeff", "\x00", "\r", "\n", "\r\n", '"', ",", ";", "=cmd|' /C calc'!A0",
     "1.234,56", "NaN", "-1e999", "\udcff", "é", "A1,Ana,MX,1,MXN,+52 (662) 123 4567\n"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.one_of(LINES, st.text(max_size=30)), max_size=30),
    st.sampled_from(["utf-8", "latin-1", "utf-16"]),
    st.binary(max_size=40),
)
def test_given_any_bytes_then_row_errors_or_one_file_error_never_another_exception(
    engine: Engine, pieces: list[str], encoding: str, tail: bytes
) -> None:
    errors = "surrogateescape" if encoding == "utf-8" else "replace"
    data = "".join(pieces).encode(encoding, errors) + tail
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), data)
        try:
            result = import_accounts(engine, path, today=TODAY, dry_run=True, workers=0)
        except ImportFileError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert all(e.line >= 2 and e.reason for e in result.errors)
            assert result.error_count >= len(result.errors)


@pytest.mark.parametrize(
    ("written", "country", "e164"),
    [
        ("+52 1 662 123 4567", "MX", "+526621234567"),  # the mobile "1" retired in 2019
        ("521 662 123 4567", "MX", "+526621234567"),
        ("044 662 123 4567", "MX", "+526621234567"),  # a mobile dialled at home, retired
        ("045 (662) 123-4567", "MX", "+526621234567"),
        ("01 662 123 4567", "MX", "+526621234567"),  # the long-distance prefix, retired
    ],
)
def test_given_a_mexican_number_with_a_retired_prefix_then_read_as_dialled_today(
    engine: Engine, tmp_path: Path, written: str, country: str, e164: str
) -> None:
    data = f'{HEADER}A1,Ana,{country},1,MXN,"{written}"\n'.encode()
    result = import_accounts(engine, write(tmp_path, data), today=TODAY)
    assert result.written, result.errors
    with Session(engine) as s:
        assert s.scalar(select(Phone.number_e164)) == e164


@pytest.mark.parametrize("written", ["+52 1 662 123 456", "044 662 123 45678", "1-800-FLOWERS",
                                     "+52 662 123 4567 9", "01 800 123"])  # fmt: skip
def test_given_a_number_no_reading_makes_valid_then_refused_with_the_reason(
    engine: Engine, tmp_path: Path, written: str
) -> None:
    data = f'{HEADER}A1,Ana,MX,1,MXN,"{written}"\n'.encode()
    [error] = import_accounts(engine, write(tmp_path, data), today=TODAY, dry_run=True).errors
    assert error.column == "phone_1" and "not a valid number for MX" in error.reason
