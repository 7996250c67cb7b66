"""The dial loop (dialer.campaign_dialer) wired to the real Asterisk 22: an MX
campaign in SQL, the registry in Redis, our FastAGI server, agents with
nailed-up legs (Local/<id>@sim-agents) in their ConfBridges."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import redis
import redis.asyncio as aioredis
from asterisk_harness import seat_agent_legs
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.registry_import import import_registry
from compliance.service import ComplianceService
from dialer import channel_vars as cv
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient
from dialer.campaign_dialer import CampaignDialer, DialerOptions
from dialer.fastagi import FastAGIServer
from store.models import Account, CallAttempt, Campaign, Phone, RegisteredCallerId, User

# A Wednesday, 11:00 in Mexico City: inside every MX calling window.
SHIFT_START = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


class ShiftClock:
    """Wall time moved into the shift, so the MX rules allow calling now."""

    def __init__(self, start: datetime) -> None:
        self.offset = start.timestamp() - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


def seed_campaign(
    engine: Engine, numbers: list[str], agents: int, name: str = "mx-asterisk"
) -> tuple[int, list[int]]:
    with Session(engine) as s, s.begin():
        campaign = Campaign(name=name, country="MX", profile="MX",
                            dial_mode="progressive", status="running",
                            caller_ids=["5215550001000"], config={})  # fmt: skip
        s.add(campaign)
        registered = select(RegisteredCallerId).where(RegisteredCallerId.number == "5215550001000")
        if s.scalar(registered) is None:  # the registered set (CONDUSEF/REDECO)
            s.add(RegisteredCallerId(number="5215550001000", country="MX", reference="TEST",
                                     created_by="test"))  # fmt: skip
        s.flush()
        users = [User(username=f"{name}-gestor{i}", role="agent", password_hash="-",
                      campaign_id=campaign.id) for i in range(agents)]  # fmt: skip
        s.add_all(users)
        for i, number in enumerate(numbers):
            account = Account(external_ref=f"{name}-{i}", debtor_name=f"Deudor {i}", country="MX",
                              region="MX-CMX", balance=Decimal("500.00"), currency="MXN",
                              status="active", stage="firm", campaign_id=campaign.id)  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=number, phone_type="mobile",
                                        consent=True, consent_ref=f"EV-{i}"))  # fmt: skip
            s.add(account)
        s.flush()
        return campaign.id, [u.id for u in users]


def load_registry(engine: Engine, redis_url: str, tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "reus.txt"
    path.write_text("+525599999999\n")  # nobody of ours is listed
    client = redis.Redis.from_url(redis_url)
    import_registry(engine, client, name="reus", path=path, country="MX", now=now)
    client.close()


def attempts(engine: Engine, campaign_id: int | None = None) -> list[CallAttempt]:
    query = select(CallAttempt).order_by(CallAttempt.id)
    if campaign_id is not None:
        query = query.where(CallAttempt.campaign_id == campaign_id)
    with Session(engine) as s:
        return list(s.scalars(query))


def results_by_number(engine: Engine, campaign_id: int | None = None) -> dict[str, str | None]:
    with Session(engine) as s:
        phones = {p.account_id: p.number_e164 for p in s.scalars(select(Phone))}
    return {phones[a.account_id]: a.result for a in attempts(engine, campaign_id)}


@dataclass
class DialFloor:
    ami: AMIClient
    engine: Engine
    redis: aioredis.Redis
    agi: FastAGIServer
    dialer: CampaignDialer
    agents: AgentStates
    agent_ids: list[int]
    campaign_id: int
    legs: list[str] = field(default_factory=list)
    bots: asyncio.Task[None] | None = None
    stop_bots: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(
        cls,
        ami: AMIClient,
        engine: Engine,
        redis_url: str,
        tmp_path: Path,
        numbers: list[str],
        *,
        agents: int = 2,
        ring_timeout: float = 3.0,
        dialer_cls: type[CampaignDialer] = CampaignDialer,
        name: str = "mx-asterisk",
    ) -> DialFloor:
        clock = ShiftClock(SHIFT_START)
        campaign_id, agent_ids = seed_campaign(engine, numbers, agents, name)
        load_registry(engine, redis_url, tmp_path, datetime.fromtimestamp(clock(), UTC))
        client = aioredis.Redis.from_url(redis_url)
        with Session(engine, expire_on_commit=False) as s:
            campaign = s.get(Campaign, campaign_id)
            assert campaign is not None
        agi = FastAGIServer(routes={}, request_timeout=10.0)
        await agi.start("127.0.0.1", 0)
        dialer = dialer_cls(
            sql=engine, redis=client, ami=ami, compliance=ComplianceService(engine, client),
            campaign=campaign, clock=clock,
            options=DialerOptions(owner=f"it-{name}", refill_every_seconds=0.5,
                                  ring_timeout_seconds=ring_timeout, agi_port=agi.port),
        )  # fmt: skip
        agi.routes[cv.SCRIPT_ANSWER] = dialer.agi_answer
        agent_states = AgentStates(client, clock=clock)
        floor = cls(ami, engine, client, agi, dialer, agent_states, agent_ids, campaign_id)
        await floor._agents_ready(campaign.name)
        await dialer.start()
        return floor

    async def _agents_ready(self, campaign: str) -> None:
        """Each agent's leg sits in agent-<user id> before the agent goes ready."""
        await seat_agent_legs(self.ami, self.agent_ids, self.legs, 20)
        for agent_id in self.agent_ids:
            await self.agents.login(agent_id, campaign)
            await self.agents.set_ready(agent_id)
        self.bots = asyncio.create_task(self._ready_again())

    async def _ready_again(self) -> None:
        """Agents who finish wrap-up at once. Stopped by an event, not by cancellation:
        a redis-py call cancelled mid-flight can leave the task (and the loop's
        teardown) waiting forever."""
        while not self.stop_bots.is_set():
            for agent_id in self.agent_ids:
                if (await self.agents.get(agent_id)).state is AgentState.wrap_up:
                    await self.agents.set_ready(agent_id)
            await asyncio.sleep(0.05)

    async def run_until(
        self, done: Callable[[], bool], within: float = 90.0, what: str = "the dial loop"
    ) -> None:
        deadline = time.monotonic() + within
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.dialer.calls}")
            await self.dialer.tick()
            await asyncio.sleep(0.1)

    def finished(self, expected: int) -> bool:
        """`expected` attempts ended and everything about them written: the result in
        SQL and then the statistics, caps and agents in Redis (the Finisher owes
        nothing). The SQL result alone comes first, so a test reading the statistics
        right after it could find the call not counted yet."""
        rows = attempts(self.engine, self.campaign_id)
        return (
            len(rows) >= expected
            and all(a.result for a in rows)
            and not self.dialer.calls
            and not self.dialer.finisher.owed
        )

    async def close(self) -> None:
        if self.bots is not None:
            self.stop_bots.set()
            await self.bots
        await self.dialer.stop()
        for leg in self.legs:
            # Already gone after a restart: an error here is no failure.
            if self.ami.connected:
                with contextlib.suppress(Exception):
                    await self.ami.send_action({"Action": "Hangup", "Channel": leg})
        await self.agi.stop()
        await self.redis.aclose()
