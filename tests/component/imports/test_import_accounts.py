"""Account import: every kind of bad row is reported with line, column and a
reason; nothing partial is written without --skip-invalid."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from compliance.debtor_time import debtor_day
from compliance.transparency.verify import verify
from store.importing.accounts import NoDebtorDate, import_accounts
from store.importing.csv_source import ImportFileError
from store.models import Account, AuditEntry, Phone

TODAY = date(2026, 11, 24)
HEADER = "external_ref,debtor_name,country,region,balance,currency,due_date,status,phone_1,phone_1_consent,phone_1_consent_ref,phone_2,phone_2_type\n"
GOOD = "A1,Ana Pérez,MX,MX-SON,100.50,MXN,2026-10-01,active,6621234567,yes,EV-1,,\n"

EXAMPLES = Path(__file__).parents[3] / "examples"


def write(tmp_path: Path, text: str, name: str = "accounts.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


BAD_ROWS = [
    ("B1,Beto,MX,,100,MXN,2026-10-01,active,123,,,,\n", "phone_1", "not a valid number for MX"),
    ("B1,Beto,ZZ,,100,MXN,2026-10-01,active,,,,,\n", "country", "unknown country"),
    ("B1,Beto,MX,,-5,MXN,2026-10-01,active,,,,,\n", "balance", "negative"),
    ("B1,Beto,MX,,1.234,MXN,2026-10-01,active,,,,,\n", "balance", "more than 2 decimals"),
    ('B1,Beto,MX,,"1,234.00",MXN,2026-10-01,active,,,,,\n', "balance", "dot for decimals"),
    ("B1,Beto,MX,,100,MXN,2026-13-01,active,,,,,\n", "due_date", "YYYY-MM-DD"),
    ("B1,Beto,MX,,100,MXN,01/10/2026,active,,,,,\n", "due_date", "YYYY-MM-DD"),
    ("A1,Otra,MX,,100,MXN,2026-10-01,active,,,,,\n", "external_ref", "duplicate external_ref"),
    (
        "B1,Beto,MX,,100,MXN,2026-10-01,active,6621234568,yes,,,\n",
        "phone_1_consent_ref",
        "no evidence",
    ),
    (
        "B1,Beto,MX,,100,MXN,2026-10-01,active,6621234568,quizas,X,,\n",
        "phone_1_consent",
        "yes or no",
    ),
    ("B1,Beto,MX,CO-DC,100,MXN,2026-10-01,active,,,,,\n", "region", "not a subdivision of MX"),
    ("B1,Beto,MX,MX-ZZZ,100,MXN,2026-10-01,active,,,,,\n", "region", "unknown region"),
    ("B1,Beto,MX,,100,MXX,2026-10-01,active,,,,,\n", "currency", "unknown currency"),
    ("B1,Beto,MX,,100,MXN,2026-10-01,asleep,,,,,\n", "status", "unknown status"),
    ("B1,,MX,,100,MXN,2026-10-01,active,,,,,\n", "debtor_name", "required"),
    (",Beto,MX,,100,MXN,2026-10-01,active,,,,,\n", "external_ref", "required"),
    ("B1,Beto,MX,,,MXN,2026-10-01,active,,,,,\n", "balance", "required"),
    (
        "B1,Beto,MX,,100,MXN,2026-10-01,active,6621234568,,,6621234568,home\n",
        "phone_2",
        "same number as phone_1",
    ),
    (
        "B1,Beto,MX,,100,MXN,2026-10-01,active,6621234568,,,6621234569,cousin\n",
        "phone_2_type",
        "unknown phone type",
    ),
    ("B1,Beto,MX,,100,MXN,2026-10-01,active,,,,,home\n", "phone_2", "is empty"),
    ("B1,Beto,MX,,100\n", "", "row has 5 fields"),
    (
        "B1,Beto,MX,,100,MXN,2026-10-01,active,+57 310 123 4567,,,,\n",
        "phone_1",
        "not a valid number for MX",
    ),
]


@pytest.mark.parametrize(("bad", "column", "reason"), BAD_ROWS)
def test_given_one_bad_row_when_imported_then_nothing_written_and_reason_given(
    engine: Engine, tmp_path: Path, bad: str, column: str, reason: str
) -> None:
    path = write(tmp_path, HEADER + GOOD + bad)
    result = import_accounts(engine, path, today=TODAY)
    assert not result.written
    assert result.error_count >= 1
    err = result.errors[0]
    assert err.line == 3
    assert err.column == column
    assert reason in err.reason
    assert count(engine, Account) == 0
    assert count(engine, Phone) == 0
    assert count(engine, AuditEntry) == 0


def test_given_bad_rows_with_skip_invalid_then_good_rows_written_and_rejects_file(
    engine: Engine, tmp_path: Path
) -> None:
    bad = "".join(b for b, _, _ in BAD_ROWS[:3])
    path = write(tmp_path, HEADER + GOOD + bad + "C1,Carla,MX,,5,MXN,,paid,,,,,\n")
    result = import_accounts(engine, path, today=TODAY, skip_invalid=True)
    assert result.written and result.created == 2 and result.rejected == 3
    rejects = tmp_path / "accounts.rejects.csv"
    assert result.rejects_path == rejects
    with rejects.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["line"] for r in rows] == ["3", "4", "5"]
    assert "not a valid number for MX" in rows[0]["reason"]
    assert rows[1]["external_ref"] == "B1"  # the original row is kept as it came
    assert count(engine, Account) == 2


def test_given_valid_file_when_imported_then_normalised_and_audited(
    engine: Engine, tmp_path: Path
) -> None:
    text = (
        "\ufeffEXTERNAL_REF;Debtor_Name;country;region;balance;due_date;phone_1;phone_1_consent;phone_1_consent_ref;producto\n"
        "A1;Ana Pérez;mx;mx-son;100.50;2026-06-01;662 123 4567;sí;EV-1;tarjeta oro\n"
    )
    path = write(tmp_path, text)
    result = import_accounts(engine, path, today=TODAY)
    assert result.written and result.created == 1 and result.error_count == 0
    with Session(engine) as s:
        account = s.scalars(select(Account)).one()
        assert (account.country, account.region, account.currency) == ("MX", "MX-SON", "MXN")
        assert account.balance == Decimal("100.50")
        assert account.stage == "prelegal"  # 176 days past due, derived
        assert account.custom_fields == {"producto": "tarjeta oro"}
        phone = s.scalars(select(Phone)).one()
        assert phone.number_e164 == "+526621234567"
        assert phone.consent and phone.consent_ref == "EV-1" and phone.consent_at is not None
        kinds = [e.kind for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert kinds == ["account_import"]
    assert verify(engine).ok


def test_given_reimport_when_ref_changes_then_updated_without_duplicates_and_audited(
    engine: Engine, tmp_path: Path
) -> None:
    import_accounts(engine, write(tmp_path, HEADER + GOOD), today=TODAY)
    changed = GOOD.replace("100.50", "80.00").replace("yes,EV-1", "no,")
    result = import_accounts(engine, write(tmp_path, HEADER + changed, "second.csv"), today=TODAY)
    assert (result.created, result.updated) == (0, 1)
    again = import_accounts(engine, write(tmp_path, HEADER + changed, "third.csv"), today=TODAY)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    with Session(engine) as s:
        account = s.scalars(select(Account)).one()
        assert account.balance == Decimal("80.00")
        assert s.scalars(select(Phone)).one().consent is False
        kinds = [e.kind for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert kinds.count("account_change") == 1 and kinds.count("consent_change") == 1
    assert verify(engine).ok


def test_given_number_dropped_from_file_when_reimported_then_retired_not_deleted(
    engine: Engine, tmp_path: Path
) -> None:
    two = GOOD.replace(",,\n", ",6629876543,work\n")
    import_accounts(engine, write(tmp_path, HEADER + two), today=TODAY)
    import_accounts(engine, write(tmp_path, HEADER + GOOD, "b.csv"), today=TODAY)
    with Session(engine) as s:
        statuses = {p.number_e164: p.status for p in s.scalars(select(Phone))}
    assert statuses == {"+526621234567": "active", "+526629876543": "retired"}


def test_given_dry_run_when_valid_then_nothing_written(engine: Engine, tmp_path: Path) -> None:
    result = import_accounts(engine, write(tmp_path, HEADER + GOOD), today=TODAY, dry_run=True)
    assert result.error_count == 0 and not result.written
    assert count(engine, Account) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("debtor_name,country\nAna,MX\n", r"required column\(s\) missing"),
        ("external_ref,debtor_name,country,country\n", "appears twice"),
        ("external_ref,,debtor_name,country\n", "has no name"),
    ],
)
def test_given_bad_header_then_file_error(
    engine: Engine, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ImportFileError, match=message):
        import_accounts(engine, write(tmp_path, text), today=TODAY)


def test_given_latin1_file_then_file_error_names_the_line(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER + GOOD + "B2,José Núñez,MX,,1,MXN,,active,,,,,\n", encoding="latin-1"
    )
    with pytest.raises(ImportFileError, match="line 2 is not UTF-8"):
        import_accounts(engine, path, today=TODAY)
    assert count(engine, Account) == 0


def test_given_quoted_line_break_then_later_rows_keep_their_physical_line(
    engine: Engine, tmp_path: Path
) -> None:
    two_lines = GOOD.replace("Ana Pérez", '"Ana\r\nPérez"')  # lines 2 and 3
    result = import_accounts(
        engine, write(tmp_path, HEADER + two_lines + BAD_ROWS[0][0]), today=TODAY
    )
    assert [(e.line, e.column) for e in result.errors] == [(4, "phone_1")]


def test_given_missing_file_then_file_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="cannot read"):
        import_accounts(engine, tmp_path / "nope.csv", today=TODAY)


def test_given_shipped_example_then_it_imports_cleanly(engine: Engine) -> None:
    result = import_accounts(engine, EXAMPLES / "accounts.csv", today=TODAY)
    assert result.error_count == 0, [str(e) for e in result.errors]
    assert result.created == 5


def test_given_parallel_validation_then_same_errors_and_rows_as_serial(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.importing.runner as runner

    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(runner, "CHUNK_ROWS", 7)
    rows = [GOOD.replace("A1,", f"P{i},") for i in range(40)]
    rows[25] = BAD_ROWS[0][0]  # bad phone, on line 27
    rows[33] = GOOD.replace("A1,", "P3,")  # duplicate of line 5, on line 35
    path = write(tmp_path, HEADER + "".join(rows))
    serial = import_accounts(engine, path, today=TODAY, workers=1, dry_run=True)
    parallel = import_accounts(engine, path, today=TODAY, workers=2, skip_invalid=True)
    assert [(e.line, e.column) for e in parallel.errors] == [
        (e.line, e.column) for e in serial.errors
    ]
    assert [(e.line, e.column) for e in parallel.errors] == [(27, "phone_1"), (35, "external_ref")]
    assert parallel.created == 38 and count(engine, Account) == 38


def test_given_small_batches_mixing_new_and_existing_refs_then_each_ref_once_with_its_phones(
    engine: Engine, tmp_path: Path
) -> None:
    def rows(refs: range, balance: str) -> str:
        return "".join(
            GOOD.replace("A1,", f"R{i},").replace("100.50", balance)
            .replace("6621234567", f"66212345{i:02d}").replace("EV-1", f"EV-{i}")
            for i in refs
        )  # fmt: skip

    first = import_accounts(engine, write(tmp_path, HEADER + rows(range(10), "5.00")),
                            today=TODAY, batch_size=3)  # fmt: skip
    assert first.created == 10
    # Refs 5..9 exist, 10..14 are new, spread over batches of 3 that mix both.
    second = import_accounts(engine, write(tmp_path, HEADER + rows(range(5, 15), "7.00"), "b.csv"),
                             today=TODAY, batch_size=3)  # fmt: skip
    assert (second.created, second.updated, second.unchanged) == (5, 5, 0)
    with Session(engine) as s:
        accounts = {a.external_ref: a for a in s.scalars(select(Account))}
        assert len(accounts) == 15
        assert {ref: str(a.balance) for ref, a in accounts.items()} == {
            f"R{i}": "5.00" if i < 5 else "7.00" for i in range(15)
        }
        phones = {(p.account_id, p.number_e164) for p in s.scalars(select(Phone))}
    assert phones == {(accounts[f"R{i}"].id, f"+5266212345{i:02d}") for i in range(15)}


def test_given_bad_row_after_several_batches_then_nothing_written(
    engine: Engine, tmp_path: Path
) -> None:
    good = "".join(GOOD.replace("A1,", f"G{i},") for i in range(7))
    path = write(tmp_path, HEADER + good + BAD_ROWS[0][0])
    result = import_accounts(engine, path, today=TODAY, batch_size=2)
    assert not result.written and [(e.line, e.column) for e in result.errors] == [(9, "phone_1")]
    assert count(engine, Account) == count(engine, Phone) == count(engine, AuditEntry) == 0


def test_given_import_when_done_or_failed_then_collector_settings_restored(
    engine: Engine, tmp_path: Path
) -> None:
    import gc

    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    import_accounts(engine, write(tmp_path, HEADER + GOOD), today=TODAY)
    with pytest.raises(ImportFileError):
        import_accounts(engine, write(tmp_path, "", "empty.csv"), today=TODAY)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


# 01:30 UTC of 1 Dec is still 30 Nov in Mexico City (19:30) and in Lima (20:30).
EVENING = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)


def test_given_an_evening_import_when_due_30_days_by_utc_then_stage_counts_the_debtors_date(
    engine: Engine, tmp_path: Path
) -> None:
    # Due 1 Nov: 30 days past due on UTC's 1 Dec (firm), 29 on the debtor's 30 Nov.
    rows = ("M1,Ana,MX,MX-CMX,100,MXN,2026-11-01,active,,,,,\n"
            "P1,Luis,PE,,100,PEN,2026-11-01,active,,,,,\n"
            "P2,Rosa,PE,,100,PEN,2026-10-31,active,,,,,\n")  # fmt: skip
    result = import_accounts(engine, write(tmp_path, HEADER + rows), debtor_day=debtor_day,
                             clock=lambda: EVENING)  # fmt: skip
    assert result.written
    with Session(engine) as s:
        stages = {a.external_ref: a.stage for a in s.scalars(select(Account))}
    assert stages == {"M1": "friendly", "P1": "friendly", "P2": "firm"}


def test_given_an_evening_import_in_parallel_then_the_workers_count_the_debtors_date_too(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.importing.runner as runner

    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(runner, "CHUNK_ROWS", 7)
    rows = "".join(f"M{i},Ana,MX,MX-CMX,100,MXN,2026-11-01,active,,,,,\n" for i in range(30))
    result = import_accounts(engine, write(tmp_path, HEADER + rows), debtor_day=debtor_day,
                             clock=lambda: EVENING, workers=2)  # fmt: skip
    assert result.written
    with Session(engine) as s:
        assert set(s.scalars(select(Account.stage))) == {"friendly"}


def test_given_neither_the_debtors_date_nor_today_then_the_import_refuses(
    engine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(NoDebtorDate):
        import_accounts(engine, write(tmp_path, HEADER + GOOD), clock=lambda: EVENING)
    assert count(engine, Account) == 0


def test_given_a_bad_time_zone_then_the_row_fails_and_no_zone_is_read(
    engine: Engine, tmp_path: Path
) -> None:
    header = HEADER.replace("\n", ",timezone\n")
    row = "M1,Ana,MX,,100,MXN,2026-11-01,active,,,,,,Mars/Olympus\n"
    result = import_accounts(engine, write(tmp_path, header + row), debtor_day=debtor_day,
                             clock=lambda: EVENING, dry_run=True)  # fmt: skip
    assert [e.column for e in result.errors] == ["timezone"]
