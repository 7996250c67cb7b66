"""The whole dial loop (dialer.campaign_dialer) against the real Asterisk 22:
compliance, hopper, Originate, FastAGI on answer, agent bridges, results in SQL.
The debtors' numbers end in sim-customers suffixes, so each result is known."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from asterisk_harness import (
    CallWatcher,
    ChrootAsterisk,
    next_attempt_id,
    originate_agent,
    wait_until,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.registry_import import import_registry
from compliance.service import ComplianceService
from dialer import channel_vars as cv
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient
from dialer.campaign_dialer import CampaignDialer, DialerOptions
from dialer.fastagi import FastAGIServer
from store.models import Account, CallAttempt, Campaign, Phone, User

# A Wednesday, 11:00 in Mexico City: inside every MX calling window.
SHIFT_START = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
# Mexico City numbers whose last three digits pick the sim-customers behaviour.
EXPECTED = {
    "+525510000101": "contact",  # a person answers after 1 s, an agent takes it
    "+525510000201": "machine",
    "+525510000301": "busy",
    "+525510000401": "no_answer",
    "+525510000501": "failed",  # congestion
    "+525510000601": "failed",  # unallocated number
}


class ShiftClock:
    """Wall time moved into the shift, so the MX rules allow calling now."""

    def __init__(self, start: datetime) -> None:
        self.offset = start.timestamp() - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


def seed_campaign(engine: Engine, agents: int) -> tuple[int, list[int]]:
    with Session(engine) as s, s.begin():
        campaign = Campaign(name="mx-asterisk", country="MX", profile="MX",
                            dial_mode="progressive", status="running",
                            caller_ids=["5215550001000"], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        users = [User(username=f"gestor{i}", role="agent", password_hash="-",
                      campaign_id=campaign.id) for i in range(agents)]  # fmt: skip
        s.add_all(users)
        for i, number in enumerate(EXPECTED):
            account = Account(external_ref=f"A{i}", debtor_name=f"Deudor {i}", country="MX",
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


async def ready_again(agents: AgentStates, ids: list[int]) -> None:
    """Agents who finish wrap-up at once."""
    while True:
        for agent_id in ids:
            if (await agents.get(agent_id)).state is AgentState.wrap_up:
                await agents.set_ready(agent_id)
        await asyncio.sleep(0.05)


@pytest.fixture
async def talk_briefly(ami: AMIClient) -> AsyncIterator[None]:
    await ami.send_action({"Action": "Setvar", "Variable": "SIM_TALK_SECONDS", "Value": "3"})
    yield
    await ami.send_action({"Action": "Setvar", "Variable": "SIM_TALK_SECONDS", "Value": "30"})


def joined(watcher: CallWatcher, channel: str) -> Callable[[], bool]:
    return lambda: watcher.has(channel, "ConfbridgeJoin")


def attempts(engine: Engine) -> list[CallAttempt]:
    with Session(engine) as s:
        return list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))


async def test_given_campaign_on_real_asterisk_when_dialed_then_every_result_is_recorded(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    talk_briefly: None,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    clock = ShiftClock(SHIFT_START)
    campaign_id, agent_ids = seed_campaign(engine, agents=2)
    load_registry(engine, redis_url, tmp_path, datetime.fromtimestamp(clock(), UTC))
    client = aioredis.Redis.from_url(redis_url)
    with Session(engine, expire_on_commit=False) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
    agi = FastAGIServer(routes={}, request_timeout=10.0)
    await agi.start("127.0.0.1", 0)
    dialer = CampaignDialer(
        sql=engine, redis=client, ami=ami, compliance=ComplianceService(engine, client),
        campaign=campaign, clock=clock,
        options=DialerOptions(owner="it-asterisk", refill_every_seconds=0.5,
                              ring_timeout_seconds=3.0, agi_port=agi.port),
    )  # fmt: skip
    agi.routes[cv.SCRIPT_ANSWER] = dialer.agi_answer
    agents = AgentStates(client, clock=clock)
    legs = []
    bots: asyncio.Task[None] | None = None
    try:
        # Each agent's nailed-up leg sits in agent-<user id> before the agent is ready.
        for agent_id in agent_ids:
            leg = f"cobrador-agent-{next_attempt_id()}"
            legs.append(leg)
            await ami.send_action(originate_agent(agent_id, leg))
            await wait_until(joined(watcher, leg), what=leg)
            await agents.login(agent_id, campaign.name)
            await agents.set_ready(agent_id)
        bots = asyncio.create_task(ready_again(agents, agent_ids))
        await dialer.start()

        def all_done() -> bool:
            rows = attempts(engine)
            return len(rows) >= len(EXPECTED) and all(a.result for a in rows) and not dialer.calls

        await run_dialer(dialer, all_done, within=90)
    finally:
        if bots is not None:
            bots.cancel()
        await dialer.stop()
        for leg in legs:
            await ami.send_action({"Action": "Hangup", "Channel": leg})
        await agi.stop()
        await client.aclose()

    with Session(engine) as s:
        phones = {p.account_id: p.number_e164 for p in s.scalars(select(Phone))}
    results = {phones[a.account_id]: a.result for a in attempts(engine)}
    assert results == EXPECTED
    contact = next(a for a in attempts(engine) if a.result == "contact")
    assert contact.agent_id in agent_ids
    assert contact.bridged_at is not None and contact.answered_at is not None
    # The debtor really sat in that agent's ConfBridge on Asterisk.
    assert watcher.has(
        f"cobrador-{contact.id}", "ConfbridgeJoin", Conference=f"agent-{contact.agent_id}"
    )


async def run_dialer(dialer: CampaignDialer, done: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"dial loop did not finish in {within:g} s: {dialer.calls}")
        await dialer.tick()
        await asyncio.sleep(0.1)
