"""Helpers for the browser-phone tests on the real Asterisk: a non-loopback IPv4
address for ICE, the console process configured for the chroot's Asterisk,
Chromium with fake media, and a stand-in for the dialer's call commands."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from asterisk_harness import AMI_SECRET, ChrootAsterisk, unavailable

from cobrador.ground.settings import Settings
from dialer.ami import AMIClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "browser"))
sys.path.insert(0, str(HERE.parents[1] / "component" / "console"))

from browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    DialerDouble,
    console_process,
    require_chromium,
)
from console_fixtures import PASSWORD, seed_data  # noqa: E402
from support.screenshots import FLOOR_BROWSER  # noqa: E402

__all__ = ["PASSWORD", "DialerDouble", "seed_data"]

WS_URL = "ws://127.0.0.1:8088/ws"
FAKE_MEDIA = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
DUMMY_IF = "cobrador-ice0"
DUMMY_ADDR = "10.254.254.1/32"


def _global_ipv4() -> list[str]:
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return [line.split()[3] for line in out.splitlines() if len(line.split()) > 3]


@contextlib.contextmanager
def ice_address() -> Iterator[str]:
    """A non-loopback IPv4 address (Asterisk offers no loopback ICE candidates):
    the machine's own, or a dummy interface made for the test and removed after."""
    found = _global_ipv4()
    if found:
        yield found[0]
        return
    made = subprocess.run(
        ["ip", "link", "add", DUMMY_IF, "type", "dummy"], capture_output=True, text=True
    )
    if made.returncode != 0:
        unavailable(f"no non-loopback IPv4 for ICE and no dummy interface: {made.stderr}")
    try:
        subprocess.run(["ip", "addr", "add", DUMMY_ADDR, "dev", DUMMY_IF], check=True)
        subprocess.run(["ip", "link", "set", DUMMY_IF, "up"], check=True)
        yield DUMMY_ADDR.split("/")[0]
    finally:
        subprocess.run(["ip", "link", "del", DUMMY_IF], check=False)


def agents_conf(pbx: ChrootAsterisk) -> Path:
    return Path(pbx.run("path").strip()) / "etc" / "asterisk" / "cobrador-phones" / "agents.conf"


@contextlib.contextmanager
def phone_console(settings: Settings, pbx: ChrootAsterisk) -> Iterator[str]:
    """`cobrador console run` with the web phone pointed at the chroot's Asterisk."""
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "COBRADOR_DATA_DIR": str(settings.data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(b"f" * 32).decode(),
        "COBRADOR_PHONE_WS_URL": WS_URL,
        "COBRADOR_PHONE_AGENTS_CONF": str(agents_conf(pbx)),
        "COBRADOR_AMI_SECRET": AMI_SECRET,
    }
    with console_process(env) as url:
        yield url


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MEDIA, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def agent_page(browser: Any, base: str, username: str, password: str) -> Any:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, **FLOOR_BROWSER)
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/agent")
    return page


async def poll_page(page: Any, expression: str, what: str, within: float = 30.0) -> Any:
    """Evaluate `expression` (JS, may be async) until it gives a truthy value.

    Not page.wait_for_function: the console's CSP forbids the eval it uses, and
    the test must run under the page's real CSP (the phone's WebSocket needs it).
    """
    deadline = time.monotonic() + within
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_phone(page: Any, condition: str) -> None:
    """Until `condition` (JS, `p` = window.cobradorPhone) holds."""
    await poll_page(
        page, f"(() => {{ const p = window.cobradorPhone; return !!p && ({condition}); }})()",
        condition,
    )  # fmt: skip


async def stats(page: Any) -> dict[str, int]:
    result: dict[str, int] = await page.evaluate("window.cobradorPhone.stats()")
    return result


async def wait_stats(page: Any, condition: str) -> dict[str, int]:
    """Until getStats() satisfies `condition` (JS over `s`); returns those stats."""
    value: dict[str, int] = await poll_page(
        page,
        f"(async () => {{ const s = await window.cobradorPhone.stats(); return ({condition}) ? s : null; }})()",
        condition,
    )
    return value


def originate_phone_leg(agent_id: int, channel_id: str) -> dict[str, str]:
    """The dialer's nailed-up leg to the agent's browser phone (asterisk-conf/README.md)."""
    return {
        "Action": "Originate",
        "Channel": f"PJSIP/agent-{agent_id}",
        "Context": "cobrador-agent",
        "Exten": "s",
        "Priority": "1",
        "Async": "true",
        "Timeout": "15000",
        "ChannelId": channel_id,
        "Variable": f"COBRADOR_AGENT_ID={agent_id}",
    }


@contextlib.asynccontextmanager
async def call_commands(
    redis_url: str, ami: AMIClient, channels: dict[int, str]
) -> AsyncIterator[list[dict]]:
    """The dialer's side of the console's call commands: `hangup` hangs up the
    debtor's channel (attempt id -> channel in `channels`)."""
    redis = aioredis.Redis.from_url(redis_url)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("cobrador:commands")
    seen: list[dict] = []

    async def serve() -> None:
        while True:
            message = await pubsub.get_message(timeout=0.2)
            if not message:
                continue
            command = json.loads(message["data"])
            seen.append(command)
            channel = channels.get(int(command.get("attempt_id") or 0))
            if command.get("type") == "hangup" and channel:
                await ami.send_action({"Action": "Hangup", "Channel": channel})

    task = asyncio.create_task(serve())
    try:
        yield seen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pubsub.aclose()
        await redis.aclose()
