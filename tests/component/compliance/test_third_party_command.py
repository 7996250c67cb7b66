"""`cobrador third-party set|clear`: an operator marks one of an account's numbers as a
third party's (or ends the mark), audited as the supervisor console's mark is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compliance_helpers import make_account
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cobrador.cli import main
from store.models import AuditEntry, Phone

OWN, MOTHER = "+525512345678", "+525587654321"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)


def _status(engine: Engine, number: str) -> str:
    with Session(engine) as s:
        return s.scalars(select(Phone.status).where(Phone.number_e164 == number)).one()


def _entries(engine: Engine) -> list[tuple[str, dict]]:
    with Session(engine) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.kind == "phone_status_change")
                         .order_by(AuditEntry.id))  # fmt: skip
        return [(e.actor, json.loads(e.payload)) for e in rows]


def test_given_an_accounts_number_when_set_then_clear_then_status_and_audit_like_the_console(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine, "MX-1", phones=[{"number_e164": OWN}, {"number_e164": MOTHER}])
    # National form, as the console takes it.
    assert main(["third-party", "set", "--account", "MX-1", "--phone", "55 8765 4321"]) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": True, "status": "third_party"}
    assert _status(engine, MOTHER) == "third_party" and _status(engine, OWN) == "active"
    # The same again writes nothing.
    assert main(["third-party", "set", "--account", "MX-1", "--phone", MOTHER]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    assert main(["third-party", "clear", "--account", "MX-1", "--phone", MOTHER]) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": True, "status": "active"}
    assert _status(engine, MOTHER) == "active"
    # Clearing a number that is not marked changes nothing (its status is its own).
    assert main(["third-party", "clear", "--account", "MX-1", "--phone", OWN]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    entries = _entries(engine)
    assert [(actor, e["status"], e["was"], e["source"]) for actor, e in entries] == [
        ("cli", "third_party", "active", "cli"), ("cli", "active", "third_party", "cli")]  # fmt: skip
    assert all(MOTHER not in json.dumps(e) for _, e in entries)  # masked


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--account", "NOPE", "--phone", MOTHER], "no account 'NOPE'"),
        (["--account", "MX-1", "--phone", "+525511112222"], "has no number"),
        (["--account", "MX-1", "--phone", "12"], "phone"),
    ],
)
def test_given_a_bad_account_or_number_when_set_then_an_error_and_nothing_changed(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    make_account(engine, "MX-1", phones=[{"number_e164": OWN}])
    assert main(["third-party", "set", *args]) == 2
    assert said in capsys.readouterr().err
    assert _status(engine, OWN) == "active" and _entries(engine) == []


def test_given_own_then_confirmed_with_its_evidence_and_clear_ends_it(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine, "MX-2", phones=[{"number_e164": MOTHER}])
    assert main(["third-party", "own", "--account", "MX-2", "--phone", MOTHER,
                 "--ref", "contrato-77"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out) == {"changed": True, "owner_confirmed": True}
    with Session(engine) as s:
        assert s.scalars(select(Phone.owner_confirmed_ref)).one() == "contrato-77"
    assert main(["third-party", "own", "--account", "MX-2", "--phone", MOTHER, "--clear"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is True
    with Session(engine) as s:
        assert s.scalars(select(Phone.owner_confirmed_ref)).one() is None
    # Marked on the account itself: it is not the debtor's, refused with the reason.
    assert main(["third-party", "set", "--account", "MX-2", "--phone", MOTHER]) == 0
    capsys.readouterr()
    assert main(["third-party", "own", "--account", "MX-2", "--phone", MOTHER,
                 "--ref", "contrato-77"]) != 0  # fmt: skip
    assert "clear that mark first" in capsys.readouterr().err
