"""Browser phones on the real Asterisk 22: N agents, one page each in Chromium
(10 pages per Chromium process: one Chromium opens at most 16 microphones),
fake media, all logging in at once, each registered, nailed up and
with audio flowing; then Asterisk's CPU per agent leg.

Per agent: login (the login form's submit) -> phone registered (JsSIP REGISTER
accepted) -> leg up (the nailed-up leg auto-answered; the bench originates it
over AMI the moment the registration is seen, as the dialer does at login) ->
audio ready (getStats(): packets sent and received on the leg). Then Asterisk's
CPU (utime+stime of the chroot's asterisk process, /proc) over a window with no
legs, with the N legs up and idle, and with N sim-customers debtors bridged and
talking (music) to them.

Takes the machine-wide chroot lock (/run/lock/cobrador-asterisk.lock) and
restarts the chroot Asterisk with this checkout's asterisk-conf/:

    .venv/bin/python bench/webrtc_bench.py --agents 20 --window 20              # a shift starts
    .venv/bin/python bench/webrtc_bench.py --agents 20 --window 20 --stagger 3  # one by one
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cobrador.ground.redis_runtime import EmbeddedRedis  # noqa: E402
from console.security import hash_password  # noqa: E402
from dialer.ami import AMIClient  # noqa: E402
from dialer.fastagi import AGISession, FastAGIServer  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Account, Campaign, Phone, User  # noqa: E402

SCRIPT = REPO / "scripts" / "asterisk-chroot"
LOCK = Path(os.environ.get("COBRADOR_ASTERISK_LOCK", "/run/lock/cobrador-asterisk.lock"))
PASSWORD = "bench password"
SECRET = b"webrtc-bench-secret-32-bytes!!!!"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # Pages in background tabs must not be throttled: every agent is "in front".
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]  # fmt: skip
TALK_NUMBER = "5215512340100"
_ids = itertools.count(int(time.time()) % 100_000 * 1000)
ORIGINATE_REPLIES: dict[str, str] = {}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


@contextlib.contextmanager
def chroot_asterisk() -> Iterator[Path]:
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a+") as lock:
        print(f"waiting for {LOCK} ...", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
        env = {**os.environ, "COBRADOR_OUTBOUND_ROUTE": "sim"}
        subprocess.run([str(SCRIPT), "restart"], env=env, check=True)
        root = Path(subprocess.run([str(SCRIPT), "path"], capture_output=True, text=True,
                                   check=True).stdout.strip())  # fmt: skip
        try:
            yield root
        finally:
            subprocess.run([str(SCRIPT), "stop"], check=False)
            fcntl.flock(lock, fcntl.LOCK_UN)


def asterisk_pid(root: Path) -> int:
    real = os.path.realpath(root)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (
                os.readlink(entry / "root") == real
                and (entry / "comm").read_text().strip() == "asterisk"
            ):
                return int(entry.name)
        except OSError:
            continue
    raise RuntimeError("no asterisk process in the chroot")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_window(pid: int, seconds: float) -> float:
    """Asterisk's CPU over `seconds`, in percent of one core."""
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


