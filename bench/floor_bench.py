"""The real floor, bigger: the scenario of tests/integration/asterisk/test_real_floor.py
(docs/real-floor.md) with more debtors and agents, printing Asterisk's and
cobrador's figures side by side.

    flock /work/.asterisk.lock .venv/bin/python bench/floor_bench.py \
        [--debtors 300] [--agents 10] [--dialers 3] \
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Needs root, the Asterisk chroot and sipp (scripts/ci-deps.d/20-asterisk). It
restarts the chroot Asterisk with asterisk-conf/ and the tier's conf (CDR and
CEL on), runs a redis-server of its own, and uses a fresh database: a new one
on the PostgreSQL server of --database-url (dropped afterwards), else SQLite in
a temporary directory. Two thirds of the debtors are dialable (Colombia is
closed at the shift's time). Exits 1 if a check of the tier fails.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration" / "asterisk"))

from asterisk_harness import ChrootAsterisk, connect_ami  # noqa: E402
from real_floor import (  # noqa: E402
    RealFloor,
    carrier_audio,
    file_size,
    reconcile,
    record_files,
    sipp_carrier,
    stuck_agents,
)

from cobrador.ground.redis_runtime import redis_server_binary  # noqa: E402
from cobrador.ground.settings import normalise_database_url  # noqa: E402
from store.db import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bench(args: argparse.Namespace, database_url: str, redis_url: str, tmp: Path) -> int:
    pbx = ChrootAsterisk()
    pbx.run("restart")
    engine = make_engine(database_url)
    upgrade(engine)
    control = await connect_ami(reconnect_backoff=(0.2, 1.0))
    await control.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_OUTBOUND_ROUTE", "Value": "trunk"}
    )
    try:
        audio = carrier_audio(pbx, tmp / "audio")
        cdr_path, cel_path = record_files(pbx)
        since = (file_size(cel_path), file_size(cdr_path))
        floor = await RealFloor.open(control, engine, redis_url, tmp, cel_path,
                                     size=args.debtors, agents=args.agents)  # fmt: skip
        try:
            async with sipp_carrier(audio, tmp):
                await floor.run(dialers=args.dialers, within=args.within)
        finally:
            await floor.close()
        stuck = await stuck_agents(floor)
        report = reconcile(floor, cel_path, cdr_path, since)
    finally:
        await control.close()
        engine.dispose()
        pbx.run("stop")
    print(f"real floor: {args.debtors} debtors, {args.agents} agents, {args.dialers} dialers")
    print(report.table(floor.finished - floor.started, [d.placed for d in floor.dialers]))
    problems = {
        "trunk calls without an allowed decision": report.trunk_without_allowed_decision,
        "attempts without a trunk call": report.attempts_without_trunk_call,
        "calls outside the debtor's window": report.outside_window,
        "lost results": report.lost_results,
        "CDR/CEL disagreements": report.cdr_disagreements,
        "agents stuck": stuck,
    }
    bad = {k: v for k, v in problems.items() if v}
    if not report.audit_intact:
        bad["audit chain"] = ["broken"]
    if report.asterisk.rate > 0.03 or report.cobrador.rate > 0.03:
        bad["abandonment"] = [f"{report.asterisk.rate:.1%} / {report.cobrador.rate:.1%}"]
    for what, items in bad.items():
        print(f"FAILED {what}: {items[:10]}")
    print("checks: " + ("FAILED" if bad else "all passed"))
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debtors", type=int, default=300)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--dialers", type=int, default=3)
    parser.add_argument("--within", type=float, default=900.0, help="seconds before giving up")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server; default SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="real-floor-") as tmp_dir:
        tmp = Path(tmp_dir)
        port = free_port()
        redis_proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp_dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        admin = None
        name = f"real_floor_{uuid.uuid4().hex[:8]}"
        if args.database_url:
            url = normalise_database_url(args.database_url)
            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            database_url = f"{url.rpartition('/')[0]}/{name}"
        else:
            database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        try:
            time.sleep(0.3)
            return asyncio.run(bench(args, database_url, f"redis://127.0.0.1:{port}/0", tmp))
        finally:
            redis_proc.terminate()
            redis_proc.wait()
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
