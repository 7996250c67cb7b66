"""`cobrador check`: decision JSON, exit codes 0/1/2, recorded but never counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from compliance_helpers import make_account
from sqlalchemy import Engine, select

from cobrador.cli import main
from compliance.registry_import import import_registry
from compliance.transparency.verify import verify
from store.db import transaction
from store.models import AuditEntry, Decision

NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)  # Tuesday 12:00 in Mexico City
AT = NOW.isoformat()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))


def _reus(engine: Engine, redis_url: str, tmp_path: Path, numbers: str, at: datetime) -> None:
    path = tmp_path / "reus.txt"
    path.write_text(numbers)
    client = redis.Redis.from_url(redis_url)
    import_registry(engine, client, name="reus", path=path, country="MX", now=at)
    client.close()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["check", *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


def test_given_callable_debtor_when_checked_then_exit_0_recorded_not_counted(
    engine: Engine, env: None, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine)
    _reus(engine, redis_url, tmp_path, "+525599999999\n", NOW - timedelta(days=1))
    code, out = _run(capsys, "--account", "ACC-1", "--phone", "55 1234 5678", "--at", AT)
    assert code == 0, out
    assert out["allowed"] is True and out["reasons"] == []
    assert out["local_time"] == "2026-01-13T12:00:00-06:00"
    assert out["timezone"] == "America/Mexico_City"
    assert out["profile_version"].startswith("MX@") and set(out["registry_versions"]) == {"reus"}
    assert out["phone"] == "+52******5678"
    with transaction(engine) as session:
        row = session.execute(select(Decision)).scalar_one()
        assert (row.stage, row.allowed, row.phone_e164) == ("check", True, "+525512345678")
        kinds = session.execute(select(AuditEntry.kind).order_by(AuditEntry.id)).scalars().all()
        assert kinds == ["registry_import", "decision"]
    assert verify(engine).ok
    # Checking again counts nothing: still allowed despite MX's 1-attempt-per-hour cap.
    assert _run(capsys, "--account", "ACC-1", "--phone", "+525512345678", "--at", AT)[0] == 0
    assert not redis.Redis.from_url(redis_url).exists("cobrador:caps:{acct:1}:attempts")


@pytest.mark.parametrize(
    ("reus", "imported_days_ago", "at", "reason"),
    [
        ("+525599999999\n", 1, "2026-01-14T05:00:00Z", "outside_hours"),  # 23:00 CDMX
        ("+525512345678\n", 1, AT, "registry_listed"),
        (None, 0, AT, "registry_unavailable"),
        ("+525599999999\n", 32, AT, "registry_stale"),
    ],
)
def test_given_blocking_rule_when_checked_then_exit_1_with_reason(
    engine: Engine, env: None, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    reus: str | None, imported_days_ago: int, at: str, reason: str,
) -> None:  # fmt: skip
    make_account(engine)
    if reus:
        _reus(engine, redis_url, tmp_path, reus, NOW - timedelta(days=imported_days_ago))
    code, out = _run(capsys, "--account", "ACC-1", "--phone", "+525512345678", "--at", at)
    assert code == 1 and out["reasons"] == [reason]


def test_given_number_not_on_the_account_when_checked_then_third_party_no_consent(
    engine: Engine, env: None, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine)
    _reus(engine, redis_url, tmp_path, "+525599999999\n", NOW - timedelta(days=1))
    code, out = _run(capsys, "--account", "ACC-1", "--phone", "+525500001111", "--at", AT)
    assert code == 1 and out["reasons"] == ["third_party", "no_consent"]


def test_given_redis_down_when_checked_then_blocked_fail_closed(
    engine: Engine, env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    code, out = _run(capsys, "--account", "ACC-1", "--phone", "+525512345678", "--at", AT)
    assert code == 1
    assert set(out["reasons"]) == {"registry_unavailable", "attempt_cap_day", "contact_cap_week"}


@pytest.mark.parametrize(
    "args",
    [
        ["--account", "NOPE", "--phone", "+525512345678", "--at", AT],
        ["--account", "ACC-1", "--phone", "+525512345678", "--at", "2026-01-13T12:00"],
        ["--account", "ACC-1", "--phone", "+525512345678", "--at", "mañana"],
        ["--account", "ACC-1", "--phone", "hello", "--at", AT],
        ["--account", "ACC-1", "--phone", "+525512345678", "--campaign", "nope", "--at", AT],
    ],
)
def test_given_bad_input_when_checked_then_exit_2(
    engine: Engine, env: None, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine)
    assert main(["check", *args]) == 2
    assert "error" in capsys.readouterr().err


def test_given_campaign_loosening_its_profile_when_checked_then_exit_2(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(
        engine, campaign={"config": {"compliance": {"hours": {"mon": [["06:00", "23:00"]]}}}}
    )
    assert main(["check", "--account", "ACC-1", "--phone", "+525512345678", "--at", AT]) == 2
    assert "loosens MX" in capsys.readouterr().err


def test_given_campaign_tightening_hours_when_checked_then_its_window_applies(
    engine: Engine, env: None, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(
        engine, campaign={"config": {"compliance": {"hours": {"tue": [["13:00", "18:00"]]}}}}
    )
    _reus(engine, redis_url, tmp_path, "+525599999999\n", NOW - timedelta(days=1))
    code, out = _run(capsys, "--account", "ACC-1", "--phone", "+525512345678", "--at", AT)
    assert code == 1 and out["reasons"] == ["outside_hours"]
    assert "+tarjetas#" in out["profile_version"]


def test_given_mx_campaign_holding_colombian_debtor_when_checked_friday_2010_bogota_then_outside_hours_by_co(
    engine: Engine, env: None, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The floor's case: a CO account in an MX campaign, Friday 20:10 in Bogotá (19:10 in
    # Mexico City, inside MX's hours). Colombia's window ends at 19:00: blocked, by CO's law.
    make_account(engine, "MCO-0211", country="CO", region="DC",
                 phones=[{"number_e164": "+573001234567"}],
                 campaign={"name": "mx-pred", "country": "MX"})  # fmt: skip
    _reus(engine, redis_url, tmp_path, "+525599999999\n", NOW - timedelta(days=1))
    at = "2026-01-17T01:10:00Z"
    code, out = _run(capsys, "--account", "MCO-0211", "--phone", "+573001234567", "--at", at)
    assert code == 1 and out["reasons"] == ["outside_hours"]
    assert out["profile"] == "CO" and out["profile_version"].startswith("CO@")
    assert out["local_time"] == "2026-01-16T20:10:00-05:00"
    with transaction(engine) as session:
        row = session.execute(select(Decision)).scalar_one()
        assert row.profile_version.startswith("CO@") and row.reasons == ["outside_hours"]
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.kind == "decision")
        ).scalar_one()
        assert json.loads(entry.payload)["profile_version"].startswith("CO@")
