"""The import commands as a person runs them: exit codes and the summary line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cobrador.cli import main

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))


def test_given_good_file_then_exit_0_and_summary(
    env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "accounts", str(EXAMPLES / "accounts.csv")]) == 0
    out = capsys.readouterr().out
    assert "accounts: 5 rows" in out and "5 created" in out


def test_given_bad_row_then_exit_2_and_nothing_written(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text((EXAMPLES / "accounts.csv").read_text() + "X-1,Pepe,MX,,-1,MXN,,,,,,,,,,,,\n")
    assert main(["import", "accounts", str(bad)]) == 2
    captured = capsys.readouterr()
    assert "line 7, column balance" in captured.err
    assert "NOTHING written" in captured.out
    assert main(["import", "accounts", "--skip-invalid", str(bad)]) == 0
    assert "1 rejected" in capsys.readouterr().out
    assert (tmp_path / "bad.rejects.csv").exists()


def test_given_missing_file_then_exit_2_without_traceback(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "payments", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "Traceback" not in err


def test_given_a_payments_import_that_pays_an_account_then_the_dialers_are_told_to_stop_it(
    env: None, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import redis

    from dialer.messages import COMMANDS_CHANNEL

    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["import", "accounts", str(EXAMPLES / "accounts.csv")]) == 0
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(COMMANDS_CHANNEL)
    try:
        assert main(["import", "payments", str(EXAMPLES / "payments.csv")]) == 0
        sent = []
        for _ in range(5):  # the subscription's confirmation reads as None too
            message = pubsub.get_message(timeout=0.5)
            if message is not None:
                sent.append(json.loads(message["data"]))
    finally:
        pubsub.close()
        client.close()
    # PE-0001 is paid in full by the example file (the others only partly).
    assert [(m["type"], m["reason"], m["campaign"]) for m in sent] == [
        ("stop_account", "paid", None)
    ]
    assert "paid" not in capsys.readouterr().err


def test_given_no_redis_reachable_then_the_import_still_succeeds_and_says_so(
    env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from support.ports import free_port

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert main(["import", "accounts", str(EXAMPLES / "accounts.csv")]) == 0
    assert main(["import", "payments", str(EXAMPLES / "payments.csv")]) == 0
    assert "the dialers were not told now" in capsys.readouterr().err


def test_given_no_debtor_date_registered_when_importing_payments_then_refused_in_english(
    env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `cobrador` built without compliance's commands has no debtor's date: the import
    fails closed, and says so in the operator's language like every other CLI error."""
    import cobrador.cli
    import store.commands

    monkeypatch.setattr(store.commands, "DEBTOR_DAY", [])
    monkeypatch.setattr(cobrador.cli, "COMMAND_MODULES",
                        [m for m in cobrador.cli.COMMAND_MODULES if m != "compliance.commands"])  # fmt: skip
    assert main(["import", "payments", str(EXAMPLES / "payments.csv")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "cobrador: error: payments not imported: no debtor's local date to keep and break "
        "promises by (compliance.commands registers it; run the full `cobrador` command)\n"
    )


def test_given_no_debtor_date_registered_when_importing_accounts_then_refused_in_english(
    env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without compliance's commands no debtor's date starts the accounts' stages: the
    import fails closed (never UTC's date) and says so like every other CLI error."""
    import cobrador.cli
    import store.commands

    monkeypatch.setattr(store.commands, "DEBTOR_DATE", [])
    monkeypatch.setattr(cobrador.cli, "COMMAND_MODULES",
                        [m for m in cobrador.cli.COMMAND_MODULES if m != "compliance.commands"])  # fmt: skip
    assert main(["import", "accounts", str(EXAMPLES / "accounts.csv")]) == 2
    assert capsys.readouterr().err == (
        "cobrador: error: accounts not imported: no debtor's local date to count days past "
        "due by (compliance.commands registers it; run the full `cobrador` command)\n"
    )


def test_given_the_cli_then_compliance_registers_the_debtors_date_for_accounts(
    env: None,
) -> None:
    from compliance.debtor_time import debtor_day
    from store.commands import DEBTOR_DATE

    assert main(["import", "accounts", str(EXAMPLES / "accounts.csv")]) == 0
    assert [debtor_day] == DEBTOR_DATE
