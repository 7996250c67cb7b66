"""Login throttling under bursts, back-off, offices behind one address, durability, redirects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, PASSWORD, Seed, csrf_of, login
from sqlalchemy import Engine, select

from cobrador.ground.settings import Settings, SettingsError
from console import login_throttle
from console.app import init_app
from console.auth_views import safe_next
from store.db import transaction
from store.models import AuditEntry


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def post_login(
    client: TestClient, token: str, username: str, password: str, next_: str | None = None
) -> int:
    path = "/login" if next_ is None else f"/login?next={next_}"
    resp = await client.post(
        path,
        data={"username": username, "password": password, "_csrf": token},
        allow_redirects=False,
    )
    await resp.read()
    return resp.status


async def test_given_60_parallel_logins_59_wrong_when_the_right_one_comes_then_it_is_refused(
    client: TestClient,
) -> None:
    token = await csrf_of(client)
    wrong = [post_login(client, token, "ana", f"wrong-password-{i}") for i in range(59)]
    statuses = await asyncio.gather(*wrong, post_login(client, token, "ana", PASSWORD))
    # Admission is one atomic step: at most 5 attempts were ever checked.
    checked = [s for s in statuses if s != 429]
    assert len(checked) <= login_throttle.USER_FAILURES
    # Unless the right one was among the five admitted, it was refused, and stays so.
    if statuses[-1] != 302:
        assert statuses[-1] == 429
        # Locked now: the right password does not get in either.
        assert await post_login(client, token, "ana", PASSWORD) == 429
        assert (await client.get("/api/agent/state")).status == 401


async def test_given_a_locked_user_then_lock_doubles_each_time_and_ends(
    client: TestClient, clock: Clock, engine: Engine
) -> None:
    token = await csrf_of(client)
    for minutes in (5, 10, 20):
        for _ in range(login_throttle.USER_FAILURES):
            await post_login(client, token, "ana", "nope-nope-nope")
        resp = await client.post(
            "/login", data={"username": "ana", "password": PASSWORD, "_csrf": token}
        )
        assert resp.status == 429
        assert f"Espere {minutes} min" in await resp.text()
        clock.now += timedelta(minutes=minutes) - timedelta(seconds=1)
        assert await post_login(client, token, "ana", PASSWORD) == 429
        clock.now += timedelta(seconds=1)
    assert await post_login(client, token, "ana", PASSWORD) == 302
    with transaction(engine) as session:
        locks = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "login_locked").order_by(AuditEntry.id)
        ).all()
        payloads = [json.loads(e.payload) for e in locks]
    assert [p["lockouts"] for p in payloads] == [1, 2, 3]
    assert {p["scope"] for p in payloads} == {"user"}


async def test_given_20_failures_on_known_names_from_one_address_then_others_there_still_log_in(
    client: TestClient,
) -> None:
    token = await csrf_of(client)
    for name in ("ana", "sofia", "raul", "root"):
        for _ in range(login_throttle.USER_FAILURES):
            await post_login(client, token, name, "mistyped-password")
    # The office behind one NAT: beto is not locked out by his colleagues' typos.
    assert await post_login(client, token, "beto", PASSWORD) == 302


async def test_given_20_unknown_names_from_one_address_then_that_address_is_locked_and_audited(
    client: TestClient, engine: Engine
) -> None:
    token = await csrf_of(client)
    for i in range(login_throttle.ADDRESS_UNKNOWN_NAME_FAILURES):
        assert await post_login(client, token, f"nobody{i}", "guess-guess-guess") in (401, 429)
    assert await post_login(client, token, "nobody-else", "guess-guess-guess") == 429
    # A wrong password on a real name answers the same: nothing learnt about names.
    assert await post_login(client, token, "beto", "guess-guess-guess") == 429
    # The real user with the right password is not kept out.
    assert await post_login(client, token, "beto", PASSWORD) == 302
    with transaction(engine) as session:
        scopes = [
            json.loads(e.payload)["scope"]
            for e in session.scalars(select(AuditEntry).where(AuditEntry.kind == "login_locked"))
        ]
    assert "address" in scopes


async def test_given_unknown_names_from_rotating_ipv6_addresses_of_one_64_then_locked_as_one(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Clock,
) -> None:  # fmt: skip
    """One IPv6 subscriber writing a fresh source address of its /64 for each guess."""
    proxied = settings.with_overrides(trusted_proxies="127.0.0.1, ::1")
    client = await aiohttp_client(init_app(proxied, engine, aredis, clock=clock))
    token = await csrf_of(client)

    async def attempt(name: str, password: str, address: str) -> int:
        resp = await client.post("/login", data={"username": name, "password": password,
                                                 "_csrf": token},
                                 headers={"X-Forwarded-For": address}, allow_redirects=False)  # fmt: skip
        await resp.read()
        return resp.status

    for i in range(login_throttle.ADDRESS_UNKNOWN_NAME_FAILURES):
        assert await attempt(f"nobody{i}", "guess-guess-guess", f"2001:db8:1:2::{i + 1:x}") in (
            401, 429)  # fmt: skip
    assert await attempt("nobody-else", "guess-guess-guess", "2001:db8:1:2::ffff") == 429
    assert await attempt("nobody-else", "guess-guess-guess", "2001:db8:7:7::1") == 401


async def test_given_a_locked_user_when_redis_is_flushed_then_still_locked(
    client: TestClient, aredis: aioredis.Redis
) -> None:
    token = await csrf_of(client)
    for _ in range(login_throttle.USER_FAILURES):
        await post_login(client, token, "ana", "nope-nope-nope")
    await aredis.flushdb()
    assert await post_login(client, token, "ana", PASSWORD) == 429


async def test_given_a_locked_user_when_another_console_process_answers_then_still_locked(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    client: TestClient,
    settings: Settings,
    engine: Engine,
    aredis: aioredis.Redis,
    seed: Seed,
    clock: Clock,
) -> None:
    token = await csrf_of(client)
    for _ in range(login_throttle.USER_FAILURES):
        await post_login(client, token, "ana", "nope-nope-nope")
    other = await aiohttp_client(init_app(settings, engine, aredis, clock=clock))
    assert await post_login(other, await csrf_of(other), "ana", PASSWORD) == 429


async def test_given_success_after_failures_then_the_count_starts_again(client: TestClient) -> None:
    token = await csrf_of(client)
    for _ in range(login_throttle.USER_FAILURES - 1):
        await post_login(client, token, "ana", "nope-nope-nope")
    await login(client, "ana")
    token = await csrf_of(client, "/agent")
    await client.post("/logout", data={"_csrf": token})
    token = await csrf_of(client)
    for _ in range(login_throttle.USER_FAILURES - 1):
        assert await post_login(client, token, "ana", "nope-nope-nope") == 401


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/%E3%80%80/evil.example",
    ],
)
async def test_given_next_leaving_the_site_when_logging_in_then_home_instead(
    client: TestClient, target: str
) -> None:
    token = await csrf_of(client)
    resp = await client.post(
        f"/login?next={target}",
        data={"username": "raul", "password": PASSWORD, "_csrf": token},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert resp.headers["Location"] == "/auditor"


async def test_given_next_on_the_site_when_logging_in_then_there(client: TestClient) -> None:
    token = await csrf_of(client)
    resp = await client.post(
        "/login?next=/auditor/decisions%3Fphone%3D%2B52",
        data={"username": "raul", "password": PASSWORD, "_csrf": token},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/auditor/decisions?phone=+52"


@pytest.mark.parametrize("value", ["/a\tb", "/\n/x", "/\x7f/x", "//x", "/\\x", "/ok?x=\\"])
def test_given_control_or_backslash_then_not_a_redirect_target(value: str) -> None:
    assert safe_next(value) is None


async def _proxied_login(client: TestClient, token: str, forwarded: str, name: str,
                         password: str) -> int:  # fmt: skip
    resp = await client.post("/login", data={"username": name, "password": password, "_csrf": token},
                             headers={"X-Forwarded-For": forwarded}, allow_redirects=False)  # fmt: skip
    await resp.read()
    return resp.status


async def test_given_a_trusted_proxy_when_one_client_behind_it_is_locked_then_the_others_are_not(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Clock,
) -> None:  # fmt: skip
    # The test client connects from 127.0.0.1: the proxy, as nginx in front of it.
    app = init_app(settings.with_overrides(trusted_proxies="127.0.0.1, ::1"), engine, aredis,
                   clock=clock)  # fmt: skip
    client = await aiohttp_client(app)
    token = await csrf_of(client)
    guesser = "198.51.100.1"
    for i in range(login_throttle.ADDRESS_UNKNOWN_NAME_FAILURES):
        await _proxied_login(client, token, guesser, f"nobody{i}", "guess-guess-guess")
    assert await _proxied_login(client, token, guesser, "nobody-else", "guess") == 429
    # Everybody else comes through the same proxy address, and is not locked out.
    assert await _proxied_login(client, token, "198.51.100.2", "nobody-x", "guess") == 401
    # The guesser cannot step around the lock by writing another address first.
    assert await _proxied_login(client, token, f"203.0.113.5, {guesser}", "nobody-y", "g") == 429


async def test_given_no_trusted_proxy_when_a_locked_client_forges_the_header_then_still_locked(
    client: TestClient,
) -> None:
    token = await csrf_of(client)
    for i in range(login_throttle.ADDRESS_UNKNOWN_NAME_FAILURES):
        await post_login(client, token, f"nobody{i}", "guess-guess-guess")
    assert await _proxied_login(client, token, "198.51.100.77", "nobody-z", "guess") == 429


async def test_given_a_bad_trusted_proxies_setting_then_the_console_refuses_to_start(
    settings: Settings, engine: Engine, aredis: aioredis.Redis,
) -> None:  # fmt: skip
    with pytest.raises(SettingsError, match="trusted_proxies: 'proxy.local'"):
        init_app(settings.with_overrides(trusted_proxies="10.0.0.0/8, proxy.local"), engine,
                 aredis)  # fmt: skip
