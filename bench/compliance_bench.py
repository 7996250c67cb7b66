"""Compliance benchmark: a 10 M-number registry and full decisions per second.

    .venv/bin/python bench/compliance_bench.py [--numbers 10000000] [--redis redis://127.0.0.1:6379/14]

Measures (1) `registry import` of a generated file (parse, validate, pack,
load beside, swap, record), (2) the Redis memory that registry uses, and
(3) decisions/s through ComplianceService.evaluate_batch with every rule on
(MX profile: status, number, consent, REUS lookup, hours in the debtor's
zone, holidays, caps from Redis), batched as the dialer batches hopper
refills. Cleans its keys from Redis afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compliance.caps import account_keys  # noqa: E402
from compliance.engine import AccountFacts, PhoneFacts  # noqa: E402
from compliance.profile import RegistryRule, load_profiles  # noqa: E402
from compliance.registry import RegistryWriter  # noqa: E402
from compliance.registry_import import import_registry  # noqa: E402
from compliance.service import ComplianceService, Item  # noqa: E402
from compliance.timezones import number_info, resolve_zones  # noqa: E402
from store.db import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Account, Campaign  # noqa: E402

PREFIXES = ("55", "33", "81")  # CDMX, Guadalajara, Monterrey: valid MX numbering
NAME = "benchreus"


def number_for(i: int) -> str:
    return f"+52{PREFIXES[i // 100_000_000]}{i % 100_000_000:08d}"


def write_registry(path: Path, count: int, rng: random.Random) -> list[int]:
    picks = rng.sample(range(300_000_000), count)
    with path.open("w") as fh:
        for start in range(0, count, 100_000):
            fh.write("".join(number_for(i) + "\n" for i in picks[start : start + 100_000]))
    return picks


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def cleanup(client: redis.Redis, account_ids: range) -> None:
    RegistryWriter(client, NAME).delete_except(None)
    client.delete(f"cobrador:reg:{{{NAME}}}:current")
    pipe = client.pipeline(transaction=False)
    for account_id in account_ids:
        pipe.delete(*account_keys(account_id))
    pipe.execute()


async def decisions_per_second(
    sql_engine: object, url: str, items: list[Item], batch: int, now: datetime
) -> float:
    client = aioredis.Redis.from_url(url)
    service = ComplianceService(sql_engine, client)  # type: ignore[arg-type]
    # Warm-up: load scripts and rebuild the (empty) counters of every account.
    for start in range(0, len(items), batch):
        await service.evaluate_batch(items[start : start + batch], now)
    began = time.perf_counter()
    allowed = 0
    for start in range(0, len(items), batch):
        decisions = await service.evaluate_batch(items[start : start + batch], now)
        allowed += sum(d.allowed for d in decisions)
    elapsed = time.perf_counter() - began
    await client.aclose()
    print(f"  {len(items)} decisions, {allowed} allowed, {elapsed:.2f} s", file=sys.stderr)
    return len(items) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=10_000_000)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    client = redis.Redis.from_url(args.redis)
    accounts = range(1, args.decisions + 1)
    results: dict[str, object] = {"numbers": args.numbers, "decisions": args.decisions}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        sql_engine = make_engine(f"sqlite:///{tmpdir / 'bench.sqlite3'}")
        upgrade(sql_engine)
        path = tmpdir / "reus.txt"
        t0 = time.perf_counter()
        picks = write_registry(path, args.numbers, rng)
        print(
            f"generated {args.numbers} numbers in {time.perf_counter() - t0:.1f} s", file=sys.stderr
        )
        try:
            cleanup(client, accounts)
            before = used_memory(client)
            t0 = time.perf_counter()
            report = import_registry(sql_engine, client, name=NAME, path=path, country="MX")
            import_s = time.perf_counter() - t0
            registry_bytes = used_memory(client) - before
            results.update(
                import_seconds=round(import_s, 1),
                imported=report.count,
                registry_memory_mb=round(registry_bytes / 1e6, 1),
                bytes_per_number=round(registry_bytes / report.count, 2),
            )
            print(f"import: {import_s:.1f} s, {registry_bytes / 1e6:.1f} MB", file=sys.stderr)

            # Half the requests dial listed numbers, half numbers not on the list.
            profile = replace(load_profiles()["MX"], registries=(RegistryRule(NAME, 31),))
            listed = set(rng.sample(picks, args.decisions // 2))
            unlisted = [
                i for i in rng.sample(range(300_000_000), args.decisions) if i not in listed
            ]
            numbers = [number_for(i) for i in listed] + [
                number_for(i) for i in unlisted[: args.decisions - len(listed)]
            ]
            rng.shuffle(numbers)
            items = [
                Item(
                    account=AccountFacts(
                        id=account_id,
                        status="active",
                        stage="friendly",
                        balance=Decimal("1500"),
                        country="MX",
                        region=None,
                        timezone=None,
                    ),
                    phone=PhoneFacts(e164=number, consent=True, consent_ref="form"),
                    profile=profile,
                    campaign_id=1,
                )  # fmt: skip
                for account_id, number in zip(accounts, numbers, strict=True)
            ]
            now = datetime.now(UTC).replace(hour=18, minute=0) + timedelta(days=1)
            while now.weekday() != 1:
                now += timedelta(days=1)  # a Tuesday noon in Mexico City, not a holiday
            number_info.cache_clear()
            resolve_zones.cache_clear()
            warm = asyncio.run(decisions_per_second(sql_engine, args.redis, items, args.batch, now))
            results["decisions_per_second_warm"] = round(warm)
            number_info.cache_clear()
            resolve_zones.cache_clear()
            results["decisions_per_second_cold_numbers"] = round(
                _cold_rate(sql_engine, args.redis, items, args.batch, now)
            )
            results["persisted_decisions_per_second_sqlite"] = round(
                _persist_rate(sql_engine, args.redis, items[:10_000], args.batch, now)
            )
        finally:
            cleanup(client, accounts)
            client.close()
    print(json.dumps(results, indent=2))
    return 0


def _persist_rate(sql_engine: Any, url: str, items: list[Item], batch: int, now: datetime) -> float:
    """Decisions/s including their SQL rows and audit entries (one transaction per batch)."""
    with sql_engine.begin() as conn:
        conn.execute(
            insert(Campaign), [{"id": 1, "name": "bench", "country": "MX", "profile": "MX"}]
        )
        conn.execute(
            insert(Account),
            [
                {"id": item.account.id, "external_ref": f"B{item.account.id}",
                 "debtor_name": "x", "country": "MX", "currency": "MXN"}
                for item in items
            ],
        )  # fmt: skip

    async def run() -> float:
        client = aioredis.Redis.from_url(url)
        service = ComplianceService(sql_engine, client)
        began = time.perf_counter()
        for start in range(0, len(items), batch):
            await service.evaluate_and_record(items[start : start + batch], now, stage="hopper")
        elapsed = time.perf_counter() - began
        await client.aclose()
        return len(items) / elapsed

    return asyncio.run(run())


def _cold_rate(sql_engine: object, url: str, items: list[Item], batch: int, now: datetime) -> float:
    """Decisions/s when every number is seen for the first time (phonenumbers parse included)."""

    async def run() -> float:
        client = aioredis.Redis.from_url(url)
        service = ComplianceService(sql_engine, client)  # type: ignore[arg-type]
        began = time.perf_counter()
        for start in range(0, len(items), batch):
            await service.evaluate_batch(items[start : start + batch], now)
        elapsed = time.perf_counter() - began
        await client.aclose()
        return len(items) / elapsed

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
