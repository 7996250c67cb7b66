"""`cobrador profile show`: profiles with their sources, as a campaign runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compliance_helpers import make_account
from sqlalchemy import Engine

from cobrador.cli import main


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))


def test_given_profile_id_when_shown_then_rules_and_sources(
    env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "show", "CO"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["hours"]["sat"] == ["08:00-15:00"] and body["hours"]["sun"] == []
    assert "Ley 2300" in body["sources"]["hours"]
    assert body["profile_version"].startswith("CO@2026.2#")


def test_given_campaign_when_shown_then_tightened_profile(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine, campaign={"config": {"compliance": {"hours": {"sun": []}}}})
    assert main(["profile", "show", "--campaign", "tarjetas"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["campaign"] == "tarjetas" and body["hours"]["sun"] == []


@pytest.mark.parametrize(
    "args", [["profile", "show", "XX"], ["profile", "show", "--campaign", "nope"]]
)
def test_given_unknown_profile_or_campaign_when_shown_then_exit_2(
    engine: Engine, env: None, args: list[str]
) -> None:
    assert main(args) == 2
