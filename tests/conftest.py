"""Shared fixtures: real SQL (PostgreSQL from DATABASE_URL, else SQLite) and
real Redis (REDIS_URL, else an embedded redis-server for the test session)."""

from __future__ import annotations

import os
import sqlite3
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
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import NullPool
from support.database_drops import (
    RUN_LOCK_SPACE,
    Dropper,
    abandoned,
    run_lock_key,
    run_of_lock_key,
    shared_out,
)
from support.database_pool import Template, describe, reset
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


@event.listens_for(Engine, "connect")
def _unordered_reads_reversed(dbapi_conn: Any, _record: Any) -> None:
    """On SQLite, a SELECT without ORDER BY returns its rows in the reverse of their
    usual order, in tests only: PostgreSQL promises no order either (a row updated
    moves in its heap), and CI once failed on two audit entries read back in the
    other order. Code or a test that reads rows in insertion order without asking
    for it fails here too, on every run, not only now and then on PostgreSQL."""
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.execute("PRAGMA reverse_unordered_selects = ON")


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

    The schema is migrated once per session into a template. A test gets a migrated
    database from this worker's pool (tests/support/database_pool.py): a copy of the
    template the first time, then the same database emptied after each test, as long
    as its schema stays the template's. A test marked `fresh_database` gets one of its
    own instead, dropped after it: empty (the test migrates it), or a copy of the
    template when it also uses `engine`. Drops run on background threads: a test's
    teardown does not wait for PostgreSQL to unlink files.
    """

    def __init__(self, url: str) -> None:
        self.url = normalise_database_url(url)
        self.base = self.url.rpartition("/")[0]
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.template: str | None = None
        self.described: Template | None = None
        self.migrated: set[str] = set()
        self.pool: list[str] = []  # migrated databases emptied, ready for the next test
        self.created = self.reused = self.dropped = 0
        self.refused: list[str] = []  # why databases were dropped instead of reused
        # Every database of this run (all xdist workers) starts with `prefix`. The run
        # holds a shared advisory lock named after it while any worker lives, so that
        # another run beside it (a developer's next to CI) leaves its databases alone;
        # what a finished run left (its drops cut short at its end) is dropped first.
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
        self.prefix = f"t_{run[:8]}_"
        self._alive = self.admin.connect()
        self._alive.execute(
            text("SELECT pg_advisory_lock_shared(:space, :run)"),
            {"space": RUN_LOCK_SPACE, "run": run_lock_key(run[:8])},
        )
        # Several drops at once (tests/support/database_drops.py); a session never
        # waits past DROP_WAIT_SECONDS for them.
        self._dropper = Dropper(self._execute)
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        for name in shared_out(self._left_by_earlier_runs(), xdist_worker_index(), workers):
            self._dropper.drop(name)

    def _left_by_earlier_runs(self) -> list[str]:
        """The test databases of runs that are over: no worker holds their run's lock
        and nothing is connected to them (names read first: a run takes its lock
        before it creates a database)."""
        with self.admin.connect() as conn:
            names = [n for (n,) in conn.execute(text(
                "SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'"))]  # fmt: skip
            live = {run_of_lock_key(key) for (key,) in conn.execute(text(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = CAST(:space AS oid) AND objsubid = 2 AND granted"),
                {"space": RUN_LOCK_SPACE})}  # fmt: skip
            connected = {n for (n,) in conn.execute(text(
                "SELECT DISTINCT datname FROM pg_stat_activity WHERE datname LIKE 't\\_%'"))}  # fmt: skip
        return abandoned(names, self.prefix, live, connected)

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def create(self, migrated: bool) -> str:
        name = f"{self.prefix}{uuid.uuid4().hex[:12]}"
        if migrated:
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template()}"')
        else:
            self._execute(f'CREATE DATABASE "{name}"')
        self.created += 1
        url = f"{self.base}/{name}"
        if migrated:
            self.migrated.add(url)
        return url

    def take(self) -> str:
        """A migrated database with no rows: the pool's, else a new copy of the template."""
        if self.pool:
            self.reused += 1
            return self.pool.pop()
        url = self.create(migrated=True)
        if self.described is None:
            with self._connect(url) as conn:
                self.described = describe(conn)
        return url

    def give_back(self, url: str) -> None:
        """Empty the database a test is done with for the next one, or drop it when it
        cannot be (tests/support/database_pool.py says when)."""
        assert self.described is not None
        try:
            with self._connect(url) as conn:
                why = reset(conn, self.described)
        except Exception as exc:  # a lock held past lock_timeout, a lost server
            why = f"{type(exc).__name__}: {exc}"
        if why is None:
            self.pool.append(url)
        else:
            self.refused.append(why)
            self.drop(url)

    def _connect(self, url: str) -> _Disposing:
        engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        return _Disposing(engine)

    def _template(self) -> str:
        """The migrated database every new one copies, named only once complete: a
        build interrupted (pytest-timeout, any exception) is dropped and the next test
        builds one again, instead of copying half a schema."""
        if self.template is None:
            name = f"{self.prefix}tpl_{uuid.uuid4().hex[:12]}"
            self._execute(f'CREATE DATABASE "{name}"')
            self.created += 1
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
        self.dropped += 1
        self._dropper.drop(url.rpartition("/")[2])

    def close(self) -> None:
        for url in self.pool:
            self.drop(url)
        self.pool.clear()
        if self.template is not None:
            self.drop(f"/{self.template}")
        # Under a loaded machine each DROP waits for a checkpoint: a backlog of them
        # once outlasted the session's timeout (CI failed with every test passed).
        # What is left is dropped by the next run (`_left_by_earlier_runs`), once this
        # one has let go of its lock.
        left = self._dropper.close(DROP_WAIT_SECONDS)
        self._alive.close()
        if left:
            warnings.warn(f"{left} test databases left for the next run to drop", stacklevel=1)
            return
        self.admin.dispose()
        if self._dropper.errors:
            warnings.warn(
                "test databases not dropped: " + "; ".join(self._dropper.errors), stacklevel=1
            )


class _Disposing:
    """`with`: one AUTOCOMMIT connection on a test database, its engine disposed after."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Connection:
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
        self.engine.dispose()


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
    """A database no other test sees: a file of its own on SQLite; on PostgreSQL a
    migrated one from the worker's pool, emptied of the previous test's rows.

    On SQLite it is empty, unless the test also uses `engine`: then it is a copy of
    the session's migrated template, which is what `engine` would have made of it.
    On PostgreSQL it is always migrated (the app's own upgrade then finds nothing to
    do), except for a test marked `fresh_database`: it gets a database of its own,
    empty unless it uses `engine`, and dropped after it. A test that migrates or
    downgrades the schema itself, or needs it missing, is marked so; one that changes
    the schema unmarked has its database dropped instead of reused (the check in
    tests/support/database_pool.py).
    """
    migrated = "engine" in request.fixturenames
    if isinstance(_databases, SqliteDatabases):
        yield _databases.create(migrated, tmp_path / "test.sqlite3")
        return
    if request.node.get_closest_marker("fresh_database"):
        url = _databases.create(migrated)
        yield url
        _databases.drop(url)
        return
    url = _databases.take()
    yield url
    _databases.give_back(url)


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
