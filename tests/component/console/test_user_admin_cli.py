"""`cobrador user list | disable | enable | reset-password | set-role`: audited, and
every change that takes access away ends the user's sessions."""

from __future__ import annotations

import io
import json
import sys

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import PASSWORD, Seed, csrf_of, login
from sqlalchemy import Engine, select

from cobrador.cli import main
from cobrador.ground.settings import Settings
from console import login_throttle
from store.db import transaction
from store.models import AuditEntry, User


def run(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, argv: list[str], stdin: str = ""
) -> int:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def changes(engine: Engine) -> list[dict[str, object]]:
    with transaction(engine) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "user_change").order_by(AuditEntry.id)
        ).all()
        return [json.loads(e.payload) for e in entries]


async def test_given_a_logged_in_user_when_disabled_then_session_ends_and_enable_lets_back_in(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    engine: Engine,
    seed: Seed,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await login(client, "ana")
    assert run(monkeypatch, settings, ["user", "disable", "ana"]) == 0
    assert "1 session(s) ended" in capsys.readouterr().out
    assert (await client.get("/api/agent/state")).status == 401
    token = await csrf_of(client)
    resp = await client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "_csrf": token}
    )
    assert resp.status == 401
    assert run(monkeypatch, settings, ["user", "enable", "ana"]) == 0
    await login(client, "ana")
    assert [c["action"] for c in changes(engine)] == ["disable", "enable"]


async def test_given_a_lost_password_and_a_locked_name_when_reset_then_new_password_works(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine
) -> None:
    token = await csrf_of(client)
    for _ in range(login_throttle.USER_FAILURES):
        await client.post(
            "/login", data={"username": "root", "password": "forgotten!!", "_csrf": token}
        )
    code = run(
        monkeypatch,
        settings,
        ["user", "reset-password", "root", "--password-stdin"],
        "a brand new secret\n",
    )
    assert code == 0
    await login(client, "root", "a brand new secret")
    assert changes(engine)[-1]["action"] == "reset_password"


async def test_given_a_supervisor_when_role_set_to_agent_with_campaign_then_session_ends_and_audited(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine
) -> None:
    await login(client, "sofia")
    assert (await client.get("/supervisor", allow_redirects=False)).status == 200
    assert (
        run(monkeypatch, settings, ["user", "set-role", "sofia", "agent", "--campaign", "mx-demo"])
        == 0
    )
    assert (await client.get("/supervisor", allow_redirects=False)).status == 302
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == "sofia"))
        assert user is not None and user.role == "agent" and user.campaign_id is not None
    last = changes(engine)[-1]
    assert last["action"] == "set_role" and last["from"] == "supervisor" and last["role"] == "agent"


def test_given_users_when_listing_then_each_with_role_and_state(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    seed: Seed,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(monkeypatch, settings, ["user", "disable", "beto"]) == 0
    capsys.readouterr()
    assert run(monkeypatch, settings, ["user", "list"]) == 0
    out = capsys.readouterr().out
    assert "raul" in out and "auditor" in out
    assert [line for line in out.splitlines() if " beto " in line][0].endswith("disabled")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["user", "disable", "nobody"], "no user named"),
        (["user", "set-role", "ana", "supervisor", "--campaign", "nope"], "no campaign"),
    ],
)
def test_given_bad_input_when_changing_a_user_then_exit_2_with_message(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    seed: Seed,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    assert run(monkeypatch, settings, argv) == 2
    assert message in capsys.readouterr().err
