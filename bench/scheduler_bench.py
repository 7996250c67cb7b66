"""Outreach scheduler benchmark: strategy messages decided and submitted per second over
a large portfolio, the final check included.

    .venv/bin/python bench/scheduler_bench.py [--accounts 1000000] [--batch 500]
        [--database-url postgresql://postgres@127.0.0.1:5432/strategy_scheduler_bench]
        [--reload] [--max-seconds 0]

Builds (once; reused while the row count matches, `--reload` forces it) one running MX
campaign whose strategy sends an SMS on day 0 of `friendly`, with N active accounts in
four Mexican zones, one consented mobile each; rows go in with PostgreSQL COPY. A REUS
registry lists 1% of the numbers. Redis is an embedded redis-server of its own.

Then runs the scheduler (`Scheduler.run_once`) at a fixed Wednesday 17:00 UTC (inside
the MX window in every zone) until every account is planned, with the real final check
(`EngineCheck` over `ComplianceService`: registries and caps in Redis, the rules
engine) and an in-process sender that accepts every message at once (the gateway is
not measured here). Reports messages decided/s (decision + audit entry written) and
submitted/s (handed to the sender and its answer written), wall and CPU time.
`--max-seconds` stops after that long (the rate is over what was done).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cobrador.ground.redis_runtime import EmbeddedRedis  # noqa: E402
from compliance.registry_import import import_registry  # noqa: E402
from compliance.service import ComplianceService  # noqa: E402
from outreach.checks import ConsentedAddresses, EngineCheck  # noqa: E402
from outreach.outgoing import OutgoingMessage  # noqa: E402
from outreach.scheduler import Report, Scheduler  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Account, Campaign  # noqa: E402

CAMPAIGN = "bench-strategy"
ZONES = ("America/Mexico_City", "America/Monterrey", "America/Merida", "America/Cancun")
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Mexico City
LISTED_EVERY = 100
CONFIG = {
    "messages": {"sender": "Despacho Bench", "portal_url": "https://pagos.example.mx/p"},
    "strategy": {"stages": {"friendly": {"steps": [
        {"day": 0, "channel": "sms", "template": "recordatorio"},
        {"day": 3, "channel": "email", "template": "recordatorio"},
    ]}}},
}  # fmt: skip


def number_for(i: int) -> str:
    return f"+5255{i:08d}"


def ensure_database(url: str, fresh: bool) -> None:
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


def load_portfolio(engine: Any, accounts: int) -> None:
    with transaction(engine) as s:
        s.execute(text("TRUNCATE outreach_steps, outreach_cursors, call_attempts, decisions, "
                       "audit_entries, phones, accounts, campaigns RESTART IDENTITY CASCADE"))  # fmt: skip
        campaign = Campaign(name=CAMPAIGN, country="MX", profile="MX", status="running",
                            caller_ids=["5215550001000"], config=CONFIG)  # fmt: skip
        s.add(campaign)
        s.flush()
        campaign_id = int(campaign.id)
    stamp = "2026-11-24 12:00:00+00"
    copy_rows(engine, "accounts", ["id", "external_ref", "debtor_name", "country", "timezone",
              "balance", "currency", "due_date", "status", "stage", "stage_explicit",
              "campaign_id", "custom_fields", "created_at", "updated_at"],
              (f"{i}\tS{i:09d}\tDeudora Número {i}\tMX\t{ZONES[i % len(ZONES)]}\t"
               f"{100 + i % 9000}.00\tMXN\t2026-11-20\tactive\tfriendly\tf\t{campaign_id}\t{{}}\t"
               f"{stamp}\t{stamp}\n" for i in range(1, accounts + 1)))  # fmt: skip
    copy_rows(engine, "phones", ["id", "account_id", "position", "number_e164", "phone_type",
              "consent", "consent_ref", "status", "channels", "updated_at"],
              (f"{i}\t{i}\t1\t{number_for(i)}\tmobile\tt\tEV-{i}\tactive\tcall,sms\t{stamp}\n"
               for i in range(1, accounts + 1)))  # fmt: skip
    with engine.begin() as conn:
        for table in ("accounts", "phones"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE accounts, phones"))


def reset_state(engine: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE outreach_steps, outreach_cursors, call_attempts, decisions, "
                          "audit_entries RESTART IDENTITY CASCADE"))  # fmt: skip
        conn.execute(text("UPDATE accounts SET next_step_at = NULL, stage = 'friendly'"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE accounts"))


class Accepts:
    """A sender that takes every message at once: the scheduler, not a gateway, is measured."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.count = 0

    async def send(self, message: OutgoingMessage) -> str | None:
        self.count += 1
        return f"{self.kind}-{self.count}"


async def run(engine: Any, redis_url: str, batch: int, max_seconds: float) -> dict[str, Any]:
    client = aioredis.Redis.from_url(redis_url)
    compliance = ComplianceService(engine, client)
    sender = Accepts("sms")
    scheduler = Scheduler(engine, EngineCheck(engine, compliance), {"sms": sender},
                          ConsentedAddresses(), link_secret=b"b" * 32, batch_size=batch)  # fmt: skip
    total = Report()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    passes = 0
    while True:
        report = await scheduler.run_once(NOW, max_accounts=batch * 20)
        passes += 1
        total.accounts += report.accounts
        total.decided += report.decided
        total.submitted += report.submitted
        for k, v in report.outcomes.items():
            total.outcomes[k] = total.outcomes.get(k, 0) + v
        elapsed = time.perf_counter() - t0
        print(f"  pass {passes}: {total.accounts} accounts, {total.decided} decided, "
              f"{total.submitted} submitted, {elapsed:.0f} s", file=sys.stderr)  # fmt: skip
        if report.accounts == 0 or (max_seconds and elapsed >= max_seconds):
            break
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    await client.aclose()
    return {
        "batch": batch, "accounts_planned": total.accounts, "decided": total.decided,
        "submitted": total.submitted, "outcomes": total.outcomes, "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1), "decided_per_s": round(total.decided / wall),
        "submitted_per_s": round(total.submitted / wall),
        "decided_per_cpu_s": round(total.decided / cpu) if cpu else None,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--max-seconds", type=float, default=0.0)
    parser.add_argument("--database-url",
                        default="postgresql://postgres@127.0.0.1:5432/strategy_scheduler_bench")  # fmt: skip
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()
    ensure_database(args.database_url, args.reload)
    engine = make_engine(args.database_url)
    upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(Account)).scalar_one()
    if args.reload or have != args.accounts:
        print(f"loading {args.accounts} accounts with COPY...", file=sys.stderr)
        t0 = time.perf_counter()
        load_portfolio(engine, args.accounts)
        print(f"loaded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    else:
        reset_state(engine)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "redis").start()
        try:
            sync = redis.Redis.from_url(server.url)
            path = Path(tmp) / "reus.txt"
            path.write_text("".join(number_for(i) + "\n"
                                    for i in range(1, args.accounts + 1, LISTED_EVERY)))  # fmt: skip
            import_registry(engine, sync, name="reus", path=path, country="MX", now=NOW)
            result = asyncio.run(run(engine, server.url, args.batch, args.max_seconds))
        finally:
            server.stop()
    result["accounts"] = args.accounts
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
