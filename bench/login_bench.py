"""A burst of console logins: N users log in at the same instant (argon2, SQL
throttle and session rows), through a real console process.

Reports each login's latency (GET /login for the CSRF token is not counted;
the timed part is POST /login up to its 302), the burst's throughput, and
the event loop's responsiveness meanwhile: a probe fetches the login form
(rendered on the event loop, no worker thread: a static file would measure
aiohttp's file threads instead) in a loop during the burst; if argon2 ran on
the event loop the probe would wait behind every password check.

    .venv/bin/python bench/login_bench.py --users 50 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from console_bench import start_console  # noqa: E402

from cobrador.ground.redis_runtime import EmbeddedRedis  # noqa: E402
from console.security import hash_password  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Campaign, User  # noqa: E402

PASSWORD = "bench password"
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def seed(database_url: str, users: int) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    password_hash = hash_password(PASSWORD)  # the library's default argon2id parameters
    with transaction(engine) as session:
        campaign = Campaign(name="bench", country="MX", profile="MX")
        session.add(campaign)
        session.flush()
        for i in range(users):
            session.add(
                User(
                    username=f"agent{i}",
                    role="agent",
                    password_hash=password_hash,
                    campaign_id=campaign.id,
                )
            )
    engine.dispose()


async def one_login(base: str, username: str, go: asyncio.Event) -> float:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login") as resp:
            found = CSRF_RE.search(await resp.text())
        assert found, "no CSRF token on /login"
        await go.wait()
        start = time.perf_counter()
        async with http.post(
            f"{base}/login",
            data={"username": username, "password": PASSWORD, "_csrf": found.group(1)},
            allow_redirects=False,
        ) as resp:
            await resp.read()
            elapsed = time.perf_counter() - start
            if resp.status != 302:
                raise SystemExit(f"login of {username} answered {resp.status}")
        return elapsed


async def probe(base: str, stop: asyncio.Event) -> list[float]:
    """Latencies of a request that needs nothing but the event loop."""
    out = []
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            start = time.perf_counter()
            async with http.get(f"{base}/login") as resp:
                await resp.read()
            out.append(time.perf_counter() - start)
            await asyncio.sleep(0.005)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def burst(base: str, users: int) -> tuple[list[float], float, list[float]]:
    go, stop = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(one_login(base, f"agent{i}", go)) for i in range(users)]
    await asyncio.sleep(1.0)  # every client holds its CSRF token
    probe_task = asyncio.create_task(probe(base, stop))
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    go.set()
    latencies = await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    stop.set()
    return list(latencies), wall, await probe_task


def argon2_seconds() -> float:
    """One argon2 check on this machine now (the load changes it a lot)."""
    from console.security import verify_password

    password_hash = hash_password(PASSWORD)
    start = time.perf_counter()
    for _ in range(3):
        verify_password(password_hash, PASSWORD)
    return (time.perf_counter() - start) / 3


async def main_async(args: argparse.Namespace, base: str) -> None:
    print(f"one argon2 check alone: {argon2_seconds() * 1000:.0f} ms; cpus {os.cpu_count()}")
    all_latencies: list[float] = []
    all_probe: list[float] = []
    walls = []
    for n in range(args.rounds):
        latencies, wall, probes = await burst(base, args.users)
        all_latencies += latencies
        all_probe += probes
        walls.append(wall)
        print(
            f"round {n + 1}: {args.users} logins in {wall:.2f} s "
            f"({args.users / wall:.1f}/s), p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {pct(latencies, 0.99) * 1000:.0f} ms, probe max {max(probes) * 1000:.0f} ms",
            flush=True,
        )
    print(
        f"all {len(all_latencies)} logins: p50 {statistics.median(all_latencies) * 1000:.0f} ms, "
        f"p99 {pct(all_latencies, 0.99) * 1000:.0f} ms, max {max(all_latencies) * 1000:.0f} ms; "
        f"throughput {args.users * args.rounds / sum(walls):.1f} logins/s; "
        f"event-loop probe ({len(all_probe)} requests during the bursts): "
        f"p50 {statistics.median(all_probe) * 1000:.1f} ms, "
        f"p99 {pct(all_probe, 0.99) * 1000:.1f} ms, max {max(all_probe) * 1000:.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--redis", default=None, help="default: an embedded redis-server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        database_url = args.database_url or f"sqlite:///{data / 'bench.sqlite3'}"
        seed(database_url, args.users)
        embedded = None if args.redis else EmbeddedRedis().start()
        redis_url = args.redis or (embedded.url if embedded else "")
        os.environ["COBRADOR_CONSOLE_METRICS_PORT"] = "0"
        proc, port = start_console(database_url, redis_url, data)
        try:
            asyncio.run(main_async(args, f"http://127.0.0.1:{port}"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if embedded is not None:
                embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
