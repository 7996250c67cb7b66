"""`cobrador campaign ...` as an operator runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cobrador.cli import main


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)


def test_given_campaign_commands_then_created_started_and_errors_are_clear(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = ["caller-id", "add", "+5215550001000", "--country", "MX", "--reference", "R-1"]
    assert main(register) == 0
    assert (
        main(["campaign", "create", "mx", "--country", "MX", "--caller-id", "+5215550001000"]) == 0
    )
    assert main(["campaign", "create", "mx", "--country", "MX"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["campaign", "start", "mx"]) == 0
    assert '"status": "running"' in capsys.readouterr().out
    assert main(["campaign", "show", "nope"]) == 2
    assert main(["campaign", "create", "y", "--country", "MX", "--abandon-target", "0.05"]) == 2
    loose = tmp_path / "loose.toml"
    loose.write_text('[compliance.hours]\nmon = [["06:00", "23:00"]]\n')
    assert main(["campaign", "create", "loose", "--country", "MX", "--rules", str(loose)]) == 2
    assert "loosens" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[recycle.busy]\nmax = 0\n")
    assert main(["campaign", "create", "bad", "--country", "MX", "--rules", str(bad)]) == 2
    assert "max >= 1" in capsys.readouterr().err
    assert (
        main(["import", "accounts", str(Path(__file__).parents[3] / "examples" / "accounts.csv")])
        == 0
    )
    assert main(["campaign", "assign", "mx", "--country", "MX"]) == 0
    assert "3 account(s) of MX assigned" in capsys.readouterr().out


def test_given_accounts_of_three_countries_when_assigned_to_mx_campaign_then_only_mx_and_others_counted(
    env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from store.models import Account, AuditEntry, Campaign

    examples = Path(__file__).parents[3] / "examples" / "accounts.csv"
    assert main(["import", "accounts", str(examples)]) == 0
    assert main(["campaign", "create", "mx", "--country", "MX"]) == 0
    capsys.readouterr()
    # Another country's accounts: refused, with where they go.
    assert main(["campaign", "assign", "mx", "--country", "CO"]) == 2
    assert "holds accounts of MX only" in capsys.readouterr().err
    # No --country: the campaign's own country; the others skipped and counted.
    assert main(["campaign", "assign", "mx"]) == 0
    out = capsys.readouterr().out
    assert "3 account(s) of MX assigned to mx" in out
    assert "2 account(s) of other countries skipped (1 of CO, 1 of PE)" in out
    engine = create_engine(os.environ["DATABASE_URL"])
    with Session(engine) as s:
        held = dict(s.execute(select(Account.external_ref, Account.campaign_id)).all())
        mx = s.execute(select(Campaign.id).where(Campaign.name == "mx")).scalar_one()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.kind == "campaign_change")
                          .order_by(AuditEntry.id.desc())).first()  # fmt: skip
    engine.dispose()
    assert {ref for ref, c in held.items() if c == mx} == {"MX-0001", "MX-0002", "MX-0003"}
    assert {ref for ref, c in held.items() if c is None} == {"CO-0001", "PE-0001"}
    assert entry is not None and '"skipped_by_country":{"CO":1,"PE":1}' in entry.payload
    # A profile of another country is no campaign's profile.
    assert main(["campaign", "create", "co", "--country", "CO", "--profile", "MX-PROFECO"]) == 2
    assert "a campaign runs a profile of its own country" in capsys.readouterr().err


def test_given_no_asterisk_when_dialer_interrupted_then_it_stops_cleanly(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal
    import subprocess
    import sys

    assert main(["campaign", "create", "mx", "--country", "MX"]) == 0
    environ = {
        **os.environ,
        "COBRADOR_AMI_PORT": "1",
        "COBRADOR_FASTAGI_PORT": "0",
        "COBRADOR_METRICS_PORT": "0",
    }
    proc = subprocess.Popen([sys.executable, "-m", "cobrador.cli", "dialer", "run"], env=environ,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # waits for the first retry: nothing is dialed meanwhile
        if "unavailable" in line:
            break
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0


def test_given_payment_plan_rules_when_creating_campaign_then_checked_and_kept(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[payment_plans]\nmax_instalments = 6\n[payment_plans.max_discount]\nfirm = "0.10"\n'
                     '[payment_plans.agent_discount]\nfirm = "0.20"\n')  # fmt: skip
    assert main(["campaign", "create", "plans", "--country", "MX", "--rules", str(wrong)]) == 2
    assert "agent_discount.firm (0.20) is above payment_plans.max_discount.firm" in (
        capsys.readouterr().err
    )
    good = tmp_path / "good.toml"
    good.write_text('[payment_plans]\nmax_instalments = 12\nmin_instalment = "500.00"\n'
                    '[payment_plans.max_discount]\nfirm = "0.30"\n')  # fmt: skip
    assert main(["campaign", "create", "plans", "--country", "MX", "--rules", str(good)]) == 0
    assert "campaign plans created" in capsys.readouterr().out
