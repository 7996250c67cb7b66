"""Server-side sessions: logout, disable, role change and password reset end them;
idle and absolute lifetimes per role; a lost Redis changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, login, origin
from sqlalchemy import Engine

from console import sessions, user_admin
from console.keys import SESSION_CHECK_SECONDS
from console.webutil import SESSION_ENDED
from store.models import Role


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cookie_of(client: TestClient) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))["cobrador_session"].value


def put_back(client: TestClient, cookie: str) -> None:
    client.session.cookie_jar.update_cookies({"cobrador_session": cookie}, client.make_url("/"))


AUDITOR_PAGES = ["/auditor", "/auditor/attempts.csv?phone=%2B525512340001", "/auditor/chain"]


@pytest.mark.parametrize("path", AUDITOR_PAGES)
async def test_given_a_cookie_copied_before_logout_when_reused_then_refused(
    client: TestClient, path: str
) -> None:
    token = await login(client, "raul")
    assert (await client.get(path, allow_redirects=False)).status == 200
    stolen = cookie_of(client)
    resp = await client.post("/logout", data={"_csrf": token}, allow_redirects=False)
    assert resp.status == 302
    put_back(client, stolen)
    resp = await client.get(path, allow_redirects=False)
    assert resp.status in (302, 401)
    if resp.status == 302:
        assert resp.headers["Location"].startswith("/login")


async def test_given_an_auditor_idle_past_the_limit_then_logged_out_but_an_agent_is_not(
    client: TestClient, clock: Clock, aiohttp_client, settings, engine, aredis, seed
) -> None:
    await login(client, "raul")
    from console.app import init_app

    agent = await aiohttp_client(init_app(settings, engine, aredis, clock=clock))
    await login(agent, "ana")
    clock.now += sessions.LIFETIMES[Role.auditor].idle + timedelta(seconds=1)
    assert (await client.get("/auditor", allow_redirects=False)).status == 302
    assert (await agent.get("/api/agent/state")).status == 200


async def test_given_an_active_auditor_past_the_absolute_lifetime_then_logged_out(
    client: TestClient, clock: Clock
) -> None:
    await login(client, "raul")
    step = sessions.LIFETIMES[Role.auditor].idle - timedelta(minutes=1)
    elapsed = timedelta(0)
    while elapsed + step <= sessions.LIFETIMES[Role.auditor].absolute:
        clock.now += step
        elapsed += step
        assert (await client.get("/auditor", allow_redirects=False)).status == 200
    clock.now += step
    assert (await client.get("/auditor", allow_redirects=False)).status == 302


@pytest.mark.parametrize(
    "change",
    [
        lambda engine, now: user_admin.set_active(engine, "raul", False, "cli", now),
        lambda engine, now: user_admin.set_role(engine, "raul", "supervisor", "cli", now),
        lambda engine, now: user_admin.reset_password(
            engine, "raul", "a brand new secret", "cli", now
        ),
    ],
    ids=["disabled", "role_changed", "password_reset"],
)
async def test_given_two_sessions_when_access_changes_then_both_end_at_once(
    client: TestClient, aiohttp_client, settings, engine: Engine, aredis, seed, clock: Clock, change
) -> None:
    from console.app import init_app

    other = await aiohttp_client(init_app(settings, engine, aredis, clock=clock))
    await login(client, "raul")
    await login(other, "raul")
    change(engine, clock())
    for c in (client, other):
        resp = await c.get("/auditor/attempts.csv?phone=%2B525512340001", allow_redirects=False)
        assert resp.status in (401, 403)


async def test_given_redis_flushed_then_sessions_still_hold_and_logout_still_ends_them(
    client: TestClient, aredis: aioredis.Redis
) -> None:
    token = await login(client, "raul")
    await aredis.flushdb()
    assert (await client.get("/auditor", allow_redirects=False)).status == 200
    stolen = cookie_of(client)
    await client.post("/logout", data={"_csrf": token})
    await aredis.flushdb()
    put_back(client, stolen)
    assert (await client.get("/auditor", allow_redirects=False)).status == 302


@pytest.mark.parametrize(
    ("username", "socket"), [("ana", "/ws/agent"), ("sofia", "/ws/wallboard?campaign=mx-demo")]
)
async def test_given_an_open_websocket_when_the_user_is_disabled_then_it_closes(
    aiohttp_client, settings, engine: Engine, aredis, seed, clock: Clock, username: str, socket: str
) -> None:
    from console.app import init_app

    app = init_app(settings, engine, aredis, clock=clock)
    app[SESSION_CHECK_SECONDS] = 0.05
    client = await aiohttp_client(app)
    await login(client, username)
    ws = await client.ws_connect(socket, origin=origin(client))
    user_admin.set_active(engine, username, False, "cli", clock())
    # Pops and wallboard pushes may come first; the close follows.
    while (msg := await ws.receive(timeout=30)).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
        assert msg.type == WSMsgType.TEXT
    assert ws.close_code == SESSION_ENDED
