"""Account import: the address and its coordinates (latitude, longitude). Every bad
coordinate is refused with its line and column; nothing is geocoded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from store.importing.accounts import import_accounts
from store.models import Account, AuditEntry

TODAY = date(2026, 11, 24)
HEADER = "external_ref,debtor_name,country,balance,address,latitude,longitude\n"
GOOD = 'A1,Ana,MX,100,"Av. Universidad 3000, Coyoacán, CDMX",19.3326,-99.1870\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_given_address_and_coordinates_when_imported_then_stored(
    engine: Engine, tmp_path: Path
) -> None:
    extra = "B1,Beto,PE,50,Jr. de la Unión 500 Lima,-12.0464,-77.0428\nC1,Carla,CO,10,,,\n"
    result = import_accounts(engine, write(tmp_path, HEADER + GOOD + extra), today=TODAY)
    assert result.written and result.created == 3, result.errors
    with Session(engine) as s:
        rows = {a.external_ref: a for a in s.scalars(select(Account))}
    assert rows["A1"].address == "Av. Universidad 3000, Coyoacán, CDMX"
    assert (rows["A1"].latitude, rows["A1"].longitude) == (19.3326, -99.187)
    assert (rows["B1"].latitude, rows["B1"].longitude) == (-12.0464, -77.0428)
    assert rows["C1"].address is None and rows["C1"].latitude is None


def test_given_moved_coordinates_when_reimported_then_updated_and_audited(
    engine: Engine, tmp_path: Path
) -> None:
    import_accounts(engine, write(tmp_path, HEADER + GOOD), today=TODAY)
    moved = GOOD.replace("19.3326", "19.3400")
    result = import_accounts(engine, write(tmp_path, HEADER + moved), today=TODAY)
    assert result.updated == 1
    with Session(engine) as s:
        assert s.scalars(select(Account.latitude)).one() == 19.34
        change = s.scalars(select(AuditEntry).where(AuditEntry.kind == "account_change")).one()
    assert '"latitude":[19.3326,19.34]' in change.payload


BAD = [
    ("B1,Beto,MX,100,,91,-99.1\n", "latitude", "outside -90..90"),
    ("B1,Beto,MX,100,,19.4,-181\n", "longitude", "outside -180..180"),
    ("B1,Beto,MX,100,,abc,-99.1\n", "latitude", "not a number"),
    ("B1,Beto,MX,100,,nan,-99.1\n", "latitude", "outside"),
    ('B1,Beto,MX,100,,"19,4",-99.1\n', "latitude", "dot for decimals"),
    ("B1,Beto,MX,100,,19.4,\n", "longitude", "required when the other"),
    ("B1,Beto,MX,100,,,-99.1\n", "latitude", "required when the other"),
    ("B1,Beto,MX,100,,-99.1,19.4\n", "latitude", "outside -90..90"),
    ("B1,Beto,CO,100,,-74.07,4.71\n", "latitude", "swapped"),
    ("B1,Beto,MX,100,,19.4,99.1\n", "latitude", "minus sign"),
    ("B1,Beto,MX,100,,0,0\n", "latitude", "not inside MX"),
    ("B1,Beto,CO,100,,-12.05,-77.04\n", "latitude", "not inside CO"),  # Lima
    ("B1,Beto,PE,100,,4.71,-74.07\n", "latitude", "not inside PE"),  # Bogotá
    ("B1,Beto,MX,100," + "x" * 301 + ",19.4,-99.1\n", "address", "longer than 300"),
]


@pytest.mark.parametrize(("bad", "column", "reason"), BAD)
def test_given_bad_coordinates_when_imported_then_refused_with_line_and_column(
    engine: Engine, tmp_path: Path, bad: str, column: str, reason: str
) -> None:
    result = import_accounts(engine, write(tmp_path, HEADER + GOOD + bad), today=TODAY)
    assert not result.written
    err = result.errors[0]
    assert (err.line, err.column) == (3, column)
    assert reason in err.reason
    with Session(engine) as s:
        assert s.scalars(select(Account)).first() is None
