"""Login, logout, throttling, CSRF, sessions that claim a role they do not have."""

from __future__ import annotations

import base64
import json
import time

from aiohttp.test_utils import TestClient
from console_fixtures import PASSWORD, Seed, csrf_of, login
from cryptography.fernet import Fernet

from cobrador.ground.settings import Settings
from console.app import init_app


async def test_given_wrong_password_when_logging_in_then_401_with_message_and_no_session(
    client: TestClient,
) -> None:
    token = await csrf_of(client)
    resp = await client.post(
        "/login", data={"username": "ana", "password": "wrong password!", "_csrf": token}
    )
    assert resp.status == 401
    assert "Usuario o contraseña incorrectos." in await resp.text()
    assert (await client.get("/api/agent/state")).status == 401


async def test_given_unknown_user_when_logging_in_then_same_message_as_wrong_password(
    client: TestClient,
) -> None:
    token = await csrf_of(client)
    resp = await client.post(
        "/login", data={"username": "nobody", "password": "whatever123", "_csrf": token}
    )
    assert resp.status == 401
    assert "Usuario o contraseña incorrectos." in await resp.text()


async def test_given_empty_fields_when_logging_in_then_400_with_message(client: TestClient) -> None:
    token = await csrf_of(client)
    resp = await client.post("/login", data={"username": "", "password": "", "_csrf": token})
    assert resp.status == 400
    assert "Escriba su usuario y su contraseña." in await resp.text()


async def test_given_five_failures_when_right_password_then_still_throttled(
    client: TestClient,
) -> None:
    token = await csrf_of(client)
    for _ in range(5):
        await client.post(
            "/login", data={"username": "ana", "password": "nope-nope", "_csrf": token}
        )
    resp = await client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "_csrf": token}
    )
    assert resp.status == 429
    assert "Demasiados intentos" in await resp.text()


async def test_given_right_password_when_logging_in_then_agent_lands_on_agent_page(
    client: TestClient,
) -> None:
    token = await csrf_of(client)
    resp = await client.post(
        "/login",
        data={"username": "ana", "password": PASSWORD, "_csrf": token},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert resp.headers["Location"] == "/agent"
    page = await client.get("/agent")
    assert page.status == 200
    assert "Esperando llamada" in await page.text()


async def test_given_login_without_csrf_when_posting_then_403(client: TestClient) -> None:
    await client.get("/login")
    resp = await client.post("/login", data={"username": "ana", "password": PASSWORD})
    assert resp.status == 403


async def test_given_session_when_posting_without_csrf_then_403_and_state_unchanged(
    client: TestClient, seed: Seed
) -> None:
    token = await login(client, "ana")
    resp = await client.post("/api/agent/ready")
    assert resp.status == 403
    assert "CSRF" in (await resp.json())["reason"]
    ok = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert ok.status == 200


async def test_given_wrong_csrf_when_posting_then_403(client: TestClient) -> None:
    await login(client, "ana")
    resp = await client.post("/api/agent/ready", headers={"X-CSRF-Token": "forged"})
    assert resp.status == 403


async def test_given_logout_when_requesting_api_then_401(client: TestClient) -> None:
    token = await login(client, "ana")
    resp = await client.post("/logout", data={"_csrf": token}, allow_redirects=False)
    assert resp.status == 302
    assert (await client.get("/api/agent/state")).status == 401


def forged_cookie(settings: Settings, payload: dict[str, object]) -> str:
    """A cookie built with the server's own key: the strongest forgery there is."""
    key = base64.urlsafe_b64encode(base64.urlsafe_b64decode(settings.console_secret + "==")[:32])
    data = json.dumps({"created": int(time.time()), "session": payload})
    return Fernet(key).encrypt(data.encode()).decode()


async def test_given_session_claiming_admin_role_for_an_agent_then_403_everywhere(
    aiohttp_client, settings: Settings, engine, aredis, seed: Seed
) -> None:
    secret = base64.urlsafe_b64encode(b"k" * 32).decode()
    settings = settings.with_overrides(console_secret=secret)
    client = await aiohttp_client(init_app(settings, engine, aredis))
    cookie = forged_cookie(settings, {"uid": seed.users["ana"], "role": "admin", "csrf": "x"})
    client.session.cookie_jar.update_cookies({"cobrador_session": cookie})
    for path in ("/supervisor", "/auditor", "/api/wallboard?campaign=mx-demo", "/agent"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 403, path


async def test_given_english_chosen_when_rendering_login_then_english_text(
    client: TestClient,
) -> None:
    resp = await client.get("/login?lang=en")
    text = await resp.text()
    assert "Log in" in text
    assert 'lang="en"' in text
    again = await client.get("/login")
    assert "Log in" in await again.text()


async def test_given_any_page_then_security_headers_forbid_framing_and_foreign_scripts(
    client: TestClient,
) -> None:
    resp = await client.get("/login")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
