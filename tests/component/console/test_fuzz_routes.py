"""Every console route, for every role and inside the debtor's portal, driven with
hostile values in the fields it reads (query string, form, JSON; path parameters
too): numbers of thousands of digits, negative, non-ASCII digits, NaN and Infinity,
dates in year 0 and 10000, invalid UTF-8, NUL bytes, path traversal, duplicate
parameters, the wrong content type. The answer is never a 5xx.

test_hostile_bodies.py sends bodies of the wrong shape; this one sends the right
shape with wrong values (the keys are the names the views read), drawn by
hypothesis: a 500 it finds is printed as the route and the request."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from console_fixtures import NOW, Seed, _password_hash, login
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from support.selfservice_seed import DIGITS, IDENTITY_KEY, LINK_SECRET, seed_portal
from support.selfservice_seed import NOW as PORTAL_NOW

from cobrador.ground.settings import Settings
from console.app import init_app
from outreach.links import LinkSigner
from store.db import transaction
from store.models import User

# The names the views read from forms, bodies and query strings.
KEYS = (
    "account_id", "account_ref", "action", "after", "agent", "agent_id", "amount", "answers",
    "at", "attempt_id", "callback", "callback_at", "callback_scope", "campaign", "campaign_id",
    "channel", "code", "consent", "date", "date_to", "day", "decision_id", "dial_mode",
    "digits", "direction", "dispute_kind", "done", "email", "entry_id", "fmt", "format",
    "from", "id", "kind", "lang", "limit", "mode", "name", "new_phone", "next", "note",
    "outcome", "page", "party", "password", "pause_seconds", "phone", "plan", "plan_confirm",
    "plan_discount", "plan_first_date", "plan_id", "plan_instalments", "plan_interval",
    "pop_id", "positions", "promise", "promise_amount", "promise_confirm", "promise_date",
    "q", "reason", "recording_id", "ref", "address", "result", "role", "since", "skill_group", "stage",
    "status", "talk_seconds", "task_id", "text", "to", "token", "type", "until", "username",
    "visit_id", "visits", "abandon_target", "lat", "lon", "accuracy", "battery", "photo",
    "instalments", "interval", "discount", "first_date", "month", "year", "offset", "before",
    "tz",
)  # fmt: skip

HOSTILE_TEXTS = (
    "9" * 5000, "-1", "-9223372036854775809", "9223372036854775808", "0", "1e999999",
    "NaN", "nan", "Infinity", "-Infinity", "1_000", "0x10", "٣", "²", "１２", "1.5", " 1 ",
    "0000-00-00", "0000-01-01", "10000-01-01", "9999-12-31", "0001-01-01", "2026-02-30",
    "2026-13-01", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00", "2026-11-24T25:00",
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z", "2026-11-24T12:00:00+99:00",
    "../../etc/passwd", "..%2f..%2fetc", "/etc/passwd", "\\\\server\\share", "%00", "\x00",
    "\ud800", "\ufffd" * 50, "\u202e", "a" * 70_000, "", " ", "null", "true", "[]", "{}",
    "https://evil.example/", "//evil.example", "javascript:alert(1)", "<script>x</script>",
    "'; DROP TABLE accounts; --", "${jndi:x}", "{{7*7}}", "%s%s%s%n",
    "America", "Etc", "America/Mexico_City", "UTC",  # zones, and folders of their database
)  # fmt: skip

JSON_VALUES = st.one_of(
    st.sampled_from(HOSTILE_TEXTS),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([10**4000, -(10**4000), 2**63, -(2**63) - 1, 2**31]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    st.recursive(st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=3)
                 | st.dictionaries(st.sampled_from(KEYS), c, max_size=3), max_leaves=8),
)  # fmt: skip
TEXT_VALUES = st.one_of(st.sampled_from(HOSTILE_TEXTS), st.text(max_size=30))
ENCODINGS = ("query", "form", "json", "duplicate", "raw_utf8", "wrong_type")


@dataclass(frozen=True)
class Hostile:
    fields: dict[str, Any]
    encoding: str
    path_value: str


HOSTILE = st.builds(
    Hostile,
    fields=st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, min_size=1, max_size=8),
    encoding=st.sampled_from(ENCODINGS),
    path_value=TEXT_VALUES,
)
LEAVING = {"/logout", "/p/salir"}  # they end the session the test goes on with
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, allow_nan=True) if isinstance(value, list | dict) else str(value)


def routes(client: TestClient, prefix: str = "/") -> list[tuple[str, str]]:
    found = set()
    for route in client.server.app.router.routes():  # type: ignore[union-attr]
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method in ("HEAD", "*") or not path or path in LEAVING:
            continue
        if path.startswith(prefix) and not path.startswith("/ws/"):
            found.add((route.method, path))
    return sorted(found)


def _q(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")  # a lone surrogate: invalid UTF-8


def _url(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _m: _q(value[:200]), path)


async def _send(client: TestClient, method: str, path: str, hostile: Hostile,
                token: str) -> int:  # fmt: skip
    url = _url(path, hostile.path_value)
    headers = {"X-CSRF-Token": token}
    pairs = [(k, _text(v)) for k, v in hostile.fields.items()]
    query = "&".join(f"{_q(k)}={_q(v)}" for k, v in pairs)
    kind = hostile.encoding
    form = "application/x-www-form-urlencoded"
    if kind == "duplicate":
        query = f"{query}&{query}"
    if kind in ("query", "duplicate") or method == "GET":
        resp = await client.request(method, f"{url}?{query}", headers=headers)
    elif kind == "json":
        body = json.dumps(hostile.fields, allow_nan=True, ensure_ascii=False)
        resp = await client.request(method, url, headers={**headers, "Content-Type":
                                    "application/json"}, data=body.encode("utf-8", "surrogatepass"))  # fmt: skip
    elif kind == "raw_utf8":
        raw = b"&".join(k.encode() + b"=" + v.encode("utf-8", "surrogatepass") + b"\xff\xfe"
                        for k, v in pairs) + b"&_csrf=" + token.encode()  # fmt: skip
        resp = await client.request(
            method, url, data=raw, headers={**headers, "Content-Type": form}
        )
    elif kind == "wrong_type":
        resp = await client.request(method, url, data=json.dumps(hostile.fields, default=str),
                                    headers={**headers, "Content-Type": "text/csv"})  # fmt: skip
    else:  # a form, with the parameters twice in the body too
        raw = f"{query}&{query}&_csrf={_q(token)}".encode()
        resp = await client.request(
            method, url, data=raw, headers={**headers, "Content-Type": form}
        )
    await resp.read()
    return resp.status


async def _failures(client: TestClient, token: str, found: list[tuple[str, str]],
                    batch: list[Hostile]) -> list[str]:  # fmt: skip
    failures = []
    for method, path in found:
        for hostile in batch:
            status = await _send(client, method, path, hostile, token)
            if status >= 500:
                failures.append(f"{status} {method} {path} {hostile!r}"[:600])
    return failures


def _run(coro_factory: Callable[[], Awaitable[list[str]]]) -> None:
    failures = asyncio.run(coro_factory())  # type: ignore[arg-type]
    assert not failures, "\n".join(failures)


FUZZ = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


@pytest.fixture
def staffed(engine: Engine, seed: Seed) -> Seed:
    with transaction(engine) as s:
        s.add(User(username="lucia", display_name="Lucia", role="field",
                   password_hash=_password_hash(), territory="CDMX"))  # fmt: skip
    return seed


@pytest.mark.parametrize("user", ["ana", "sofia", "raul", "root", "lucia"])
@FUZZ
@given(batch=st.lists(HOSTILE, min_size=1, max_size=3))
def test_given_hostile_values_on_every_route_then_never_5xx(
    settings: Settings, engine: Engine, redis_url: str, staffed: Seed, user: str,
    batch: list[Hostile],
) -> None:  # fmt: skip
    async def run() -> list[str]:
        redis = aioredis.Redis.from_url(redis_url)
        client = TestClient(TestServer(init_app(settings, engine, redis, clock=lambda: NOW)))
        await client.start_server()
        try:
            token = await login(client, user)
            # The portal's routes answer 503 without the portal's keys: below with them.
            found = [r for r in routes(client) if r[1] != "/p" and not r[1].startswith("/p/")]
            assert len(found) > 40
            return await _failures(client, token, found, batch)
        finally:
            await client.close()
            await redis.aclose()

    _run(run)


@FUZZ
@given(batch=st.lists(HOSTILE, min_size=1, max_size=3))
def test_given_hostile_values_inside_the_portal_then_never_5xx(
    settings: Settings, engine: Engine, redis_url: str, batch: list[Hostile]
) -> None:
    seeded = _portal_seed(engine)
    settings = settings.with_overrides(
        portal_link_secret=base64.b64encode(LINK_SECRET).decode(),
        portal_identity_key=base64.b64encode(IDENTITY_KEY).decode(),
    )

    async def run() -> list[str]:
        redis = aioredis.Redis.from_url(redis_url)
        await redis.flushdb()  # the identity throttle's counts, from the last example
        app = init_app(settings, engine, redis, clock=lambda: PORTAL_NOW)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            link = LinkSigner("https://pagos.example.mx/p", LINK_SECRET).token(seeded, PORTAL_NOW)
            page = await (await client.get(f"/p/{link}")).text()
            csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
            page = await (await client.post(f"/p/{link}", data={"digits": DIGITS,
                                                               "_csrf": csrf})).text()  # fmt: skip
            token = CSRF.search(page).group(1)  # type: ignore[union-attr]
            found = routes(client, "/p")
            assert len(found) > 5
            return await _failures(client, token, found, batch)
        finally:
            await client.close()
            await redis.aclose()

    _run(run)


_PORTAL: dict[int, int] = {}


def _portal_seed(engine: Engine) -> int:
    """The portal's account, seeded once per database (hypothesis reuses the engine)."""
    key = id(engine)
    if key not in _PORTAL:
        _PORTAL[key] = seed_portal(engine).account_id
    return _PORTAL[key]
