"""Fixtures for the real-Asterisk tier: the chroot Asterisk 22 (one per test
session), an AMI client, a FastAGI server the dialplan reaches, and a watcher
of call events. With COBRADOR_REQUIRE_INTEGRATION=1 an Asterisk that cannot
start FAILS the tests; otherwise they are skipped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import warnings
from collections.abc import AsyncIterator, Iterator

import pytest
from asterisk_harness import AGIRoutes, CallWatcher, ChrootAsterisk, connect_ami, unavailable

from dialer.ami import AMIClient, AMIError
from dialer.fastagi import FastAGIServer


async def ami_version() -> str:
    try:
        client = await connect_ami(keepalive_interval=None)
    except AMIError as exc:
        return f"no AMI: {exc}"
    try:
        reply = await client.send_action({"Action": "Command", "Command": "core show version"})
        return " ".join(reply.output)
    except AMIError as exc:
        return f"no version: {exc}"
    finally:
        await client.close()


@pytest.fixture(scope="session")
def asterisk() -> Iterator[ChrootAsterisk]:
    pbx = ChrootAsterisk()
    if os.geteuid() != 0:
        unavailable("the chroot Asterisk needs root (chroot, mount)")
    try:
        installed = pbx.installed()
    except (OSError, RuntimeError) as exc:
        unavailable(f"scripts/asterisk-chroot unusable: {exc}")
    if not installed:
        unavailable("Asterisk chroot not installed: run scripts/ci-deps.d/20-asterisk")
    with pbx.exclusive():
        try:
            # A restart, not a start: this session's asterisk-conf must be the one loaded.
            pbx.run("restart")
        except (OSError, RuntimeError) as exc:
            unavailable(f"Asterisk did not start: {exc}")
        # Port 5038 is also pbxsim's default: make sure the chroot Asterisk owns it.
        version = asyncio.run(ami_version())
        if "Asterisk 22" not in version:
            pytest.fail(
                f"AMI on {pbx.host}:{pbx.ami_port} is not the chroot Asterisk 22: {version!r}"
            )
        yield pbx
        pbx.run("stop")


@pytest.fixture
async def ami(asterisk: ChrootAsterisk) -> AsyncIterator[AMIClient]:
    client = await connect_ami(reconnect_backoff=(0.2, 1.0))
    yield client
    await client.close()
    await asyncio.to_thread(hang_up_everything, asterisk)


def hang_up_everything(pbx: ChrootAsterisk, within: float = 15.0) -> None:
    """Leave no channel up for the next test, whoever started it (a killed dialer's
    calls, a carrier still talking). A channel left up keeps its Uniqueid,
    cobrador-<attempt id>, and the next test's database numbers its attempts from 1
    again: Asterisk refuses an Originate whose Uniqueid is taken, so that test's call
    ended `failed` (test_recordings_real after the real-floor tests)."""
    deadline = time.monotonic() + within
    while True:
        pbx.cli("channel request hangup all")
        if re.search(r"^\s*0 active channels", pbx.cli("core show channels count"), re.M):
            return
        if time.monotonic() > deadline:  # said, not failed: the next test shows it
            warnings.warn("Asterisk channels still up after the test: "
                          + pbx.cli("core show channels concise"), stacklevel=1)  # fmt: skip
            return
        time.sleep(0.2)


@pytest.fixture
async def watcher(ami: AMIClient) -> AsyncIterator[CallWatcher]:
    calls = CallWatcher(ami)
    calls.start()
    yield calls
    await calls.stop()
    # Leave no dialer channel behind for the next test.
    for channel_id, events in calls.by_call.items():
        if not any(e.name == "Hangup" for e in events) and ami.connected:
            # It may have ended meanwhile: an error here is no failure.
            with contextlib.suppress(Exception):
                await ami.send_action({"Action": "Hangup", "Channel": channel_id})


@pytest.fixture
async def agi(ami: AMIClient) -> AsyncIterator[AGIRoutes]:
    """A FastAGI server on a free port; the dialplan's COBRADOR_AGI_PORT points at it."""
    routes = AGIRoutes()
    server = FastAGIServer(routes={"answer": routes.answer}, request_timeout=20.0)
    await server.start("127.0.0.1", 0)
    await ami.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_AGI_PORT", "Value": str(server.port)}
    )
    yield routes
    await server.stop()
