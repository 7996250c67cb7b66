"""`cobrador user add`: creates a user with an argon2 hash; bad input exits 2."""

from __future__ import annotations

import io
import sys

import pytest
from sqlalchemy import select

from cobrador.cli import main
from cobrador.ground.settings import Settings
from store.db import make_engine, transaction
from store.models import AuditEntry, User


def run(monkeypatch: pytest.MonkeyPatch, settings: Settings, argv: list[str], stdin: str) -> int:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def test_given_password_on_stdin_when_adding_user_then_user_saved_with_argon2_hash(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        monkeypatch,
        settings,
        ["user", "add", "lucia", "--role", "supervisor", "--password-stdin"],
        "una clave larga\n",
    )
    assert code == 0
    assert "lucia" in capsys.readouterr().out
    engine = make_engine(settings.effective_database_url)
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == "lucia"))
        assert user is not None and user.role == "supervisor"
        assert user.password_hash.startswith("$argon2")
        assert session.scalar(select(AuditEntry).where(AuditEntry.kind == "user_change"))
    engine.dispose()


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["user", "add", "x1", "--role", "agent", "--password-stdin"], "corta\n", "at least"),
        (
            ["user", "add", "bad name!", "--role", "agent", "--password-stdin"],
            "una clave larga\n",
            "user names",
        ),
        (
            ["user", "add", "y1", "--role", "agent", "--password-stdin", "--campaign", "nope"],
            "una clave larga\n",
            "no campaign",
        ),
        (["user", "add", "z1", "--role", "agent", "--password-stdin"], "\n", "empty password"),
    ],
)
def test_given_bad_input_when_adding_user_then_exit_2_with_message(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    assert run(monkeypatch, settings, argv, stdin) == 2
    assert message in capsys.readouterr().err


def test_given_existing_user_when_adding_again_then_exit_2(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["user", "add", "dup", "--role", "agent", "--password-stdin"]
    assert run(monkeypatch, settings, argv, "una clave larga\n") == 0
    assert run(monkeypatch, settings, argv, "una clave larga\n") == 2
    assert "already exists" in capsys.readouterr().err


def test_given_unknown_role_when_adding_user_then_argparse_refuses(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    with pytest.raises(SystemExit) as exc:
        run(monkeypatch, settings, ["user", "add", "q", "--role", "boss"], "")
    assert exc.value.code == 2
