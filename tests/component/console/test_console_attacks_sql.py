"""Text the SQL database refuses as data (PostgreSQL: a NUL character, a value longer
than its column, a number out of its type's range): a 400 with the reason, never the
503 that says a service is down."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import psycopg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from console_fixtures import Seed
from sqlalchemy import Engine
from sqlalchemy.exc import DataError

from cobrador.ground.settings import Settings
from console.app import init_app

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
NUL = "PostgreSQL text fields cannot contain NUL (0x00) bytes"


async def _csrf(client: TestClient, path: str) -> str:
    match = CSRF.search(await (await client.get(path)).text())
    assert match
    return match.group(1)


async def test_given_a_nul_in_a_user_name_then_a_4xx_on_every_database(
    client: TestClient, seed: Seed
) -> None:
    """The login looks the name up before anything: on PostgreSQL the driver refused the
    NUL as a DataError, which the console answered 503, "service not available" (and
    logged as a backing service down). On SQLite the name is only unknown."""
    form = {"username": "ana\x00", "password": "x" * 12, "_csrf": await _csrf(client, "/login")}
    resp = await client.post("/login", data=form, allow_redirects=False)
    assert 400 <= resp.status < 500


@pytest.mark.parametrize("path", ["/api/boom", "/boom"])
async def test_given_the_database_refusing_a_value_as_data_then_400_with_the_reason(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, path: str,
) -> None:  # fmt: skip
    """Whatever route's value PostgreSQL refuses as data (SQLSTATE class 22) is the
    request's fault, said as such (JSON for /api/, the error page for a person)."""

    async def refused(request: web.Request) -> web.Response:
        raise DataError("SELECT users.id FROM users WHERE users.username = %s", ("a\x00",),
                        psycopg.DataError(NUL))  # fmt: skip

    app = init_app(settings, engine, aredis)
    app.router.add_get(path, refused)
    client = await aiohttp_client(app)
    resp = await client.get(path)
    assert resp.status == 400
    said = (await resp.json())["reason"] if path.startswith("/api/") else await resp.text()
    assert "no es válido" in said