def seed(database_url: str, agents: int) -> list[tuple[str, int]]:
    engine = make_engine(database_url)
    upgrade(engine)
    password_hash = hash_password(PASSWORD)
    out = []
    with transaction(engine) as session:
        campaign = Campaign(name="bench", country="MX", profile="MX", config={})
        session.add(campaign)
        session.flush()
        account = Account(
            external_ref="W-1", debtor_name="Deudor", country="MX",
            timezone="America/Mexico_City", balance=Decimal("1000.00"), currency="MXN",
            due_date=date(2026, 9, 1), campaign_id=campaign.id,
        )  # fmt: skip
        account.phones.append(Phone(number_e164="+525500000001", consent=True))
        session.add(account)
        for i in range(agents):
            user = User(username=f"webrtc{i}", role="agent", password_hash=password_hash,
                        campaign_id=campaign.id)  # fmt: skip
            session.add(user)
            session.flush()
            out.append((user.username, user.id))
    engine.dispose()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def console(database_url: str, redis_url: str, data_dir: Path, agents_conf: Path) -> Iterator[str]:
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
        "COBRADOR_PHONE_WS_URL": "ws://127.0.0.1:8088/ws",
        "COBRADOR_PHONE_AGENTS_CONF": str(agents_conf),
        "COBRADOR_AMI_SECRET": "cobrador-dev-secret",
        "COBRADOR_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("console did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def poll(page: Any, expression: str, within: float = 120.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        await asyncio.sleep(0.02)


async def one_agent(browser: Any, base: str, username: str, agent_id: int, ami: AMIClient,
                    legs: dict[int, str], delay: float) -> dict[str, float]:  # fmt: skip
    await asyncio.sleep(delay)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    t0 = time.perf_counter()
    # 20 logins at once: argon2 verifications queue up on 2 cores (see agent_page).
    await page.click("button[type=submit]", no_wait_after=True)
    await page.wait_for_url("**/agent", timeout=180_000)
    t_page = time.perf_counter()
    await poll(
        page, "!!window.cobradorPhone && window.cobradorPhone.state.registration === 'registered'"
    )
    t_reg = time.perf_counter()
    channel_id = f"cobrador-agent-{next(_ids)}"
    legs[agent_id] = channel_id
    await ami.send_action({
        "Action": "Originate", "Channel": f"PJSIP/agent-{agent_id}", "Context": "cobrador-agent",
        "Exten": "s", "Priority": "1", "Async": "true", "Timeout": "30000",
        "ChannelId": channel_id, "Variable": f"COBRADOR_AGENT_ID={agent_id}",
    })  # fmt: skip
    try:
        await poll(page, "window.cobradorPhone.state.leg === 'up'")
    except TimeoutError:
        phone = await page.evaluate("JSON.stringify(window.cobradorPhone.state)")
        reply = ORIGINATE_REPLIES.get(channel_id)
        raise TimeoutError(f"leg not up: page {phone}, OriginateResponse {reply}") from None
    t_leg = time.perf_counter()
    await poll(page, "(async () => { const s = await window.cobradorPhone.stats();"
                     " return s.packetsSent > 0 && s.packetsReceived > 0; })()")  # fmt: skip
    t_audio = time.perf_counter()
    return {
        "agent_page": (t_page - t0) * 1000,
        "registered": (t_reg - t0) * 1000,
        "leg_up": (t_leg - t0) * 1000,
        "audio": (t_audio - t0) * 1000,
        "originate_to_leg": (t_leg - t_reg) * 1000,
        "page_to_audio": (t_audio - t_page) * 1000,
    }


async def run(
    args: argparse.Namespace, root: Path, base: str, accounts: list[tuple[str, int]]
) -> dict:
    from playwright.async_api import async_playwright

    ami = AMIClient("127.0.0.1", 5038, "cobrador", "cobrador-dev-secret",
                    event_filter=("ConfbridgeJoin", "Hangup", "OriginateResponse"))  # fmt: skip
    await ami.connect()
    joined: set[str] = set()
    all_joined = asyncio.Event()
    events = ami.events()

    async def count_joins() -> None:
        async for event in events:
            uid = event.get("Uniqueid") or ""
            if event.name == "OriginateResponse":
                ORIGINATE_REPLIES[uid] = f"{event.get('Response')} reason {event.get('Reason')}"
            elif event.name == "Hangup" and uid.startswith("cobrador-agent-"):
                ORIGINATE_REPLIES[uid] = (
                    ORIGINATE_REPLIES.get(uid, "") + f", hangup cause {event.get('Cause')}"
                    f" {event.get('Cause-txt')}"
                )
            if (
                event.name == "ConfbridgeJoin"
                and uid.startswith("cobrador-")
                and "agent" not in uid
            ):
                joined.add(uid)
                if len(joined) >= len(accounts):
                    all_joined.set()

    counter = asyncio.create_task(count_joins())
    pid = asterisk_pid(root)
    agi = FastAGIServer(routes={"answer": bridge_handler(accounts)}, request_timeout=20.0)
    await agi.start("127.0.0.1", 0)
    await ami.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_AGI_PORT", "Value": str(agi.port)}
    )
    out: dict[str, Any] = {"agents": len(accounts), "stagger_s": args.stagger}
    try:
        out["cpu_idle_pct"] = await cpu_window(pid, args.window)
        async with async_playwright() as pw:
            # One Chromium opens at most 16 microphones at once (its audio manager's
            # input stream limit: the 17th getUserMedia fails, NotReadableError).
            n_browsers = -(-len(accounts) // args.pages_per_browser)
            browsers = [
                await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(n_browsers)
            ]
            out["browsers"] = n_browsers
            legs: dict[int, str] = {}
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    one_agent(
                        browsers[i % n_browsers], base, name, aid, ami, legs, i * args.stagger
                    )
                    for i, (name, aid) in enumerate(accounts)
                ),
                return_exceptions=True,
            )
            out["all_ready_s"] = time.perf_counter() - started
            times = [r for r in results if isinstance(r, dict)]
            out["failed"] = [repr(r)[:200] for r in results if not isinstance(r, dict)]
            if not times:
                raise RuntimeError(f"no agent got audio: {out['failed']}")
            for key in ("agent_page", "registered", "leg_up", "audio", "originate_to_leg",
                        "page_to_audio"):  # fmt: skip
                values = [t[key] for t in times]
                out[key] = {"p50": statistics.median(values), "p99": percentile(values, 99),
                            "max": max(values)}  # fmt: skip
            out["cpu_legs_pct"] = await cpu_window(pid, args.window)
            # Debtors talking (sim-customers music) bridged to every agent.
            for _name, aid in accounts:
                attempt = next(_ids)
                await ami.send_action({
                    "Action": "Originate", "Channel": f"Local/{TALK_NUMBER}@cobrador-outbound",
                    "Context": "cobrador-answer", "Exten": "s", "Priority": "1", "Async": "true",
                    "Timeout": "10000", "ChannelId": f"cobrador-{attempt}",
                    "Variable": f"COBRADOR_ATTEMPT_ID={attempt},COBRADOR_AMD=off,BENCH_AGENT={aid}",
                })  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_joined.wait(), 30)
            out["debtors_bridged"] = len(joined)
            await asyncio.sleep(1)  # "hello", then the music
            out["cpu_talking_pct"] = await cpu_window(pid, min(args.window, 25))
            for browser in browsers:
                await browser.close()
    finally:
        counter.cancel()
        await agi.stop()
        await ami.close()
    n = len(accounts) - len(out["failed"])
    out["cpu_per_leg_pct"] = (out["cpu_legs_pct"] - out["cpu_idle_pct"]) / n
    out["cpu_per_talking_leg_pct"] = (out["cpu_talking_pct"] - out["cpu_idle_pct"]) / n
    return out


def bridge_handler(accounts: list[tuple[str, int]]) -> Any:
    """Bridge each answered debtor to the next agent in turn."""
    order = itertools.cycle([aid for _name, aid in accounts])

    async def answer(agi: AGISession) -> None:
        await agi.set_variable("COBRADOR_ACTION", "bridge")
        await agi.set_variable("COBRADOR_BRIDGE", f"agent-{next(order)}")

    return answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--window", type=float, default=20.0, help="CPU window, seconds")
    parser.add_argument("--pages-per-browser", type=int, default=10,
                        help="agent pages per Chromium (at most 16 microphones each)")  # fmt: skip
    parser.add_argument("--stagger", type=float, default=0.0,
                        help="seconds between two agents' logins (0: all at once)")  # fmt: skip
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis_server:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        accounts = seed(database_url, args.agents)
        with chroot_asterisk() as root:
            conf = root / "etc" / "asterisk" / "cobrador-phones" / "agents.conf"
            with console(database_url, redis_server.url, Path(tmp) / "data", conf) as base:
                result = asyncio.run(run(args, root, base, accounts))
    load = os.getloadavg()
    result["load"] = [round(x, 2) for x in load]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
