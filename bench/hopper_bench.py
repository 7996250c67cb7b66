"""Hopper benchmark: refill tick time, claims/s and hopper memory on a large portfolio.

    .venv/bin/python bench/hopper_bench.py [--accounts 5000000] [--ticks 60] [--batch 200]
        [--database-url postgresql://postgres@127.0.0.1:5432/cobrador_hopper_bench]
        [--redis redis://127.0.0.1:6379/13] [--reload]

Builds (once; reused while the row count matches, `--reload` forces it) one MX
campaign of N accounts spread over 30 IANA time zones, one phone each with
consent, a third never dialed (next_attempt_at NULL) and the rest due at times
spread over +-3 days, plus one past attempt for every fifth account; rows go
in with PostgreSQL COPY. A small REUS registry lists 1% of the numbers.

Then measures, at a fixed Wednesday 14:00 UTC (some zones inside the MX
window, some not), with the clock advancing one second per tick:
1. refill tick time at steady state: `Refiller.refill(now, batch)` while a
   consumer drains the hopper (every entry claimed and released), after a
   warm-up; p50/p95/max wall time and p50 CPU time over `--ticks` ticks, for
   batches of 50, 100 and 200 accounts (the dialer's refill_batch is 100);
2. claims/s: `Hopper.claim` of one entry per call (one dialer), and with
   three dialers claiming concurrently, then 10 per call;
3. Redis memory of the hopper per entry (MEMORY USAGE of its keys).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compliance.registry_import import import_registry  # noqa: E402
from compliance.service import ComplianceService  # noqa: E402
from dialer.hopper import Hopper, HopperEntry  # noqa: E402
from dialer.refill import Refiller  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Account, Campaign  # noqa: E402

CAMPAIGN = "bench-30tz"
ZONES = (
    "America/Mexico_City", "America/Cancun", "America/Hermosillo", "America/Mazatlan",
    "America/Tijuana", "America/Ciudad_Juarez", "America/Chihuahua", "America/Monterrey",
    "America/Merida", "America/Matamoros", "America/Bahia_Banderas", "America/Ojinaga",
    "America/Bogota", "America/Lima", "America/Guatemala", "America/El_Salvador",
    "America/Costa_Rica", "America/Panama", "America/Caracas", "America/Santiago",
    "America/Argentina/Buenos_Aires", "America/Sao_Paulo", "America/La_Paz",
    "America/Asuncion", "America/Montevideo", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "Pacific/Honolulu",
)  # fmt: skip
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # a Wednesday, no MX holiday
LISTED_EVERY = 100


def number_for(i: int) -> str:
    return f"+5255{i:08d}"


def ensure_database(url: str, fresh: bool) -> None:
    """Create the database; `fresh` drops it first (so the schema is today's migration)."""
    base, _, name = url.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.scalar() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def copy_rows(engine: Any, table: str, columns: list[str], lines: Any) -> None:
    """COPY text-format lines (already tab-separated) in chunks of ~8 MB."""
    with engine.begin() as conn:
        driver = conn.connection.driver_connection
        with (
            driver.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp,
        ):
            buf = io.StringIO()
            for line in lines:
                buf.write(line)
                if buf.tell() > 8_000_000:
                    cp.write(buf.getvalue())
                    buf = io.StringIO()
            cp.write(buf.getvalue())


def load_portfolio(engine: Any, accounts: int, rng: random.Random) -> int:
    with transaction(engine) as s:
        s.execute(text("TRUNCATE call_attempts, decisions, audit_entries, phones, accounts, "
                       "campaigns RESTART IDENTITY CASCADE"))  # fmt: skip
        campaign = Campaign(name=CAMPAIGN, country="MX", profile="MX", dial_mode="predictive",
                            status="running", caller_ids=["5215550001000"], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        campaign_id = int(campaign.id)
    stamp = "2026-11-01 00:00:00+00"
    base = NOW.timestamp()

    def account_lines() -> Any:
        for i in range(1, accounts + 1):
            r = rng.random()
            if r < 1 / 3:
                due = r"\N"
            else:
                at = datetime.fromtimestamp(base + rng.uniform(-3, 3) * 86400, UTC)
                due = at.strftime("%Y-%m-%d %H:%M:%S+00")
            status = "active" if rng.random() < 0.95 else "paid"
            yield (f"{i}\tB{i:09d}\tDeudor {i}\tMX\t{ZONES[i % len(ZONES)]}\t"
                   f"{rng.randint(100, 90000)}.00\tMXN\t2026-{1 + i % 10:02d}-15\t{status}\t"
                   f"{('friendly', 'firm', 'pre_legal')[i % 3]}\tf\t{campaign_id}\t{{}}\t{due}\t"
                   f"{stamp}\t{stamp}\n")  # fmt: skip

    t0 = time.perf_counter()
    copy_rows(engine, "accounts", ["id", "external_ref", "debtor_name", "country", "timezone",
              "balance", "currency", "due_date", "status", "stage", "stage_explicit",
              "campaign_id", "custom_fields", "next_attempt_at", "created_at", "updated_at"],
              account_lines())  # fmt: skip
    print(f"  accounts: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    t0 = time.perf_counter()
    copy_rows(engine, "phones", ["id", "account_id", "position", "number_e164", "phone_type",
              "consent", "consent_ref", "status", "updated_at"],
              (f"{i}\t{i}\t1\t{number_for(i)}\tmobile\tt\tEV-{i}\tactive\t{stamp}\n"
               for i in range(1, accounts + 1)))  # fmt: skip
    print(f"  phones: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    t0 = time.perf_counter()
    copy_rows(engine, "call_attempts", ["account_id", "phone_e164", "campaign_id", "direction",
              "source", "started_at", "ended_at", "result", "right_party_contact"],
              (f"{i}\t{number_for(i)}\t{campaign_id}\toutbound\tdialer\t2026-11-20 15:00:00+00\t"
               f"2026-11-20 15:00:30+00\tno_answer\tf\n" for i in range(1, accounts + 1, 5)))  # fmt: skip
    print(f"  attempts: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    with engine.begin() as conn:
        for table in ("accounts", "phones", "call_attempts"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE accounts, phones, call_attempts"))
    return campaign_id


def reset_state(engine: Any) -> None:
    """Undo a previous run's refills: decisions and the sleeps they set."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE decisions, audit_entries RESTART IDENTITY CASCADE"))
        # Refills touched these (updated_at is the wall clock): due again, never dialed.
        conn.execute(text("UPDATE accounts SET next_attempt_at = NULL WHERE updated_at > :t"),
                     {"t": datetime(2026, 11, 2, tzinfo=UTC)})  # fmt: skip


async def refill_ticks(engine: Any, url: str, campaign: Campaign, ticks: int, batch: int,
                       warmup: int) -> dict[str, Any]:  # fmt: skip
    client = aioredis.Redis.from_url(url)
    hopper = Hopper(client, CAMPAIGN)
    refiller = Refiller(engine, client, hopper, ComplianceService(engine, client), campaign)
    times: list[float] = []
    cpu: list[float] = []
    considered = added = 0
    blocked: dict[str, int] = {}
    now = NOW
    for tick in range(warmup + ticks):
        began, began_cpu = time.perf_counter(), time.process_time()
        report = await refiller.refill(now, batch)
        elapsed, used = time.perf_counter() - began, time.process_time() - began_cpu
        # The dialers drain what came in: claimed, dialed, released.
        while True:
            claims, _ = await hopper.claim(100, "bench", now.timestamp(), 60)
            if not claims:
                break
            for c in claims:
                await hopper.release("bench", c.account_id, None)
        if tick >= warmup:
            times.append(elapsed)
            cpu.append(used)
            considered += report.considered
            added += report.added
            for reason, n in report.blocked.items():
                blocked[reason] = blocked.get(reason, 0) + n
        now += timedelta(seconds=1)
    await client.aclose()
    times.sort()
    return {
        "batch": batch, "ticks": ticks,
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 1),
        "max_ms": round(times[-1] * 1000, 1),
        # This process' CPU (the dialer's share; PostgreSQL's and Redis' are apart):
        # less sensitive than wall time to the other jobs on a shared machine.
        "cpu_p50_ms": round(statistics.median(cpu) * 1000, 1),
        "considered_per_tick": round(considered / ticks, 1),
        "added_per_tick": round(added / ticks, 1),
        "blocked": blocked,
    }  # fmt: skip


async def claims_per_second(url: str, entries: int, dialers: int, per_claim: int) -> float:
    client = aioredis.Redis.from_url(url)
    hopper = Hopper(client, "bench-claims")
    await client.delete(hopper.ready_key, hopper.delayed_key, hopper.leases_key,
                        hopper.owners_key, hopper.meta_key)  # fmt: skip
    now = NOW.timestamp()
    payload = {"phone": "+525512345678", "reason": "fresh"}
    await hopper.add([HopperEntry(i, i % 50, now, payload) for i in range(1, entries + 1)], now)

    async def dialer(owner: str) -> int:
        own = aioredis.Redis.from_url(url)
        mine = Hopper(own, "bench-claims")
        got = 0
        while True:
            claims, _ = await mine.claim(per_claim, owner, now, 120)
            if not claims:
                break
            got += len(claims)
        await own.aclose()
        return got

    began = time.perf_counter()
    counts = await asyncio.gather(*(dialer(f"d{i}") for i in range(dialers)))
    elapsed = time.perf_counter() - began
    assert sum(counts) == entries, counts
    await client.delete(hopper.ready_key, hopper.delayed_key, hopper.leases_key,
                        hopper.owners_key, hopper.meta_key)  # fmt: skip
    await client.aclose()
    return entries / elapsed


async def hopper_memory(url: str, entries: int) -> dict[str, Any]:
    client = aioredis.Redis.from_url(url)
    hopper = Hopper(client, "bench-memory")
    keys = [hopper.ready_key, hopper.delayed_key, hopper.leases_key, hopper.owners_key,
            hopper.meta_key]  # fmt: skip
    await client.delete(*keys)
    now = NOW.timestamp()
    entries_list = [
        HopperEntry(10_000_000 + i, i % 50, now + (0 if i % 4 else 600),
                    {"phone": number_for(10_000_000 + i), "reason": "fresh"})
        for i in range(entries)
    ]  # fmt: skip
    await hopper.add(entries_list, now)
    await hopper.claim(entries // 10, "bench", now, 120)  # some under lease, as in production
    used = 0
    for key in keys:
        used += int(await client.memory_usage(key, samples=0) or 0)
    sizes = await hopper.sizes()
    await client.delete(*keys)
    await client.aclose()
    return {"entries": entries, **sizes, "bytes": used, "bytes_per_entry": round(used / entries, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5_000_000)
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, action="append",
                        help="accounts per refill tick (repeatable; default 50, 100, 200)")  # fmt: skip
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--database-url",
                        default="postgresql://postgres@127.0.0.1:5432/cobrador_hopper_bench")  # fmt: skip
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument(
        "--reload", action="store_true", help="drop the database, rebuild the portfolio"
    )
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ensure_database(args.database_url, args.reload)
    engine = make_engine(args.database_url)
    upgrade(engine)
    sync = redis.Redis.from_url(args.redis)
    sync.flushdb()
    with engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(Account)).scalar_one()
    if args.reload or have != args.accounts:
        print(f"loading {args.accounts} accounts with COPY...", file=sys.stderr)
        t0 = time.perf_counter()
        load_portfolio(engine, args.accounts, rng)
        print(f"loaded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    else:
        reset_state(engine)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reus.txt"
        path.write_text("".join(number_for(i) + "\n"
                                for i in range(1, args.accounts + 1, LISTED_EVERY)))  # fmt: skip
        import_registry(engine, sync, name="reus", path=path, country="MX", now=NOW)
    with transaction(engine) as s:
        campaign = s.execute(select(Campaign).where(Campaign.name == CAMPAIGN)).scalar_one()
        s.expunge(campaign)
    results: dict[str, Any] = {"accounts": args.accounts, "zones": len(ZONES)}
    results["refill"] = []
    for batch in args.batch or [50, 100, 200]:
        tick = asyncio.run(
            refill_ticks(engine, args.redis, campaign, args.ticks, batch, args.warmup)
        )
        results["refill"].append(tick)
        print(f"refill: {tick}", file=sys.stderr)
    for dialers, per_claim in ((1, 1), (3, 1), (3, 10)):
        rate = asyncio.run(claims_per_second(args.redis, args.claims, dialers, per_claim))
        results[f"claims_per_s_{dialers}x{per_claim}"] = round(rate)
        print(f"claims/s ({dialers} dialers, {per_claim} per call): {rate:.0f}", file=sys.stderr)
    results["hopper_memory"] = asyncio.run(hopper_memory(args.redis, 100_000))
    sync.flushdb()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
