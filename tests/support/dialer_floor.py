"""Several real dialer processes on one campaign against one pbxsim in the test
process: starting them (tests/component/dialer/dialer_process.py), pbxsim's own
witness of every debtor channel, agents who never linger in wrap-up."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.registry_import import import_registry
from dialer import channel_vars as cv
from dialer.agent_state import AgentState, AgentStates
from dialer.ami.codec import Header
from pbxsim.ami_server import AMIServer
from pbxsim.clock import ScaledClock
from pbxsim.pbx import PBX
from pbxsim.scenario import Scenario
from store.models import CallAttempt

ROOT = Path(__file__).resolve().parents[2]
DIALER_PROCESS = ROOT / "tests" / "component" / "dialer" / "dialer_process.py"
# A Wednesday, 11:00 in Mexico City: inside every MX window, not a holiday.
SHIFT_START = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
CAMPAIGN = "mx-multi"
LEASE_SECONDS = 3.0
CALL_PREFIX = cv.originate_channel_id("")


@dataclass
class PbxCall:
    """One debtor call as pbxsim saw it (wall-clock monotonic seconds)."""

    attempt_id: int
    number: str
    started: float
    ended: float | None = None
    agi_port: str = ""


@dataclass(eq=False)  # hashable: pbxsim keeps its sinks in a set
class PbxWitness:
    """Subscribed to pbxsim itself: every debtor channel it created and ended."""

    calls: dict[int, PbxCall] = field(default_factory=dict)

    def __call__(self, event: list[Header]) -> None:
        headers = dict(event)
        uid = headers.get("Uniqueid", "")
        if not uid.startswith(CALL_PREFIX) or ";" in uid:
            return
        attempt_id = int(uid[len(CALL_PREFIX) :])
        name = headers["Event"]
        if name == "Newchannel":
            self.calls[attempt_id] = PbxCall(attempt_id, "+" + headers["Exten"], time.monotonic())
        elif name == "VarSet" and headers.get("Variable") == cv.AGI_PORT:
            self.calls[attempt_id].agi_port = headers.get("Value", "")
        elif name == "Hangup":
            self.calls[attempt_id].ended = time.monotonic()

    def live(self) -> int:
        return sum(1 for c in self.calls.values() if c.ended is None)


@asynccontextmanager
async def witnessed_pbxsim(
    scenario: Scenario, speed: float
) -> AsyncIterator[tuple[PBX, AMIServer, PbxWitness]]:
    """pbxsim with its AMI server on a free port, and its witness subscribed."""
    pbx = PBX(scenario, clock=ScaledClock(speed))
    witness = PbxWitness()
    pbx.subscribe(witness)
    server = AMIServer(pbx, "cobrador", "secret")
    await server.start("127.0.0.1", 0)
    try:
        yield pbx, server, witness
    finally:
        await pbx.stop()
        await server.stop()


@dataclass
class DialerProc:
    owner: str
    proc: asyncio.subprocess.Process
    log: Path
    agi_port: str = ""


@asynccontextmanager
async def dialer_processes() -> AsyncIterator[list[DialerProc]]:
    """The list a test appends its dialers to; those still running are killed at the end."""
    procs: list[DialerProc] = []
    try:
        yield procs
    finally:
        for d in procs:
            if d.proc.returncode is None:
                d.proc.kill()
                await d.proc.wait()


async def start_dialer(owner: str, database_url: str, redis_url: str, ami_port: int,
                       offset: float, log_dir: Path, extra: tuple[str, ...] = (),
                       campaign: str = CAMPAIGN) -> DialerProc:  # fmt: skip
    """A dialer process on `campaign`; returns once it says it is ready (its log on failure)."""
    log = log_dir / f"{owner}.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(DIALER_PROCESS), "--database-url", database_url,
            "--redis-url", redis_url, "--ami-port", str(ami_port), "--campaign", campaign,
            "--owner", owner, "--clock-offset", repr(offset), "--lease-seconds",
            str(LEASE_SECONDS), *extra,
            stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=ROOT,
        )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"ready"):
            raise AssertionError(f"dialer {owner} did not start: {log.read_text()[-2000:]}")
    except BaseException:
        # Never left running: it would go on dialing (and reloading the registry)
        # in the Redis database and SQL of the tests that come after.
        proc.kill()
        await proc.wait()
        raise
    return DialerProc(owner, proc, log, line.split(b"agi_port=")[1].strip().decode())


def load_reus(
    engine: Engine, redis_url: str, workdir: Path, listed: Sequence[str], now: datetime
) -> None:
    """A fresh REUS list (the final check needs one loaded) naming `listed`, else an
    unrelated number, imported at `now` (the shifted time the dialers run at)."""
    reus = workdir / "reus.txt"
    reus.write_text("\n".join(listed or ["+525599999999"]) + "\n")
    client = redis.Redis.from_url(redis_url)
    try:
        import_registry(engine, client, name="reus", path=reus, country="MX", now=now)
    finally:
        client.close()


@dataclass
class ShiftFloor:
    """What the test shares with its dialer processes: the offset of their clock
    (`--clock-offset`, moving them to SHIFT_START), a Redis client (the caller closes
    it) and the agents, on that clock."""

    offset: float
    client: aioredis.Redis
    agents: AgentStates


async def shift_floor(engine: Engine, redis_url: str, workdir: Path,
                      agent_ids: list[int]) -> ShiftFloor:  # fmt: skip
    """The floor at SHIFT_START: REUS loaded at that time (nobody listed), every
    agent logged in to CAMPAIGN and ready."""
    offset = SHIFT_START.timestamp() - time.time()
    load_reus(engine, redis_url, workdir, [], datetime.fromtimestamp(time.time() + offset, UTC))
    client = aioredis.Redis.from_url(redis_url)
    agents = AgentStates(client, clock=lambda: time.time() + offset)
    await agents_on_shift(agents, agent_ids)
    return ShiftFloor(offset, client, agents)


@asynccontextmanager
async def bots_working(agents: AgentStates, ids: list[int]) -> AsyncIterator[None]:
    """agent_bots for the block, stopped (never cancelled) when it is left."""
    stop = asyncio.Event()
    bots = asyncio.create_task(agent_bots(agents, ids, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(bots, return_exceptions=True)


async def agents_on_shift(agents: AgentStates, ids: list[int], campaign: str = CAMPAIGN) -> None:
    """Every agent logged in to the campaign and ready."""
    for agent_id in ids:
        await agents.login(agent_id, campaign)
        await agents.set_ready(agent_id)


async def agent_bots(agents: AgentStates, ids: list[int], stop: asyncio.Event) -> None:
    """Agents who finish wrap-up at once: ready again for the next call. Stopped by
    `stop`, never cancelled: a redis-py command cancelled mid-flight can hang."""
    while not stop.is_set():
        with contextlib.suppress(RedisError, OSError):  # Redis away: retried, as people do
            for agent_id in ids:
                if (await agents.get(agent_id)).state is AgentState.wrap_up:
                    await agents.set_ready(agent_id)
        await asyncio.sleep(0.02)


def all_attempts(engine: Engine) -> list[CallAttempt]:
    with Session(engine) as s:
        return list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))
