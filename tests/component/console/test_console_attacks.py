"""The console as an attacker sees it: what a crafted link, a forged form or a
stranger without a session can and cannot make the console do."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

from aiohttp.test_utils import TestClient
from console_fixtures import NOW, PASSWORD, Seed, csrf_of, login, make_attempt
from sqlalchemy import Engine

from console.payment_webhook_views import WEBHOOK_PATH

PHISH = "Su sesión venció: llame al 55 0000 0000 y dicte su contraseña"


async def test_given_a_crafted_link_with_a_message_then_the_console_never_says_it(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """A link sent to a supervisor or an auditor cannot put the attacker's words in the
    console's own confirmation box (only the console's confirmations by code)."""
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], started_at=NOW)
    await login(client, "root")
    for path in ("/supervisor", f"/attempts/{attempt}"):
        page = await (await client.get(f"{path}?msg={quote(PHISH)}")).text()
        assert PHISH not in page and "llame al 55" not in page, path
    # The console's own confirmations still show, named by code.
    saved = await (await client.get("/supervisor?done=saved")).text()
    assert "Cambio guardado." in saved
    held = await (await client.get(f"/attempts/{attempt}?done=hold")).text()
    assert "La grabación quedó bajo retención legal." in held


# Reached without a console login, each for a reason; every other route names the
# roles it serves (console.webutil.requires). A new route missing from both fails.
PUBLIC = {
    "/": "sends to the login page or the user's home",
    "/login": "the way in (CSRF-checked, throttled)",
    "/logout": "ends whatever session the cookie carries",
    "/field": "a redirect to the field app",
    "/field/manifest.webmanifest": "the field app's shell: no data",
    "/field/sw.js": "the field app's shell: no data",
    WEBHOOK_PATH: "Mercado Pago's signed call (x-signature), not a browser",
}
PORTAL = "/p"  # the debtor's portal: its own identity check and verified session


def _routes(client: TestClient) -> list[tuple[str, str, object]]:
    found = []
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if "prefix" in info or route.method == "HEAD":
            continue  # static files; HEAD shares its GET's handler
        found.append((route.method, path, route.handler))
    return found


async def test_given_every_route_then_each_names_its_roles_or_is_public_for_a_reason(
    client: TestClient,
) -> None:
    unguarded = [
        (method, path)
        for method, path, handler in _routes(client)
        if not getattr(handler, "allowed_roles", None)
        and path not in PUBLIC
        and path != PORTAL
        and not path.startswith(PORTAL + "/")
    ]
    assert unguarded == []


def _example(path: str) -> str:
    """A concrete URL for a route's template: ids 1, a portal token's shape."""
    path = re.sub(r"\{token:[^}]*\}", "A" * 39, path)
    return re.sub(r"\{[^}]*\}", "1", path)


async def test_given_any_state_changing_route_without_the_csrf_token_then_403_before_it_acts(
    client: TestClient, seed: Seed
) -> None:
    """A page of another site that makes the browser post (a form, fetch with the
    cookie) reaches no handler: every POST wants the session's token, form or header."""
    await login(client, "root")
    posts = [path for method, path, _ in _routes(client) if method == "POST"]
    assert len(posts) > 40
    for path in posts:
        if path in (WEBHOOK_PATH,):
            continue
        url = _example(path)
        for body in ({"data": {"action": "stop"}}, {"json": {"action": "stop"}}):
            resp = await client.post(url, allow_redirects=False, **body)  # type: ignore[arg-type]
            assert resp.status == 403, (url, resp.status)
            assert "CSRF" in await resp.text(), url
        wrong = await client.post(url, data={"_csrf": "x" * 43}, allow_redirects=False)
        assert wrong.status == 403, url


async def test_given_a_login_then_the_session_cookie_is_httponly_and_same_site_strict(
    client: TestClient,
) -> None:
    """Scripts cannot read it (an XSS steals no session) and no other site's request
    carries it (CSRF's second wall)."""
    token = await csrf_of(client)
    resp = await client.post("/login", data={"username": "ana", "password": PASSWORD,
                                             "_csrf": token}, allow_redirects=False)  # fmt: skip
    assert resp.status == 302
    cookie = resp.cookies["cobrador_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"


async def test_given_a_csrf_header_of_bytes_not_utf8_then_403_not_500(client: TestClient) -> None:
    """aiohttp hands such a header over as lone surrogates, which .encode() refused."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(b"POST /login HTTP/1.1\r\nHost: x\r\nX-CSRF-Token: \xff\xfe\x80\r\n"
                     b"Content-Length: 0\r\nConnection: close\r\n\r\n")  # fmt: skip
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 403"), answer[:100]


async def test_given_an_origin_no_browser_sends_then_the_socket_is_refused_not_500(
    client: TestClient, seed: Seed
) -> None:
    await login(client, "root")  # every role: the Origin check is what answers
    for path in ("/ws/agent", "/ws/wallboard"):
        resp = await client.get(path, headers={
            "Origin": "http://[", "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})  # fmt: skip
        assert resp.status in (401, 403), (path, resp.status)
