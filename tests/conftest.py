"""Shared fixtures: real SQL (PostgreSQL from DATABASE_URL, else SQLite) and
real Redis (REDIS_URL, else an embedded redis-server for the test session)."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool
from support.database_drops import Dropper, shared_out
from support.sqlite_template import SqliteDatabases

from cobrador.ground.redis_runtime import EmbeddedRedis
from cobrador.ground.settings import Settings, normalise_database_url
from store.db import make_engine
from store.migrate import upgrade

# Hypothesis's deadline and its too_slow health check time the machine, not the code:
# on the loaded CI machine one draw took 0.86 s and test_account_copy_text failed with
# every example passing (tests time nothing: bench/ does). A test's own @settings
# still apply over this profile.
hypothesis_settings.register_profile("cobrador", deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
hypothesis_settings.load_profile("cobrador")

# Tests that run several processes against wall-clock deadlines (dialers killed,
# stores cut, the demo, pbxsim against recorded traces): `make unit` runs them in a
# second pass, a module at a time (SERIAL_WORKERS, 1 by default; see the Makefile),
# because four workers among the whole tier on two cores starve their processes and
# turn a deadline into a false failure.
SERIAL_MODULES = frozenset({
    "test_dead_dialer.py", "test_inbound_dialer_process.py", "test_multi_dialer.py",
    "test_multi_dialer_pacing.py", "test_redis_loss.py", "test_store_outages.py",
    "test_demo.py", "test_demo_bots.py", "test_demo_restart.py", "test_pbxsim_vs_traces.py",
})  # fmt: skip


RUN_LAST = frozenset({"test_real_floor.py"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--serial-tier", action="store_true",
                     help="collect only the SERIAL_MODULES (make unit's second pass): "
                          "importing every other test to deselect it took half a minute")  # fmt: skip
    parser.addoption("--asterisk-apart", action="store_true",
                     help="with pytest-xdist (make integration): every real-Asterisk test on "
                          "one worker, in order, the other tests on another meanwhile")  # fmt: skip


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--asterisk-apart`: two work units, the tests of tests/integration/asterisk and the
    others. The machine has one chroot Asterisk, restarted by each session and emptied
    between tests (tests/integration/asterisk/conftest.py): its tests run one at a time,
    on one worker, in their order (the real-floor tier last); the browser, messaging and
    Prometheus tests never touch it and run on the other worker meanwhile. Grouped by
    path here: xdist's own `--dist loadgroup` names its groups in the node id, which
    pytest 9 no longer reads, so it grouped nothing."""
    if not config.getoption("--asterisk-apart"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class AsteriskApart(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "asterisk" if "/integration/asterisk/" in f"/{nodeid}" else "no-asterisk"

    return AsteriskApart(config, log)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    name = collection_path.name
    if config.getoption("--serial-tier") and collection_path.suffix == ".py":
        return name.startswith("test_") and name not in SERIAL_MODULES
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Integration tests need real Asterisk/Chromium/Prometheus: they run in `make ci`
    # (`-m integration`); a plain `make test` deselects them by marker.
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
        elif item.fspath.basename in SERIAL_MODULES:
            item.add_marker(pytest.mark.serial)
    # The real-floor tier (three dialers, sipp on the trunk, CDR/CEL), the longest,
    # runs last. It once left a killed dialer's channels up, and the next test's call,
    # numbered from 1 again, was refused its Uniqueid and ended `failed`; every test
    # now leaves Asterisk empty (tests/integration/asterisk/conftest.py, the `ami`
    # fixture), and the order is kept only so a failure there comes last. A stable
    # sort: every other test keeps its order.
    items[:] = sorted(items, key=lambda item: item.fspath.basename in RUN_LAST)


def xdist_worker_index() -> int:
    """0 for a plain run, N for pytest-xdist's worker gwN."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw"))


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """REDIS_URL for a plain run and for the first xdist worker; an embedded
    redis-server of its own for every other worker.

    Databases do not keep workers apart on one server: pub/sub channels (the
    dialer's commands and replies) are server-wide, so two workers there would
    hear each other's messages.
    """
    url = os.environ.get("REDIS_URL")
    if url and xdist_worker_index() == 0:
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


DROP_WAIT_SECONDS = 120.0


class _PostgresDatabases:
    """Test databases on the PostgreSQL server of DATABASE_URL.

    The schema is migrated once per session into a template; a test that uses
    `engine` gets a copy of it (CREATE DATABASE ... TEMPLATE: a file copy, not
    eleven migrations). Drops run on background threads: a test's teardown
    does not wait for PostgreSQL to unlink files.
    """

    def __init__(self, url: str) -> None:
        self.url = normalise_database_url(url)
        self.base = self.url.rpartition("/")[0]
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.template: str | None = None
        self.migrated: set[str] = set()
        # Every database of this run (all xdist workers) starts with `prefix`; what
        # an earlier run left (its drops cut short at its end) is dropped first.
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
        self.prefix = f"t_{run[:8]}_"
        # Several drops at once (tests/support/database_drops.py); a session never
        # waits past DROP_WAIT_SECONDS for them.
        self._dropper = Dropper(self._execute)
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        for name in shared_out(self._left_by_earlier_runs(), xdist_worker_index(), workers):
            self._dropper.drop(name)

    def _left_by_earlier_runs(self) -> list[str]:
        with self.admin.connect() as conn:
            names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'"))
            return [n for (n,) in names if not n.startswith(self.prefix)]

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def create(self, migrated: bool) -> str:
        name = f"{self.prefix}{uuid.uuid4().hex[:12]}"
        if migrated:
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template()}"')
        else:
            self._execute(f'CREATE DATABASE "{name}"')
        url = f"{self.base}/{name}"
        if migrated:
            self.migrated.add(url)
        return url

    def _template(self) -> str:
        """The migrated database every `engine` test copies, named only once complete:
        a build interrupted (pytest-timeout, any exception) is dropped and the next test
        builds one again, instead of copying half a schema."""
        if self.template is None:
            name = f"{self.prefix}tpl_{uuid.uuid4().hex[:12]}"
            self._execute(f'CREATE DATABASE "{name}"')
            try:
                engine = make_engine(f"{self.base}/{name}", poolclass=NullPool)
                try:
                    upgrade(engine)
                finally:
                    engine.dispose()  # a template must have no connection while it is copied
            except BaseException:
                self.drop(f"/{name}")
                raise
            self.template = name
        return self.template

    def drop(self, url: str) -> None:
        self._dropper.drop(url.rpartition("/")[2])

    def close(self) -> None:
        if self.template is not None:
            self.drop(f"/{self.template}")
        # Under a loaded machine each DROP waits for a checkpoint: a backlog of them
        # once outlasted the session's timeout (CI failed with every test passed).
        # What is left is dropped by the next run (`_left_by_earlier_runs`).
        left = self._dropper.close(DROP_WAIT_SECONDS)
        if left:
            warnings.warn(f"{left} test databases left for the next run to drop", stacklevel=1)
            return
        self.admin.dispose()
        if self._dropper.errors:
            warnings.warn(
                "test databases not dropped: " + "; ".join(self._dropper.errors), stacklevel=1
            )


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield SqliteDatabases(tmp_path_factory.mktemp("schema"))
        return
    databases = _PostgresDatabases(url)
    yield databases
    databases.close()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _databases: Any) -> Iterator[str]:
    """A fresh database: a schema of its own on PostgreSQL, a file on SQLite.

    Empty, unless the test also uses `engine`: then it already holds the
    migrated schema (a copy of the session's template), which is what
    `engine` would have made of it.
    """
    migrated = "engine" in request.fixturenames
    if isinstance(_databases, SqliteDatabases):
        yield _databases.create(migrated, tmp_path / "test.sqlite3")
        return
    url = _databases.create(migrated)
    yield url
    _databases.drop(url)


@pytest.fixture
def engine(database_url: str, _databases: Any) -> Iterator[Engine]:
    """An engine on the test's database, its schema at the newest revision."""
    eng = make_engine(database_url)
    if database_url not in _databases.migrated:
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
