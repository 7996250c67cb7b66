"""The default metrics source of the Prometheus test, driven by the real
dial loop on pbxsim: a progressive MX
campaign on SQLite and an embedded Redis, pbxsim answering over AMI and
calling our FastAGI server, agents who go ready again after each call. The
dialer's metrics are served as the `dialer` job; the console's side (pops,
dispositions, promises) is not running here, so the synthetic floor feeds the
metrics only the console sets; each job serves its role's metrics, as in
production (metrics/roles.py; see `metrics_targets` in conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import redis
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from cobrador.ground.redis_runtime import EmbeddedRedis
from compliance.registry_import import import_registry
from compliance.service import ComplianceService
from compliance.transparency.checkpointer import Checkpointer
from compliance.transparency.keeper import AuditLogKeeper
from compliance.transparency.witnesses import DirectoryWitness
from dialer import channel_vars as cv
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient
from dialer.campaign_dialer import CampaignDialer, DialerOptions
from dialer.fastagi import FastAGIServer
from metrics.http import MetricsServer
from metrics.roles import CONSOLE, DIALER, OUTREACH, registry_for
from metrics.synthetic import SyntheticFloor
from pbxsim.ami_server import AMIServer
from pbxsim.clock import ScaledClock
from pbxsim.pbx import PBX
from pbxsim.scenario import Dist, Scenario
from store.db import make_engine
from store.migrate import upgrade
from store.models import Account, Campaign, Phone, RegisteredCallerId, User

# A Wednesday, 11:00 in Mexico City: inside every MX calling window.
SHIFT_START = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
SPEED = 20.0
CAMPAIGN = "pbxsim_mx"
AGENTS = 3
ACCOUNTS = 60


class _ShiftClock:
    def __init__(self, start: datetime) -> None:
        self.offset = start.timestamp() - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


def _scenario() -> Scenario:
    return Scenario(
        p_human=0.6, p_machine=0.1, p_busy=0.1, p_congestion=0.05, p_unallocated=0.0,
        ring_seconds=Dist("uniform", 1.0, 4.0), talk_seconds=Dist("uniform", 2.0, 6.0),
        machine_seconds=Dist("constant", 3.0), amd_human_seconds=0.5, amd_machine_seconds=1.0,
        safe_harbor_seconds=1.0, agent_answer_seconds=0.1, seed=8,
    )  # fmt: skip


def _seed(engine: object) -> tuple[int, list[int]]:
    with Session(engine) as s, s.begin():  # type: ignore[call-overload]
        campaign = Campaign(name=CAMPAIGN, country="MX", profile="MX", dial_mode="progressive",
                            status="running", caller_ids=["5215550001000"], config={})  # fmt: skip
        s.add(campaign)
        s.add(RegisteredCallerId(number="5215550001000", country="MX", reference="TEST",
                                 created_by="test"))  # fmt: skip
        s.flush()
        users = [
            User(username=f"agente{i}", role="agent", password_hash="-", campaign_id=campaign.id)
            for i in range(1, AGENTS + 1)
        ]
        s.add_all(users)
        for i in range(ACCOUNTS):
            account = Account(external_ref=f"P{i:05d}", debtor_name=f"Deudor {i}", country="MX",
                              region="MX-CMX", balance=Decimal("1000.00"), currency="MXN",
                              status="active", stage="firm", campaign_id=campaign.id)  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=f"+5255{20000000 + i:08d}",
                                        phone_type="mobile", consent=True, consent_ref=f"EV-{i}"))  # fmt: skip
            s.add(account)
        s.flush()
        return campaign.id, [u.id for u in users]


async def _agent_bots(agents: AgentStates, ids: list[int]) -> None:
    while True:
        for agent_id in ids:
            if (await agents.get(agent_id)).state is AgentState.wrap_up:
                await agents.set_ready(agent_id)
        await asyncio.sleep(0.02)


async def _run(workdir: Path, redis_url: str, ready: dict[str, str], started: threading.Event,
               stop: asyncio.Event) -> None:  # fmt: skip
    clock = _ShiftClock(SHIFT_START)
    engine = make_engine(f"sqlite:///{workdir / 'cobrador.sqlite3'}")
    upgrade(engine)
    campaign_id, agent_ids = _seed(engine)
    registry_file = workdir / "reus.txt"
    registry_file.write_text("+525599999999\n")
    sync_redis = redis.Redis.from_url(redis_url)
    import_registry(engine, sync_redis, name="reus", path=registry_file, country="MX",
                    now=datetime.fromtimestamp(clock(), UTC))  # fmt: skip
    sync_redis.close()
    client = aioredis.Redis.from_url(redis_url)
    with Session(engine, expire_on_commit=False) as s:
        campaign = s.get(Campaign, campaign_id)
    assert campaign is not None
    agi = FastAGIServer(routes={}, request_timeout=10.0)
    await agi.start("127.0.0.1", 0)
    pbx = PBX(_scenario(), clock=ScaledClock(SPEED), agi_port=agi.port)
    ami_server = AMIServer(pbx, "cobrador", "secret")
    await ami_server.start("127.0.0.1", 0)
    ami = AMIClient("127.0.0.1", ami_server.port, "cobrador", "secret", action_timeout=3.0,
                    keepalive_interval=None, reconnect_backoff=(0.05, 0.2))  # fmt: skip
    await ami.connect()
    options = {"owner": "prom", "refill_every_seconds": 0.5}
    if "agi_port" in DialerOptions.__dataclass_fields__:  # the dialer names the FastAGI port
        options["agi_port"] = agi.port
    dialer = CampaignDialer(sql=engine, redis=client, ami=ami,
                            compliance=ComplianceService(engine, client), campaign=campaign,
                            clock=clock, options=DialerOptions(**options))  # type: ignore[arg-type]  # fmt: skip
    agi.routes[cv.SCRIPT_ANSWER] = dialer.agi_answer
    await dialer.start()
    agents = AgentStates(client, clock=clock)
    for agent_id in agent_ids:
        await agents.login(agent_id, CAMPAIGN)
        await agents.set_ready(agent_id)
    bots = asyncio.create_task(_agent_bots(agents, agent_ids))
    # The audit log's upkeep, as the dialer service runs it (checkpoints often, so
    # the audit-log panels have a checkpoint age and a witness to show).
    keeper = AuditLogKeeper(engine, Checkpointer(
        engine=engine, key=Ed25519PrivateKey.generate(),
        witnesses=[DirectoryWitness(workdir / "witness")], every_entries=5, every_seconds=1.0,
    ), every=0.5)  # fmt: skip
    upkeep = asyncio.create_task(keeper.run(stop))
    console_side = SyntheticFloor(random.Random(3), now=time.time())
    try:
        async with (
            MetricsServer("127.0.0.1", 0, registry_for(DIALER)) as dialer_metrics,
            MetricsServer("127.0.0.1", 0, registry_for(CONSOLE)) as console_metrics,
            MetricsServer("127.0.0.1", 0, registry_for(OUTREACH)) as outreach_metrics,
        ):
            ready["dialer"] = f"127.0.0.1:{dialer_metrics.port}"
            ready["console"] = f"127.0.0.1:{console_metrics.port}"
            ready["outreach"] = f"127.0.0.1:{outreach_metrics.port}"
            started.set()
            ticks = 0
            while not stop.is_set():
                await dialer.tick()
                ticks += 1
                if ticks % 5 == 0:
                    console_side.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.05)
    finally:
        bots.cancel()
        await asyncio.gather(bots, return_exceptions=True)
        stop.set()
        await asyncio.gather(upkeep, return_exceptions=True)
        await dialer.stop()
        await ami.close()
        await pbx.stop()
        await ami_server.stop()
        await agi.stop()
        await client.aclose()
        engine.dispose()


@contextlib.contextmanager
def pbxsim_dialer_run(workdir: Path) -> Iterator[dict[str, str]]:
    ready: dict[str, str] = {}
    started = threading.Event()
    failure: list[BaseException] = []
    holder: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        stop = asyncio.Event()
        holder.append((loop, stop))
        try:
            with EmbeddedRedis() as server:
                loop.run_until_complete(_run(workdir, server.url, ready, started, stop))
        except BaseException as exc:  # reported to the test thread
            failure.append(exc)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="pbxsim-dialer", daemon=True)
    thread.start()
    if not started.wait(60) or failure:
        raise RuntimeError(f"pbxsim dialer run did not start: {failure!r}")
    try:
        yield dict(ready)
    finally:
        loop, stop = holder[0]
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed between the check and the call
                loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        if failure:
            raise RuntimeError(f"pbxsim dialer run failed: {failure!r}")
