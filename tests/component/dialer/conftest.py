"""A campaign wired end to end on real Redis and SQL: pbxsim speaking AMI and
calling our FastAGI server, the compliance service, and the dial loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.dialer_floor import (
    SHIFT_START,
    DialerProc,
    agent_bots,
    agents_on_shift,
    dialer_processes,
    load_reus,
)
from support.held_clock import HeldClock

from compliance.service import ComplianceService
from dialer import channel_vars as cv
from dialer.agent_state import AgentStates
from dialer.ami import AMIClient
from dialer.campaign_dialer import CampaignDialer, DialerOptions
from dialer.fastagi import FastAGIServer
from pbxsim.ami_server import AMIServer
from pbxsim.pbx import PBX
from pbxsim.scenario import Dist, Scenario
from store.models import Account, Campaign, Phone, RegisteredCallerId, User

SPEED = 20.0


class ShiftClock:
    """Wall time moved to the shift; `jump` moves it further (recycling tests); `hold`
    stops it until `release` (a deadline of the dialer's must not run out while the
    test sets up what happens before it, however slow the machine)."""

    def __init__(self, start: datetime) -> None:
        self.offset = start.timestamp() - time.time()
        self.held: float | None = None

    def __call__(self) -> float:
        return self.held if self.held is not None else time.time() + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds
        if self.held is not None:
            self.held += seconds

    def hold(self) -> None:
        if self.held is None:
            self.held = self()

    def release(self) -> None:
        """Time runs on from where it was held (the held time did not pass)."""
        if self.held is not None:
            self.offset = self.held - time.time()
            self.held = None


def scenario(seed: int = 11) -> Scenario:
    return Scenario(
        p_human=0.6, p_machine=0.1, p_busy=0.1, p_congestion=0.05, p_unallocated=0.0,
        ring_seconds=Dist("uniform", 1.0, 4.0), talk_seconds=Dist("uniform", 2.0, 6.0),
        machine_seconds=Dist("constant", 3.0), amd_human_seconds=0.5, amd_machine_seconds=1.0,
        safe_harbor_seconds=1.0, agent_answer_seconds=0.1, seed=seed,
    )  # fmt: skip


CALLER_ID = "5215550001000"


def register_caller_ids(session: Session, *numbers: str, country: str = "MX") -> None:
    """The numbers in the registered set (CONDUSEF/REDECO): a campaign dials only with these."""
    session.add_all(RegisteredCallerId(number=n, country=country, reference=f"TEST-{n}",
                                       created_by="test") for n in numbers)  # fmt: skip


def seed_campaign(engine: Engine, accounts: int, *, listed: set[int] = frozenset(),  # type: ignore[assignment]
                  agents: int = 3, registered: bool = True) -> tuple[int, list[int], dict[int, str]]:  # fmt: skip
    """A running MX campaign, `accounts` debtors in Mexico City with consent, agents;
    its caller ID registered unless `registered` is False."""
    numbers: dict[int, str] = {}
    with Session(engine) as s, s.begin():
        if registered:
            register_caller_ids(s, CALLER_ID)
        campaign = Campaign(name="mx-test", country="MX", profile="MX", dial_mode="progressive",
                            status="running", caller_ids=[CALLER_ID], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        users = [User(username=f"agente{i}", role="agent", password_hash="-", campaign_id=campaign.id)
                 for i in range(1, agents + 1)]  # fmt: skip
        s.add_all(users)
        for i in range(accounts):
            number = f"+5255{10000000 + i:08d}"
            account = Account(external_ref=f"R{i:05d}", debtor_name=f"Deudor {i}", country="MX",
                              region="MX-CMX", balance=Decimal("1000.00"), currency="MXN",
                              status="active", stage="firm", campaign_id=campaign.id)  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=number, phone_type="mobile",
                                        consent=True, consent_ref=f"EV-{i}"))  # fmt: skip
            s.add(account)
            s.flush()
            numbers[account.id] = number
        s.flush()
        return campaign.id, [u.id for u in users], numbers


@dataclass
class Floor:
    """The running system of one test."""

    engine: Engine
    redis: aioredis.Redis
    clock: ShiftClock
    pbx: PBX
    ami_server: AMIServer
    agi: FastAGIServer
    ami: AMIClient
    dialer: CampaignDialer
    agents: AgentStates
    agent_ids: list[int]
    numbers: dict[int, str]
    # pbxsim's time: a test holds it to act while a call rings (no answer, no ring-out).
    pbx_clock: HeldClock
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run_until(self, done: Callable[[], bool], wall_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + wall_seconds
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await self.dialer.tick()
            await asyncio.sleep(0.05)


@pytest.fixture
async def dialers() -> AsyncIterator[list[DialerProc]]:
    """Dialer processes a test starts (support.dialer_floor.start_dialer); those still
    running at its end are killed."""
    async with dialer_processes() as procs:
        yield procs


@pytest.fixture
async def make_floor(
    engine: Engine, redis_url: str, tmp_path: Path
) -> AsyncIterator[Callable[..., object]]:
    floors: list[Floor] = []
    redis_url_default = redis_url

    async def make(accounts: int = 20, *, listed_accounts: int = 0, agents: int = 3,
                   seed: int = 11, options: DialerOptions | None = None,
                   registered_caller_id: bool = True, redis_at: str | None = None,
                   calls: Scenario | None = None) -> Floor:  # fmt: skip
        """`redis_at`: another Redis than the test's (one the test stops and starts);
        `calls`: the debtors' behaviour, else `scenario(seed)`."""
        redis_url = redis_at or redis_url_default
        clock = ShiftClock(SHIFT_START)
        campaign_id, agent_ids, numbers = seed_campaign(engine, accounts, agents=agents,
                                                        registered=registered_caller_id)  # fmt: skip
        listed = [numbers[a] for a in list(numbers)[:listed_accounts]]
        load_reus(engine, redis_url, tmp_path, listed, datetime.fromtimestamp(clock(), UTC))
        client = aioredis.Redis.from_url(redis_url)
        compliance = ComplianceService(engine, client)
        with Session(engine, expire_on_commit=False) as s:
            campaign = s.get(Campaign, campaign_id)
            assert campaign is not None
        agi = FastAGIServer(routes={}, request_timeout=10.0)
        await agi.start("127.0.0.1", 0)
        pbx_clock = HeldClock(SPEED)
        pbx = PBX(calls or scenario(seed), clock=pbx_clock, agi_port=agi.port)
        ami_server = AMIServer(pbx, "cobrador", "secret")
        await ami_server.start("127.0.0.1", 0)
        ami = AMIClient("127.0.0.1", ami_server.port, "cobrador", "secret", action_timeout=3.0,
                        keepalive_interval=None, reconnect_backoff=(0.05, 0.2))  # fmt: skip
        await ami.connect()
        dialer = CampaignDialer(sql=engine, redis=client, ami=ami, compliance=compliance,
                                campaign=campaign, clock=clock,
                                options=replace(options or DialerOptions(owner="d1", refill_every_seconds=0.5),
                                                agi_port=agi.port))  # fmt: skip
        agi.routes[cv.SCRIPT_ANSWER] = dialer.agi_answer
        await dialer.start()
        agents = AgentStates(client, clock=clock)
        await agents_on_shift(agents, agent_ids, "mx-test")
        floor = Floor(engine, client, clock, pbx, ami_server, agi, ami, dialer, agents,
                      agent_ids, numbers, pbx_clock)  # fmt: skip
        floor.tasks.append(asyncio.create_task(agent_bots(agents, agent_ids, floor.stop)))
        floors.append(floor)
        return floor

    yield make
    for floor in floors:
        floor.stop.set()
        _, stuck = await asyncio.wait(floor.tasks, timeout=10) if floor.tasks else (set(), set())
        assert not stuck, f"agent bots did not stop: {stuck}"
        # Each part must stop on its own: a hang here names the part.
        for name, stop in (("dialer", floor.dialer.stop), ("ami client", floor.ami.close),
                           ("pbx", floor.pbx.stop), ("ami server", floor.ami_server.stop),
                           ("fastagi", floor.agi.stop), ("redis", floor.redis.aclose)):  # fmt: skip
            try:
                await asyncio.wait_for(stop(), 10)
            except TimeoutError:
                raise AssertionError(f"{name} did not stop within 10 s") from None
