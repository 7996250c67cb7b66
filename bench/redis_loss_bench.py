"""Time from a Redis loss to the first call placed, on the demo as it runs.

    .venv/bin/python bench/redis_loss_bench.py [--rounds 5] [--accounts 600] [--bots 4]

Starts `cobrador demo --at <a Wednesday 11:00 in Mexico City>` on a fresh data
dir (SQLite, embedded redis-server, pbxsim), waits until it has placed calls in
every country, then `--rounds` times: waits until an agent of every campaign is
ready, FLUSHALL on its redis-server, and the time until SQL shows the next call
placed (an attempt past the final check), in any country and in each. SQL is polled every 20 ms (the figures include up to that).
A call placed = an outbound attempt with a decision that was not blocked.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis
from sqlalchemy import create_engine, text

AT = "2026-11-25T11:00:00-06:00"
COUNTRIES = ("MX", "CO", "PE")
POLL = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def placed_since(engine, after: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.country, MIN(c.id) FROM call_attempts c JOIN accounts a ON a.id = c.account_id"
            " WHERE c.id > :after AND c.direction = 'outbound' AND c.decision_id IS NOT NULL"
            " AND (c.result IS NULL OR c.result NOT IN ('blocked', 'not_placed'))"
            " GROUP BY a.country"), {"after": after}).all()  # fmt: skip
    return {str(country): int(first) for country, first in rows}


def last_attempt(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM call_attempts")).scalar_one()
        )


def redis_port(pid: int) -> int:
    for child in psutil.Process(pid).children(recursive=True):
        found = re.search(r"redis-server\S*\s+127\.0\.0\.1:(\d+)", " ".join(child.cmdline()))
        if found:
            return int(found.group(1))
    raise RuntimeError("no embedded redis-server under the demo")


def until_agents_ready(client: redis.Redis, timeout: float) -> None:
    """Until an agent of each campaign is ready (dialer/agent_state.py keys)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaigns = set()
        for key in client.scan_iter("cobrador:agent:{*}"):
            state, campaign = client.hmget(key, "state", "campaign")
            if state == b"ready" and campaign:
                campaigns.add(campaign)
        if len(campaigns) >= len(COUNTRIES):
            return
        time.sleep(POLL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--accounts", type=int, default=600)
    parser.add_argument("--bots", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="redis-loss-bench-") as tmp:
        data = Path(tmp) / "demo-data"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(
            [sys.executable, "-m", "cobrador.cli", "demo", "--at", AT, "--bots", str(args.bots),
             "--agents", "1", "--accounts", str(args.accounts), "--port", str(free_port()),
             "--data-dir", str(data)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=root,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.strip() == "ready":
                    break
            else:
                raise RuntimeError("the demo stopped before it was ready")
            engine = create_engine(f"sqlite:///{data / 'cobrador.sqlite3'}")
            client = redis.Redis(port=redis_port(proc.pid))

            def until_every_country(after: int, t0: float) -> dict[str, float]:
                seen: dict[str, float] = {}
                while set(seen) < set(COUNTRIES):
                    if time.monotonic() - t0 > args.timeout:
                        break
                    for country in placed_since(engine, after):
                        seen.setdefault(country, time.monotonic() - t0)
                    time.sleep(POLL)
                return seen

            until_every_country(0, time.monotonic())
            rounds: list[dict[str, float]] = []
            for _ in range(args.rounds):
                # Flushed while an agent of every country waits for a call: the figure
                # is what the loss costs, not how long the agents were busy talking.
                until_agents_ready(client, args.timeout)
                after = last_attempt(engine)
                client.flushall()
                t0 = time.monotonic()
                seen = until_every_country(after, t0)
                rounds.append(seen)
                print("round:", {k: round(v, 3) for k, v in sorted(seen.items())}, flush=True)
            firsts = [min(r.values()) for r in rounds if r]
            print(f"first call after FLUSHALL, any country: p50 {statistics.median(firsts):.2f} s, "
                  f"max {max(firsts):.2f} s over {len(firsts)} rounds")  # fmt: skip
            for country in COUNTRIES:
                got = [r[country] for r in rounds if country in r]
                if got:
                    print(f"  {country}: p50 {statistics.median(got):.2f} s, max {max(got):.2f} s "
                          f"({len(got)}/{len(rounds)} rounds)")  # fmt: skip
                else:
                    print(f"  {country}: no call within {args.timeout:.0f} s in any round")
            engine.dispose()
        finally:
            proc.send_signal(2)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
