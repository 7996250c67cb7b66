"""Shared fixtures: real SQL (PostgreSQL from DATABASE_URL, else SQLite) and
real Redis (REDIS_URL, else an embedded redis-server for the test session)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine, create_engine, text

from cobrador.ground.redis_runtime import EmbeddedRedis
from cobrador.ground.settings import Settings, normalise_database_url
from store.db import make_engine
from store.migrate import upgrade


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Integration tests need real Asterisk/Chromium/Prometheus: they run in `make ci`
    # (`-m integration`); a plain `make test` deselects them by marker.
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    # No snapshot, no AOF: on a busy disk an fsync stall would slow every test;
    # the tests of persistence start servers of their own.
    with EmbeddedRedis(persist=False) as server:
        yield server.url


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """A Redis URL whose database is flushed before and after the test.

    Tests on a shared CI Redis use database 15 so they never touch db 0's data.
    """
    base = redis_server_url.rsplit("/", 1)[0]
    url = f"{base}/15"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a schema of its own on PostgreSQL, a file on SQLite."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    url = normalise_database_url(url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = url.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_url)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (COBRADOR_REQUIRE_INTEGRATION=1) a skipped test is a failure."""
    if os.environ.get("COBRADOR_REQUIRE_INTEGRATION") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        print(f"\n{skipped} test(s) skipped with COBRADOR_REQUIRE_INTEGRATION=1: failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
