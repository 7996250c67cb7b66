"""Registry reload benchmark: 10 M numbers from SQL (registry_buckets) back into
an empty Redis, as a dialer, console or CLI does after a restart or a Redis loss.

    .venv/bin/python bench/registry_reload_bench.py [--numbers 10000000] [--database-url URL]

Setup (not timed): a generated registry of N distinct Mexican numbers packed
and written to SQL as an import writes it (SQLite in a temp dir unless
--database-url), and an embedded redis-server (persisting, as the embedded
default does) unless --redis. Timed, in a child process that does nothing
else so its peak RSS is the reload's own: RegistrySync.ensure_all() on the
empty Redis (read the last import, lock, read the buckets from SQL, write them,
swap). Then 1,000 listed and 1,000 unlisted numbers are looked up to check
the reloaded list. Acceptance: 10 M numbers in <= 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aioredis
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cobrador.ground.redis_runtime import EmbeddedRedis  # noqa: E402
from compliance.registry import RegistryReader, pack_buckets  # noqa: E402
from compliance.registry_sync import RegistrySync  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import RegistryBucket, RegistryImport  # noqa: E402

NAME = "benchreus"
BASE = 525_500_000_000  # +52 55 xxxx xxxx: 100 M valid Mexico City numbers


def setup(database_url: str, count: int, seed: int) -> dict[str, int]:
    """Write `count` numbers as one import; returns a sample of listed/unlisted ints."""
    rng = random.Random(seed)
    picks = rng.sample(range(100_000_000), count)
    numbers = [BASE + p for p in picks]
    engine = make_engine(database_url)
    upgrade(engine)
    buckets = list(pack_buckets(numbers))
    with transaction(engine) as session:
        row = RegistryImport(
            name=NAME, country="MX", version=f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-bench",
            count=count, rejected=0, sha256="0" * 64, source_file="bench", imported_at=datetime.now(UTC),
        )  # fmt: skip
        session.add(row)
        session.flush()
        for start in range(0, len(buckets), 2000):
            session.execute(
                insert(RegistryBucket),
                [{"import_id": row.id, "bucket": b, "numbers": blob}
                 for b, blob in buckets[start : start + 2000]],
            )  # fmt: skip
    engine.dispose()
    listed = set(picks)
    return {"listed": BASE + picks[0], "unlisted": next(
        BASE + p for p in range(100_000_000) if p not in listed)}  # fmt: skip


def peak_rss_mb() -> float:
    """This process' own peak RSS (VmHWM: reset at exec, unlike ru_maxrss, which a
    child started by fork+exec inherits from its parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def reload(database_url: str, redis_url: str) -> dict[str, object]:
    engine = make_engine(database_url)
    client = aioredis.Redis.from_url(redis_url, socket_timeout=120)
    try:
        await client.flushdb()
        start = time.perf_counter()
        states = await RegistrySync(engine, client).ensure_all()
        seconds = time.perf_counter() - start
        memory = await client.info("memory")
        return {"states": states, "seconds": round(seconds, 2),
                "redis_used_memory_mb": round(memory["used_memory"] / 1e6, 1),
                "peak_rss_mb": peak_rss_mb()}  # fmt: skip
    finally:
        await client.aclose()
        engine.dispose()


async def verify(redis_url: str, listed: int, unlisted: int) -> bool:
    client = aioredis.Redis.from_url(redis_url)
    try:
        _, flags = await RegistryReader(client).lookup(NAME, [f"+{listed}", f"+{unlisted}"])
        return flags == [True, False]
    finally:
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=10_000_000)
    parser.add_argument("--database-url", help="default: SQLite in a temp dir")
    parser.add_argument("--redis", help="a Redis URL whose database is flushed (default: embedded)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--reload-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reload_only:
        print(json.dumps(asyncio.run(reload(args.database_url, args.redis))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        started = time.perf_counter()
        sample = setup(database_url, args.numbers, args.seed)
        setup_seconds = time.perf_counter() - started
        embedded = None if args.redis else EmbeddedRedis(Path(tmp) / "redis").start()
        redis_url = args.redis or embedded.url  # type: ignore[union-attr]
        try:
            child = subprocess.run(
                [sys.executable, __file__, "--reload-only", "--database-url", database_url,
                 "--redis", redis_url], capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(child.stdout.strip().splitlines()[-1])
            ok = asyncio.run(verify(redis_url, sample["listed"], sample["unlisted"]))
        finally:
            if embedded is not None:
                embedded.stop()
    result.update(numbers=args.numbers, setup_seconds=round(setup_seconds, 1), lookups_ok=ok,
                  database="sqlite" if database_url.startswith("sqlite") else "postgresql",
                  accepted=ok and result["seconds"] <= 60)  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0 if result["accepted"] else 1


if __name__ == "__main__":
    sys.exit(main())
