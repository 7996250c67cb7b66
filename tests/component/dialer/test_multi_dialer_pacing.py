"""Three dialer processes on one campaign pace one floor: together they abandon no
more answered debtors than one dialer does, and a SIGKILL of one of them (whatever it
held: the pacing turn, calls in flight) leaves the other two pacing on their own.

The real floor this reproduces: three progressive dialers on one campaign abandoned
12 of 52 answered debtors (23 %), one dialer 0, because each paced from its own
ringing calls only. Here agents talk longer than the 2 s connect grace, so every
call placed beyond the floor's ready agents ends abandoned when answered.

Dialers are real processes (dialer_process.py, as in test_multi_dialer.py); pbxsim
runs in the test process and witnesses every debtor channel.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.dialer_floor import (
    CAMPAIGN,
    DialerProc,
    PbxCall,
    PbxWitness,
    all_attempts,
    bots_working,
    shift_floor,
    start_dialer,
    witnessed_pbxsim,
)
from support.polling import until

from dialer.floor import SharedFloor
from dialer.hopper import Hopper
from pbxsim.ami_server import AMIServer
from pbxsim.pbx import PBX
from pbxsim.scenario import Dist, Scenario
from store.models import Account, Campaign, Phone, RegisteredCallerId, User

ACCOUNTS = 45
AGENTS = 6
SPEED = 5.0  # pbxsim seconds per wall second


def seed(engine: Engine) -> list[int]:
    """A running progressive MX campaign, debtors in Mexico City with consent, agents."""
    with Session(engine) as s, s.begin():
        campaign = Campaign(name=CAMPAIGN, country="MX", profile="MX", dial_mode="progressive",
                            status="running", caller_ids=["5215550001000"], config={})  # fmt: skip
        s.add(campaign)
        s.add(RegisteredCallerId(number="5215550001000", country="MX", reference="TEST",
                                 created_by="test"))  # fmt: skip
        s.flush()
        users = [User(username=f"pace{i}", role="agent", password_hash="-", campaign_id=campaign.id)
                 for i in range(AGENTS)]  # fmt: skip
        s.add_all(users)
        for i in range(ACCOUNTS):
            account = Account(external_ref=f"P{i:05d}", debtor_name=f"Deudor {i}", country="MX",
                              region="MX-CMX", balance=Decimal("900.00"), currency="MXN",
                              status="active", stage="firm", campaign_id=campaign.id)  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=f"+5255{30000000 + i:08d}",
                                        phone_type="mobile", consent=True, consent_ref=f"EV-{i}"))  # fmt: skip
            s.add(account)
        s.flush()
        return [u.id for u in users]


@pytest.fixture
async def long_talks() -> AsyncIterator[tuple[PBX, AMIServer, PbxWitness]]:
    # In wall time: rings of 1-3 s (several ticks: calls of three dialers ring at once)
    # and talks of 3-5 s, longer than the dialer's 2 s connect grace, so a debtor
    # answered beyond the floor's ready agents is abandoned.
    scenario = Scenario(
        p_human=0.7, p_machine=0.0, p_busy=0.2, p_congestion=0.1, p_unallocated=0.0,
        ring_seconds=Dist("uniform", 5.0, 15.0), talk_seconds=Dist("uniform", 15.0, 25.0),
        amd_human_seconds=0.5, safe_harbor_seconds=1.0, agent_answer_seconds=0.1, seed=7,
    )  # fmt: skip
    async with witnessed_pbxsim(scenario, SPEED) as floor:
        yield floor


async def test_given_three_dialers_on_one_floor_when_one_is_killed_then_abandonment_as_one_dialer(
    engine: Engine, database_url: str, redis_url: str, tmp_path: Path,
    long_talks: tuple[PBX, AMIServer, PbxWitness], dialers: list[DialerProc],
) -> None:  # fmt: skip
    pbx, ami_server, witness = long_talks
    agent_ids = seed(engine)
    shift = await shift_floor(engine, redis_url, tmp_path, agent_ids)
    offset, client, agents = shift.offset, shift.client, shift.agents
    hopper = Hopper(client, CAMPAIGN)
    floor = SharedFloor(client, CAMPAIGN, "test")
    async with bots_working(agents, agent_ids):
        for owner in ("d1", "d2", "d3"):
            dialers.append(await start_dialer(owner, database_url, redis_url,
                                              ami_server.port, offset, tmp_path))  # fmt: skip

        async def all_three_publish() -> bool:
            return (await floor.read()).dialers == 3

        await until(all_three_publish, "the three dialers on the floor", 45, 0.2)
        # Mid-run, SIGKILL the dialer that holds leases (calls in flight) at that moment:
        # the turn moves between the dialers as their ticks fall, so which one is open.
        victims: list[DialerProc] = []

        async def one_busy() -> bool:
            rows = await asyncio.to_thread(all_attempts, engine)
            if len({a.account_id for a in rows}) < ACCOUNTS // 3:
                return False
            owners = set((await client.hgetall(hopper.owners_key)).values())
            victims[:] = [d for d in dialers if d.owner.encode() in owners]
            return bool(victims)

        await until(one_busy, "a third of the campaign dialed, a dialer on calls", 120, 0.2)
        victim = victims[0]
        victim.proc.send_signal(signal.SIGKILL)
        await victim.proc.wait()
        killed_at = time.monotonic()

        # The floor forgets the dead dialer's calls once its key expires; the other two
        # go on pacing (the turn it may have held expires too).
        async def two_left() -> bool:
            return (await floor.read()).dialers == 2

        await until(two_left, "the dead dialer gone from the floor", 45, 0.2)

        async def campaign_exhausted() -> bool:
            rows = await asyncio.to_thread(all_attempts, engine)
            sizes = await hopper.sizes()
            return (len({a.account_id for a in rows}) >= ACCOUNTS and not any(sizes.values())
                    and not witness.live())  # fmt: skip

        await until(campaign_exhausted, "every account dialed and every call ended", 240, 0.2)
        assert any(c.started > killed_at for c in witness.calls.values())  # dialing went on
        survivors = [d for d in dialers if d is not victim]
        for d in survivors:
            d.proc.send_signal(signal.SIGTERM)
        for d in survivors:
            assert await asyncio.wait_for(d.proc.wait(), 20) == 0, d.log.read_text()[-3000:]
    await client.aclose()

    rows = all_attempts(engine)
    # No double dial: never two live channels to one number (pbxsim's view).
    by_number: dict[str, list[PbxCall]] = defaultdict(list)
    for call in witness.calls.values():
        by_number[call.number].append(call)
    for calls in by_number.values():
        calls.sort(key=lambda c: c.started)
        for x, y in zip(calls, calls[1:], strict=False):
            assert x.ended is not None and x.ended <= y.started, (x, y)
    # Abandonment of the three together, as the law counts it: one progressive dialer
    # abandons nobody on this floor (a call per ready agent); three that each paced
    # from their own calls abandoned 4 of 33 answered debtors here (12 %). The floor's
    # ready agents are shared now: at most one debtor lost to a race of the kill.
    # The pacing invariant behind it, whatever the machine's load: one progressive floor
    # never has more debtors on the line than agents (each call is headed for a ready
    # agent or talking with one; a safe-harbor message or two aside). Three dialers that
    # each counted only their own calls had up to three times as many.
    edges = sorted([(c.started, 1) for c in witness.calls.values()]
                   + [(c.ended, -1) for c in witness.calls.values() if c.ended is not None])  # fmt: skip
    live = peak = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    assert peak <= AGENTS + 2, f"{peak} debtor calls live at once for {AGENTS} agents"
    persons = [a for a in rows if a.result in ("contact", "abandoned")]
    abandoned = [a for a in rows if a.result == "abandoned"]
    assert len(persons) >= ACCOUNTS // 3
    assert len(abandoned) <= 1, f"{len(abandoned)} of {len(persons)} answered debtors abandoned"
