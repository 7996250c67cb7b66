"""Every route that takes a body answers hostile bodies (not JSON, JSON of the wrong
shape or nested 100,000 deep, integers of thousands of digits, NUL bytes, numbers no
column holds, a charset it does not name) with a 4xx, never a 500: for every role,
and for a debtor inside the portal."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, _password_hash, login
from sqlalchemy import Engine
from support.selfservice_seed import DIGITS, IDENTITY_KEY, LINK_SECRET, NOW, seed_portal

from cobrador.ground.settings import Settings
from console.app import init_app
from outreach.links import LinkSigner
from store.db import transaction
from store.models import User

HOSTILE_JSON = [
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"1e999999",
    b'{"a": NaN}',
    b"\xff\xfe{\x00}\x00",
    b'{"text": "\\u0000", "id": 99999999999999999999999, "day": "9999-99-99"}',
    b'{"text": [], "id": {}, "account_id": "1e3", "amount": "NaN", "visits": "x"}',
    b"[" * 200_000 + b"]" * 200_000,
    b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
    b'{"account_id": ' + b"9" * 5000 + b"}",
]
HOSTILE_FORMS = [
    {"account_id": "9" * 30, "amount": "1e999999", "text": "a\x00b", "day": "2026-02-30",
     "digits": "\x00" * 4, "ref": "x" * 5000},
    {"account_id": "-1", "amount": "NaN", "campaign": "\x00", "reason": "\ufffd" * 100,
     "instalments": "9" * 40, "date": "0000-00-00", "channel": "../../etc"},
]  # fmt: skip
URLENCODED = "application/x-www-form-urlencoded"
RAW_FORMS = [
    (URLENCODED + "; charset=klingon", b"account_id=%FF%FE&text=%00"),
    (URLENCODED + "; charset=utf-16", b"account_id=\xff\xfe1"),
    (URLENCODED, b"account_id=%FF%FE&text=\xff\xfe&amount=%00&=&&==&%"),
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"text\"\r\n"
     b"Content-Type: text/plain; charset=klingon\r\n\r\n\xff\r\n--b--\r\n"),
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n"),
    ("multipart/form-data", b"garbage"),
]  # fmt: skip
LEAVING = {"/logout", "/p/salir"}  # they end the session the test goes on with
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def _routes(client: TestClient, prefix: str = "/") -> list[tuple[str, str]]:
    found = set()
    for route in client.server.app.router.routes():  # type: ignore[union-attr]
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        writes = route.method in ("POST", "PUT", "PATCH", "DELETE")
        if writes and path and path not in LEAVING and path.startswith(prefix):
            found.add((route.method, path))
    return sorted(found)


async def _failures(client: TestClient, token: str, routes: list[tuple[str, str]],
                    fill: str) -> list[tuple[str, str, str, int]]:  # fmt: skip
    """(method, path, body, status) of every answer >= 500."""
    failures = []
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", fill, path)
        for body in HOSTILE_JSON:
            resp = await client.request(method, url, data=body, headers={
                "Content-Type": "application/json", "X-CSRF-Token": token})  # fmt: skip
            if resp.status >= 500:
                failures.append((method, path, repr(body[:40]), resp.status))
        for form in HOSTILE_FORMS:
            resp = await client.request(method, url, data={**form, "_csrf": token})
            if resp.status >= 500:
                failures.append((method, path, repr(form)[:40], resp.status))
        for kind, raw in RAW_FORMS:
            resp = await client.request(method, url, data=raw, headers={
                "Content-Type": kind, "X-CSRF-Token": token})  # fmt: skip
            if resp.status >= 500:
                failures.append((method, path, f"{kind} {raw[:30]!r}", resp.status))
    return failures


@pytest.mark.parametrize("user", ["ana", "sofia", "raul", "root", "lucia"])
async def test_given_hostile_bodies_on_every_route_then_never_500(
    client: TestClient, seed: Seed, engine: Engine, user: str
) -> None:
    with transaction(engine) as s:
        s.add(User(username="lucia", display_name="Lucia", role="field",
                   password_hash=_password_hash(), territory="CDMX"))  # fmt: skip
    token = await login(client, user)
    # The portal's routes answer 503 without the portal's keys: the test below has them.
    routes = [r for r in _routes(client) if r[1] != "/p" and not r[1].startswith("/p/")]
    assert len(routes) > 30  # the walk sees the app's routes
    assert not await _failures(client, token, routes, str(seed.account_id))


async def test_given_hostile_bodies_inside_the_portal_then_never_500(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis,
) -> None:  # fmt: skip
    seeded = seed_portal(engine)
    settings = settings.with_overrides(
        portal_link_secret=base64.b64encode(LINK_SECRET).decode(),
        portal_identity_key=base64.b64encode(IDENTITY_KEY).decode(),
    )
    client = await aiohttp_client(init_app(settings, engine, aredis, clock=lambda: NOW))
    link = LinkSigner("https://pagos.example.mx/p", LINK_SECRET).token(seeded.account_id, NOW)
    csrf = CSRF.search(await (await client.get(f"/p/{link}")).text()).group(1)  # type: ignore[union-attr]
    page = await (await client.post(f"/p/{link}", data={"digits": DIGITS, "_csrf": csrf})).text()
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    assert (await client.get("/p/cuenta")).status == 200  # inside, as the debtor
    routes = [r for r in _routes(client, "/p") if r[1] != "/p/{token}"]
    assert len(routes) > 5
    assert not await _failures(client, token, routes, link)
