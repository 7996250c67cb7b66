"""`cobrador caller-id add|list|remove` and the campaigns that may show them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cobrador.cli import main
from compliance.transparency.verify import verify
from store.db import transaction
from store.models import AuditEntry, Campaign


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)


def _show(capsys: pytest.CaptureFixture[str], name: str) -> dict:
    capsys.readouterr()
    assert main(["campaign", "show", name]) == 0
    return json.loads(capsys.readouterr().out)


def test_given_registered_set_when_campaigns_created_then_only_registered_numbers_and_changes_audited(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # A number not registered: no campaign may show it.
    assert (
        main(["campaign", "create", "mx", "--country", "MX", "--caller-id", "+525550001000"]) == 2
    )
    assert "not registered for MX" in capsys.readouterr().err
    add = ["caller-id", "add", "+52 55 5000 1000", "--country", "MX"]
    assert main([*add, "--reference", "REDECO-2026-0042"]) == 0
    assert "+525550001000 registered for MX" in capsys.readouterr().out
    assert main([*add, "--reference", "again"]) == 2
    assert "already registered" in capsys.readouterr().err
    assert main(["caller-id", "add", "+576015550100", "--country", "MX", "--reference", "x"]) == 2
    assert "not a number of 'MX'" in capsys.readouterr().err
    assert main(["caller-id", "add", "+525550002000", "--country", "MX", "--reference", " "]) == 2
    assert main(["caller-id", "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["number"], r["country"], r["reference"]) for r in listed] == [
        ("+525550001000", "MX", "REDECO-2026-0042")
    ]
    # A registered number of another country is still refused.
    assert (
        main(["campaign", "create", "co", "--country", "CO", "--caller-id", "+525550001000"]) == 2
    )
    assert (
        main(["campaign", "create", "mx", "--country", "MX", "--caller-id", "+525550001000"]) == 0
    )
    shown = _show(capsys, "mx")
    assert shown["caller_ids"] == ["525550001000"] and shown["caller_id_problem"] is None
    # A campaign created without a caller ID says why it will not dial.
    assert main(["campaign", "create", "bare", "--country", "MX"]) == 0
    assert "will not dial" in capsys.readouterr().out
    assert "no caller ID" in _show(capsys, "bare")["caller_id_problem"]
    assert main(["campaign", "caller-id", "bare", "+525550009999"]) == 2
    assert "not registered for MX" in capsys.readouterr().err
    assert main(["campaign", "caller-id", "bare", "+525550001000"]) == 0
    assert _show(capsys, "bare")["caller_id_problem"] is None
    # Unregistered: the campaigns that showed it are named, and say why they stop.
    assert main(["caller-id", "remove", "+525550001000"]) == 0
    assert "bare, mx" in capsys.readouterr().out
    assert "no registered caller ID" in _show(capsys, "mx")["caller_id_problem"]
    assert main(["caller-id", "remove", "+525550001000"]) == 2
    with transaction(engine) as s:
        changes = [json.loads(e.payload) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "caller_id_change").order_by(AuditEntry.id))]  # fmt: skip
        bare = s.scalars(select(Campaign).where(Campaign.name == "bare")).one()
        assert bare.caller_ids == ["525550001000"]
    assert [c["registered"] for c in changes] == [True, False]
    assert changes[0]["reference"] == "REDECO-2026-0042"
    assert verify(engine).ok
