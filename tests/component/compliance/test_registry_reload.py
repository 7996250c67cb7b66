"""Registries are durable in SQL and reloaded into Redis by themselves: in a new
process, after FLUSHALL, after a redis-server killed and restarted empty; one
process reloads at a time and calls stay blocked meanwhile (fail closed)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from compliance_helpers import make_account
from prometheus_client import generate_latest
from sqlalchemy import Engine, select

from cobrador.ground.redis_runtime import EmbeddedRedis
from compliance.registry import current_key
from compliance.registry_import import import_registry
from compliance.registry_sync import IN_FORCE, RELOADED, RELOADING, RegistrySync, lock_key
from compliance.service import ComplianceService
from metrics.definitions import REGISTRY
from store.db import transaction
from store.models import RegistryBucket, RegistryImport

NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)  # Tuesday 12:00 in Mexico City
LISTED, FREE = "+525598765432", "+525512345678"


def _import(engine: Engine, url: str, tmp_path: Path, text: str = f"{LISTED}\n") -> str:
    path = tmp_path / "reus.txt"
    path.write_text(text)
    client = redis.Redis.from_url(url)
    try:
        report = import_registry(
            engine, client, name="reus", path=path, country="MX", now=NOW - timedelta(days=1)
        )
    finally:
        client.close()
    return report.version


async def _reasons(service: ComplianceService, engine: Engine) -> list[tuple[str, ...]]:
    with transaction(engine) as session:
        items = [
            service.load_item(session, account_ref=ref, phone_e164=phone)
            for ref, phone in (("A", FREE), ("B", LISTED))
        ]
    return [d.reasons for d in await service.evaluate_batch(items, NOW)]


def _accounts(engine: Engine) -> None:
    make_account(engine, "A", phones=[{"number_e164": FREE}])
    make_account(engine, "B", phones=[{"number_e164": LISTED}])


def _gauge(name: str) -> str:
    for line in generate_latest(REGISTRY).decode().splitlines():
        if line.startswith(f'cobrador_registry_loaded_up{{registry="{name}"}}'):
            return line.rsplit(" ", 1)[1]
    return "absent"


def test_given_import_kept_in_sql_then_its_buckets_are_redis_values(
    engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    version = _import(engine, redis_url, tmp_path, f"{LISTED}\n{FREE}\n")
    client = redis.Redis.from_url(redis_url)
    with transaction(engine) as session:
        imp = session.execute(select(RegistryImport)).scalar_one()
        rows = session.execute(select(RegistryBucket).where(RegistryBucket.import_id == imp.id))
        kept = {r.bucket: r.numbers for r in rows.scalars()}
    assert len(kept) == 2
    for bucket, blob in kept.items():
        assert client.get(f"cobrador:reg:{{reus}}:{version}:{bucket}") == blob
    client.close()


async def test_given_flushall_mid_run_then_blocked_then_reloaded_from_sql(
    engine: Engine, redis_url: str, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    _accounts(engine)
    version = _import(engine, redis_url, tmp_path)
    service = ComplianceService(engine, aredis)
    assert service.registry_sync is not None
    assert await _reasons(service, engine) == [(), ("registry_listed",)]
    await aredis.flushdb()
    # The tick after the loss: its lookups fail closed and start the reload.
    assert await _reasons(service, engine) == [("registry_unavailable",)] * 2
    await service.registry_sync.idle()
    assert await aredis.get(current_key("reus")) == version.encode()
    assert await _reasons(service, engine) == [(), ("registry_listed",)]
    assert _gauge("reus") == "1.0"


async def test_given_other_version_in_redis_when_checked_then_last_import_reloaded(
    engine: Engine, redis_url: str, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    # A Redis restored from an old snapshot answers with a version SQL no longer
    # has as its last import: the tick's check reloads the last one.
    _accounts(engine)
    version = _import(engine, redis_url, tmp_path)
    sync = RegistrySync(engine, aredis)
    await sync.refresh(["reus"])
    await aredis.set(current_key("reus"), "20250101T000000Z-deadbeef")
    await sync.check(["reus"])
    await sync.idle()
    assert await aredis.get(current_key("reus")) == version.encode()
    assert await _reasons(ComplianceService(engine, aredis), engine) == [(), ("registry_listed",)]


async def test_given_another_process_reloading_then_this_one_waits_blocked_and_says_so(
    engine: Engine, redis_url: str, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    _accounts(engine)
    _import(engine, redis_url, tmp_path)
    await aredis.delete(current_key("reus"))
    await aredis.set(lock_key("reus"), "other-process", ex=60)
    service = ComplianceService(engine, aredis)
    assert service.registry_sync is not None
    assert await service.registry_sync.ensure_all() == {"reus": RELOADING}
    assert service.registry_sync.reloading == {"reus"}
    assert _gauge("reus") == "0.0"
    assert await _reasons(service, engine) == [("registry_unavailable",)] * 2
    await service.registry_sync.idle()
    await aredis.delete(lock_key("reus"))  # the other process is gone or done
    assert await service.registry_sync.ensure_all() == {"reus": RELOADED}
    assert service.registry_sync.reloading == set() and _gauge("reus") == "1.0"
    assert await _reasons(service, engine) == [(), ("registry_listed",)]


async def test_given_redis_server_killed_and_restarted_empty_then_registry_reloaded(
    engine: Engine, tmp_path: Path
) -> None:
    _accounts(engine)
    server = EmbeddedRedis(tmp_path / "r1", persist=False).start()
    _import(engine, server.url, tmp_path)
    client = aioredis.Redis.from_url(server.url, socket_timeout=5)
    service = ComplianceService(engine, client)
    assert service.registry_sync is not None
    try:
        assert await _reasons(service, engine) == [(), ("registry_listed",)]
        proc = server._proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # Redis down: blocked, or an error on which the dial loop pauses.
        with contextlib.suppress(redis.ConnectionError):
            assert all("registry_unavailable" in r for r in await _reasons(service, engine))
        server = EmbeddedRedis(tmp_path / "r2", port=server.port, persist=False).start()
        assert await client.dbsize() == 0
        assert await _reasons(service, engine) == [("registry_unavailable",)] * 2
        await service.registry_sync.idle()
        assert await _reasons(service, engine) == [(), ("registry_listed",)]
    finally:
        await client.aclose()
        server.stop()


def _cobrador(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["COBRADOR_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "cobrador.cli", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("redis_kept_its_data", [True, False])
def test_given_registry_imported_in_one_process_then_in_force_in_the_next(
    tmp_path: Path, redis_kept_its_data: bool
) -> None:
    (tmp_path / "reus.txt").write_text(f"{LISTED}\n")
    (tmp_path / "accounts.csv").write_text(
        "external_ref,debtor_name,country,region,balance,phone_1,phone_1_consent,phone_1_consent_ref\n"
        f"B,Ana,MX,MX-CMX,100.00,{LISTED},yes,form-1\n"
    )
    done = _cobrador(tmp_path, "import", "accounts", "accounts.csv")
    assert done.returncode == 0, done.stderr
    done = _cobrador(
        tmp_path, "registry", "import", "--name", "reus", "reus.txt", "--country", "MX"
    )
    assert done.returncode == 0, done.stderr
    if not redis_kept_its_data:  # a Redis without persistence, or a lost volume
        for name in ("embedded.aof", "embedded.rdb"):
            (tmp_path / "data" / "redis" / name).unlink(missing_ok=True)
    done = _cobrador(tmp_path, "registry", "status")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["in_force"] is True
    assert status["reload"] == (IN_FORCE if redis_kept_its_data else RELOADED)
    done = _cobrador(
        tmp_path, "check", "--account", "B", "--phone", LISTED, "--at", NOW.isoformat()
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["reasons"] == ["registry_listed"]
