"""Recordings benchmark: the dialer's cost of closing and hashing recordings.

    .venv/bin/python bench/recordings_bench.py [--calls 200] [--talk 60] [--speed 10]
        [--database-url postgresql://postgres@127.0.0.1:5432/cobrador_rec_bench]

pbxsim runs in its own process (`python -m pbxsim`, so its wav writing is not
on our event loop) with every call answered by a person after 1 s and talking
`--talk` simulated seconds (uniform +-10 %), recordings uncapped. This process
is the dialer's recording side: our FastAGI `answer` handler runs the dialer's
Recorder (MixMonitor by AGI EXEC, the ledger entry in Redis), every call's
Hangup hands the recording to `Recorder.close`, which finalizes it through
store.recordings.finalize (hash, wav duration, row, audit entry) in a thread.
All `--calls` are originated at once, so they are recorded concurrently.

Reports, per call:
- event-loop time of `Recorder.close` (what the dial loop pays at hangup);
- finalize time in the worker thread: hashing, the wav header, the row and
  audit entry (`cobrador_recording_close_seconds`), without the settle wait;
- the hashing part alone (size, SHA-256, wav header), measured afterwards;
- hangup to row written (settle wait included: the file must stop growing);
and the disk bytes per recorded minute (file sizes over wav durations).
SQLite in a temporary directory unless --database-url; an embedded redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cobrador.ground.redis_runtime import EmbeddedRedis
from dialer import channel_vars as cv
from dialer.ami import AMIClient
from dialer.fastagi import AGISession, FastAGIServer
from dialer.recording import Recorder, SqlLedger
from store.db import make_engine
from store.migrate import upgrade
from store.models import Account, CallAttempt, Campaign, Recording
from store.recordings.finalize import finalize_recording
from store.recordings.inspect import inspect_file
from store.recordings.storage import DirectoryStorage


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def seed(engine: Engine, calls: int) -> list[int]:
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        campaign = Campaign(name="rec-bench", country="MX", profile="MX", dial_mode="progressive",
                            status="running", caller_ids=[], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        account = Account(external_ref="B1", debtor_name="Deudor", country="MX", region="MX-CMX",
                          balance=Decimal("1"), currency="MXN", status="active", stage="firm",
                          campaign_id=campaign.id)  # fmt: skip
        s.add(account)
        s.flush()
        rows = [CallAttempt(account_id=account.id, campaign_id=campaign.id, started_at=now,
                            phone_e164=f"+52551000{i:04d}") for i in range(calls)]  # fmt: skip
        s.add_all(rows)
        s.flush()
        return [int(r.id) for r in rows]


async def start_pbxsim(workdir: Path, agi_port: int, args: argparse.Namespace) -> tuple[Any, int]:
    low, high = args.talk * 0.9, args.talk * 1.1
    scenario = {"seed": 1, "p_human": 1.0, "p_machine": 0, "p_busy": 0, "p_congestion": 0,
                "p_unallocated": 0, "ring_seconds": 1.0, "agent_answer_seconds": 0.1,
                "talk_seconds": {"dist": "uniform", "min": low, "max": high}}  # fmt: skip
    path = workdir / "scenario.json"
    path.write_text(json.dumps(scenario))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pbxsim", "--scenario", str(path), "--ami-port", "0",
        "--agi-port", str(agi_port), "--speed", str(args.speed), "--secret", "bench",
        "--recording-cap", "86400", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    banner = (await process.stdout.readline()).decode()
    match = re.search(r"AMI on 127\.0\.0\.1:(\d+)", banner)
    if not match:
        raise RuntimeError(f"pbxsim did not start: {banner!r}")
    return process, int(match.group(1))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="cobrador-rec-bench-"))
    engine = make_engine(args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}")
    upgrade(engine)
    attempt_ids = seed(engine, args.calls)
    embedded = EmbeddedRedis(workdir / "redis").start()
    redis = aioredis.Redis.from_url(embedded.url)
    storage = DirectoryStorage(workdir / "recordings")
    finalize_times: list[float] = []
    loop_times: list[float] = []
    hangup_at: dict[int, float] = {}
    written_at: dict[int, float] = {}

    def finalize(**fields: Any) -> object:
        began = time.perf_counter()
        result = finalize_recording(engine, storage, now=datetime.now(UTC), **fields)
        finalize_times.append(time.perf_counter() - began)
        written_at[fields["attempt_id"]] = time.monotonic()
        return result

    answered: set[int] = set()

    async def answer(agi: AGISession) -> None:
        attempt_id = int(await agi.get_variable(cv.ATTEMPT_ID) or 0)
        answered.add(attempt_id)
        await recorder.at_answer(agi, attempt_id, cv.ACTION_BRIDGE)
        await agi.set_variable(cv.BRIDGE, cv.agent_bridge(1))
        await agi.set_variable(cv.ACTION, cv.ACTION_BRIDGE)

    agi = FastAGIServer(routes={cv.SCRIPT_ANSWER: answer}, request_timeout=30.0)
    await agi.start("127.0.0.1", 0)
    pbxsim, ami_port = await start_pbxsim(workdir, agi.port, args)
    ami = AMIClient("127.0.0.1", ami_port, "cobrador", "bench", keepalive_interval=None,
                    action_timeout=30.0)  # fmt: skip
    await ami.connect()
    recorder = Recorder(
        campaign="rec-bench", owner="bench", ledger=SqlLedger(engine, "rec-bench"), ami=ami, storage=storage,
        pbx_root=PurePosixPath(str(storage.root)), finalize=finalize, mode=lambda: "all",
    )  # fmt: skip
    events = ami.events()
    pending = set(attempt_ids)

    async def hangups() -> None:
        async for event in events:
            uid = event.get("Uniqueid") or ""
            if event.name != "Hangup" or not uid.startswith("cobrador-") or ";" in uid:
                continue
            attempt_id = int(uid.removeprefix("cobrador-"))
            hangup_at[attempt_id] = time.monotonic()
            began = time.perf_counter()
            recorder.close(attempt_id, time.time())
            loop_times.append(time.perf_counter() - began)
            pending.discard(attempt_id)
            if not pending:
                return

    watcher = asyncio.create_task(hangups())
    started = time.monotonic()
    for attempt_id in attempt_ids:
        await ami.send_action({
            "Action": "Originate", "Channel": cv.debtor_channel("5215512340101"),
            "Context": cv.CONTEXT_ANSWER, "Exten": "s", "Priority": 1, "Async": "true",
            "Timeout": 30000, "ChannelId": cv.originate_channel_id(attempt_id),
            "Variable": f"{cv.ATTEMPT_ID}={attempt_id},COBRADOR_AMD=off",
        })  # fmt: skip
    await asyncio.wait_for(watcher, timeout=args.talk * 2 / args.speed + 120)
    await recorder.drain()
    elapsed = time.monotonic() - started
    events.close()
    await ami.close()
    await agi.stop()
    pbxsim.terminate()
    await pbxsim.wait()
    await redis.aclose()
    embedded.stop()

    with Session(engine) as s:
        rows = list(s.scalars(select(Recording)))
    ok = [r for r in rows if r.status == "ok"]
    total_bytes = sum(r.size_bytes or 0 for r in ok)
    total_minutes = sum(float(r.duration_s or 0) for r in ok) / 60
    end_to_end = [written_at[a] - hangup_at[a] for a in written_at if a in hangup_at]
    # The hashing part alone (size, SHA-256, wav header), file by file, nothing else running.
    hash_times = []
    for row in ok:
        began = time.perf_counter()
        inspect_file(storage, row.storage_key)
        hash_times.append(time.perf_counter() - began)
    ms = 1000.0
    return {
        "calls": args.calls, "answered": len(answered), "rows": len(rows), "rows_ok": len(ok),
        "wall_seconds": round(elapsed, 1), "recorded_minutes": round(total_minutes, 1),
        "bytes_per_recorded_minute": round(total_bytes / total_minutes) if total_minutes else None,
        "close_on_event_loop_ms": {"p50": round(pct(loop_times, 0.5) * ms, 3),
                                   "p99": round(pct(loop_times, 0.99) * ms, 3)},
        "finalize_in_thread_ms": {"p50": round(pct(finalize_times, 0.5) * ms, 2),
                                  "p99": round(pct(finalize_times, 0.99) * ms, 2),
                                  "mean": round(statistics.mean(finalize_times) * ms, 2)},
        "hash_only_ms": {"p50": round(pct(hash_times, 0.5) * ms, 2),
                         "p99": round(pct(hash_times, 0.99) * ms, 2)},
        "hangup_to_row_ms": {"p50": round(pct(end_to_end, 0.5) * ms, 1),
                             "p99": round(pct(end_to_end, 0.99) * ms, 1)},
        "file_size_p50_bytes": int(pct([float(r.size_bytes or 0) for r in ok], 0.5)),
        "database": engine.url.get_backend_name(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--talk", type=float, default=60.0, help="simulated seconds per call")
    parser.add_argument("--speed", type=float, default=10.0, help="pbxsim clock factor")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
