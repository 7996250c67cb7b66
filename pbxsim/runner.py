"""Start and stop a pbxsim (PBX + AMI server) as one resource, for the demo and tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from dialer import channel_vars as cv
from pbxsim.ami_server import AMIServer
from pbxsim.clock import Clock, ScaledClock
from pbxsim.pbx import PBX
from pbxsim.recording import DEFAULT_CAP_SECONDS
from pbxsim.scenario import Scenario


@contextlib.asynccontextmanager
async def running_pbxsim(
    scenario: Scenario | None = None,
    *,
    ami_host: str = "127.0.0.1",
    ami_port: int = 0,
    username: str = "cobrador",
    secret: str = "cobrador-dev-secret",
    agi_host: str = "127.0.0.1",
    agi_port: int = cv.FASTAGI_PORT,
    speed: float = 1.0,
    clock: Clock | None = None,
    recordings_dir: Path | None = None,
    recording_cap_seconds: float = DEFAULT_CAP_SECONDS,
) -> AsyncIterator[AMIServer]:
    """`async with running_pbxsim(...) as server:` — AMI on `server.port`, the PBX on
    `server.pbx`; every call and connection is ended on exit."""
    pbx = PBX(
        scenario,
        clock=clock or ScaledClock(speed),
        agi_host=agi_host,
        agi_port=agi_port,
        recordings_dir=recordings_dir,
        recording_cap_seconds=recording_cap_seconds,
    )
    server = AMIServer(pbx, username, secret)
    await server.start(ami_host, ami_port)
    try:
        yield server
    finally:
        await server.stop()
        await pbx.stop()
