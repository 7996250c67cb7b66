"""Screen-pop latency at scale: N agents on WebSockets, pops published at R/s.

Measures the time from the dialer's PUBLISH on ``cobrador:pops`` to the
moment the pop reaches the client-side message handler, through a real
console process (SQL load of the account, pii_view audit entry, WebSocket
send). Clients are aiohttp WebSocket clients in this process (500 browsers
do not fit on the bench machine); their handler does what agent.js does
first: parse the JSON and take the receive time.

    .venv/bin/python bench/console_bench.py --agents 500 --rate 50 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402

from cobrador.ground.redis_runtime import EmbeddedRedis  # noqa: E402
from console import sessions  # noqa: E402
from console.security import hash_password  # noqa: E402
from console.users import current_user  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Account, CallAttempt, Campaign, Phone, User  # noqa: E402

SECRET = b"console-bench-secret-32-bytes!!!"


def seed(database_url: str, agents: int) -> list[tuple[int, int, int]]:
    """Campaign, one account and one open call per agent: (agent_id, account_id, attempt_id)."""
    engine = make_engine(database_url)
    upgrade(engine)
    password_hash = hash_password("bench password")
    out = []
    with transaction(engine) as session:
        campaign = Campaign(
            name="bench", country="MX", profile="MX", config={"payment_instructions": "BBVA 123"}
        )
        session.add(campaign)
        session.flush()
        now = datetime.now(UTC)
        for i in range(agents):
            user = User(
                username=f"agent{i}", role="agent", password_hash=password_hash,
                campaign_id=campaign.id,
            )  # fmt: skip
            account = Account(
                external_ref=f"B-{i:05d}", debtor_name=f"Deudor {i}", country="MX",
                timezone="America/Mexico_City", balance=Decimal("1000.00"), currency="MXN",
                due_date=date(2026, 9, 1), campaign_id=campaign.id,
            )  # fmt: skip
            account.phones.append(Phone(number_e164=f"+5255{i:08d}", consent=True))
            session.add_all([user, account])
            session.flush()
            attempt = CallAttempt(
                account_id=account.id, phone_id=account.phones[0].id,
                phone_e164=account.phones[0].number_e164, campaign_id=campaign.id,
                agent_id=user.id, started_at=now, result="contact",
            )  # fmt: skip
            session.add(attempt)
            session.flush()
            out.append((user.id, account.id, attempt.id))
    # A server-side session per agent, as a login makes (console/sessions.py).
    with transaction(engine) as session:
        users = {u.id: current_user(u) for u in session.scalars(select(User))}
    for agent_id, _, _ in out:
        TOKENS[agent_id] = sessions.start(engine, users[agent_id], datetime.now(UTC))
    engine.dispose()
    return out


TOKENS: dict[int, str] = {}


def session_cookie(agent_id: int) -> str:
    """The console's own encrypted session for an agent (we hold the key)."""
    payload = {"uid": agent_id, "role": "agent", "csrf": "b", "sid": TOKENS[agent_id]}
    data = json.dumps({"created": int(time.time()), "session": payload})
    return Fernet(base64.urlsafe_b64encode(SECRET)).encrypt(data.encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_console(
    database_url: str, redis_url: str, data_dir: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    code = (
        "import argparse, sys\n"
        "from cobrador.ground.settings import Settings\n"
        "from console.commands import _console_run\n"
        "sys.exit(_console_run(argparse.Namespace(host='127.0.0.1', port=int(sys.argv[1])), Settings.load()))\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "COBRADOR_DATA_DIR": str(data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(SECRET).decode(),
    }
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], env=env, cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("console did not start")


async def run(
    args: argparse.Namespace, redis_url: str, rows: list[tuple[int, int, int]], port: int
) -> dict[str, float]:
    base = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    received: set[int] = set()
    ready = 0

    async def agent(agent_id: int) -> None:
        nonlocal ready
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies(
            {"cobrador_session": session_cookie(agent_id)}, response_url=aiohttp.client.URL(base)
        )
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as http,
            http.ws_connect(f"{base}/ws/agent", headers={"Origin": base}, heartbeat=30) as ws,
        ):
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                # The client-side handler: parse, then stamp.
                data = json.loads(msg.data)
                now = time.time()
                if data.get("type") == "hello":
                    ready += 1
                elif data.get("type") == "pop":
                    latencies.append(now - float(data["published_at"]))
                    received.add(int(data["pop_id"]))

    clients = []
    for i, (agent_id, _, _) in enumerate(rows):
        clients.append(asyncio.create_task(agent(agent_id)))
        if i % 50 == 49:
            await asyncio.sleep(0.2)  # connect in waves, as a shift logs in
    deadline = time.monotonic() + 120
    while ready < len(rows):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {ready} of {len(rows)} agents connected")
        await asyncio.sleep(0.1)
    print(f"{ready} agents connected; publishing {args.rate}/s for {args.seconds}s", flush=True)

    redis = aioredis.Redis.from_url(redis_url)
    total = args.rate * args.seconds
    interval = 1.0 / args.rate
    start = time.monotonic()
    for n in range(total):
        agent_id, account_id, attempt_id = rows[n % len(rows)]
        target = start + n * interval
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await redis.publish(
            "cobrador:pops",
            json.dumps(
                {
                    "type": "pop",
                    "attempt_id": attempt_id,
                    "agent_id": agent_id,
                    "account_id": account_id,
                    "campaign": "bench",
                    "direction": "outbound",
                    "published_at": time.time(),
                    "pop_id": n,
                }
            ),  # fmt: skip
        )
    achieved = total / (time.monotonic() - start)
    drain = time.monotonic() + 10
    while len(received) < total and time.monotonic() < drain:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await redis.aclose()
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100) if len(ms) >= 2 else [float("nan")] * 99
    return {
        "agents": len(rows),
        "pops": total,
        "received": len(received),
        "publish_rate": round(achieved, 1),
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(ms[-1], 1) if ms else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--rate", type=int, default=50, help="pops per second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="default: SQLite in a temp dir",
    )
    parser.add_argument(
        "--redis", default=os.environ.get("REDIS_URL"), help="default: embedded redis-server"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}"
        embedded = None if args.redis else EmbeddedRedis().start()
        redis_url = args.redis or (embedded.url if embedded else "")
        try:
            rows = seed(database_url, args.agents)
            proc, port = start_console(database_url, redis_url, data_dir)
            try:
                result = asyncio.run(run(args, redis_url, rows, port))
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        finally:
            if embedded is not None:
                embedded.stop()
    print(json.dumps(result))
    target_ok = result["p99_ms"] <= 100 and result["received"] == result["pops"]
    print(
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms (target p99 <= 100 ms): {'OK' if target_ok else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
