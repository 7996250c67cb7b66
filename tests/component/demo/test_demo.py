"""`cobrador demo` as a manager runs it: a subprocess on embedded defaults,
checked over HTTP, stopped with SIGINT, leaving nothing running."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiohttp
import psutil
import pytest
from support.demo_output import DemoOutput
from support.ports import free_port

# A Wednesday, 11:00 in Mexico City.
AT = "2026-11-25T11:00:00-06:00"
AT_EPOCH = datetime.fromisoformat(AT).timestamp()
DAY = 86_400.0
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
READY_WAIT = 120.0
STOP_WAIT = 60.0  # a bound for a hang: a clean stop on a loaded machine
WAIT = 120.0


@pytest.fixture
def demo(
    tmp_path: Path,
) -> Iterator[tuple[subprocess.Popen[str], int, dict[str, str], Path, str, str, str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    data = tmp_path / "demo-data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cobrador.cli", "demo", "--bots", "3", "--agents", "1", "--accounts", "150",
         "--at", AT, "--port", str(port), "--data-dir", str(data), "--speed", "6"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    output = DemoOutput(proc)
    started = output.until_ready(READY_WAIT)
    passwords: dict[str, str] = {}
    metrics_url = portal_link = ""
    for line in started.splitlines():
        if m := re.match(r"\s{4}(\S+)\s+(\S+)$", line):
            passwords[m.group(1)] = m.group(2)
        if found := re.match(r"\s+metrics\s+(http://\S+/metrics)$", line):
            metrics_url = found.group(1)
        if found := re.match(r"\s+debtor portal\s+(http://\S+)", line):
            portal_link = found.group(1)
    try:
        yield proc, port, passwords, data, metrics_url, portal_link, output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _login(session: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    async with session.get(f"{base}/login") as resp:
        token = CSRF_RE.search(await resp.text())
    assert token
    async with session.post(f"{base}/login", data={"username": user, "password": password,
                                                   "_csrf": token.group(1)}, allow_redirects=True) as resp:  # fmt: skip
        page = await resp.text()
        assert resp.status == 200
    found = CSRF_RE.search(page)
    assert found, "no CSRF token after login"
    return found.group(1)


async def _metric(session: aiohttp.ClientSession, metrics_url: str, name: str) -> float:
    async with session.get(metrics_url) as resp:
        text = await resp.text()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")
    )


async def _check(port: int, passwords: dict[str, str], data: Path, metrics_url: str) -> None:
    base = f"http://127.0.0.1:{port}"
    jar = aiohttp.CookieJar  # the console is on an IP address: cookies need the unsafe jar
    async with (
        aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as agent,
        aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as auditor,
    ):
        # Metrics have their own listener: never on the console's port.
        assert metrics_url and metrics_url != f"{base}/metrics"
        async with agent.get(f"{base}/metrics") as resp:
            assert resp.status == 404
        token = await _login(agent, base, "agente1", passwords["agente1"])
        async with agent.post(f"{base}/api/agent/ready", headers={"X-CSRF-Token": token}) as resp:
            assert resp.status == 200, await resp.text()
            ready = await resp.json()
        # The console keeps the demo's clock (`--at`), not the wall clock: the state it
        # wrote and the time it serves are of the simulated day.
        assert abs(ready["state"]["since"] - AT_EPOCH) < DAY, ready
        assert 0 <= ready["server_time"] - ready["state"]["since"] < DAY, ready
        async with agent.ws_connect(f"{base}/ws/agent", headers={"Origin": base}) as ws:
            pop = None
            deadline = time.monotonic() + WAIT
            while pop is None and time.monotonic() < deadline:
                msg = await ws.receive(timeout=WAIT)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                payload = json.loads(msg.data)
                if payload.get("type") == "pop":
                    pop = payload
            assert pop is not None, "no screen-pop reached the human agent"
        # The dialer reserved the agent on its clock, the console answers on its own: the
        # same one, so the agent's timer counts from the call (it read days apart before).
        async with agent.get(f"{base}/api/agent/state") as resp:
            now = await resp.json()
        assert now["state"]["state"] in ("reserved", "talking", "wrap_up"), now
        assert 0 <= now["server_time"] - now["state"]["since"] < WAIT, now
        placed = await _metric(agent, metrics_url, "cobrador_calls_placed_total")
        assert placed > 0
        await _login(auditor, base, "auditor", passwords["auditor"])
        reus = {
            line.strip() for line in (data / "reus.txt").read_text().splitlines() if line.strip()
        }
        deadline = time.monotonic() + WAIT
        while True:
            async with auditor.get(f"{base}/auditor/attempts.jsonl",
                                   params={"date_from": "2026-11-25", "date_to": "2026-11-26"}) as resp:  # fmt: skip
                assert resp.status == 200
                rows = [
                    json.loads(line) for line in (await resp.text()).splitlines() if line.strip()
                ]
            if any(r["outcome"] for r in rows) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert any(r["outcome"] for r in rows), "no disposition recorded"
        dialed = {r["phone"] for r in rows if r["result"] not in ("blocked", "")}
        assert dialed and not (dialed & reus), "a REUS-listed number was dialed"
        assert await _metric(agent, metrics_url, "cobrador_calls_placed_total") >= placed
        # The strategies' messages on the simulated gateways, in the timeline beside calls.
        deadline = time.monotonic() + WAIT
        while True:
            async with auditor.get(f"{base}/auditor/attempts.jsonl",
                                   params={"date_from": "2026-11-25", "date_to": "2026-11-26"}) as resp:  # fmt: skip
                rows = [json.loads(x) for x in (await resp.text()).splitlines() if x.strip()]
            messages = [r for r in rows if r.get("channel") in ("sms", "email", "whatsapp")]
            if messages or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert messages, "no strategy message was sent"
        async with auditor.get(f"{base}/attempts/{messages[0]['id']}") as resp:
            page = await resp.text()
        assert 'id="contact-timeline"' in page
        assert any(label in page for label in ("Recordatorio de pago", "Aviso firme",
                                               "Aviso prejudicial"))  # fmt: skip
    # The field agent's day: visits planned at the first start, each allowed by compliance,
    # to Mexico City addresses with coordinates inside Mexico.
    async with aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as field:
        await _login(field, base, "campo1", passwords["campo1"])
        async with field.get(f"{base}/api/field/day") as resp:
            assert resp.status == 200, await resp.text()
            visits = (await resp.json())["visits"]
    assert visits, "the demo planned no visit for campo1"
    for visit in visits:
        assert "Ciudad de México" in visit["address"]
        assert 19.0 < visit["lat"] < 19.8 and -99.5 < visit["lon"] < -98.8, visit


async def _check_portal(link: str) -> None:
    """The printed portal link opens the identity check; the demo's digits open the account."""
    assert link, "the demo printed no debtor portal link"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as debtor:
        async with debtor.get(link) as resp:
            page = await resp.text()
        assert resp.status == 200 and 'name="digits"' in page
        token = CSRF_RE.search(page)
        assert token
        async with debtor.post(link, data={"digits": "1234", "_csrf": token.group(1)}) as resp:
            account = await resp.text()
        assert resp.status == 200 and 'id="balance"' in account


def test_given_demo_when_running_then_calls_pops_dispositions_and_clean_stop(demo) -> None:  # type: ignore[no-untyped-def]
    proc, port, passwords, data, metrics_url, portal_link, output = demo
    started = output.started
    assert {"agente1", "supervisor", "auditor", "admin"} <= set(passwords)
    # A fresh start warns of nothing that is not wrong: its recordings directory is
    # made, not reported missing.
    assert "recordings purge not run" not in started, started
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("redis-server" in " ".join(c.cmdline()) for c in children)
    with output.told_on_failure():
        asyncio.run(_check(port, passwords, data, metrics_url))
        asyncio.run(_check_portal(portal_link))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_WAIT) == 0
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    # A second start reuses the data and prints no new passwords.
    port2 = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    second = subprocess.Popen(
        [sys.executable, "-m", "cobrador.cli", "demo", "--at", AT, "--port", str(port2),
         "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        again = DemoOutput(second)
        text = again.until_ready(READY_WAIT)
        assert "reusing the data" in text and "shown once" not in text, text
        second.send_signal(signal.SIGINT)
        with again.told_on_failure():
            assert second.wait(timeout=STOP_WAIT) == 0
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
