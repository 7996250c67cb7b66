"""A dialer process SIGKILLed with calls live while another one runs on the same
campaign and the same (simulated) Asterisk: the survivor's periodic reconciliation
closes the dead dialer's attempts with what Asterisk reported (answer, hang-up
time and cause) and releases their agents; no account is dialed twice."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
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
from test_multi_dialer import SPEED, seed

from compliance.transparency.verify import verify
from dialer.agent_state import AgentState
from dialer.liveness import members_key
from pbxsim.ami_server import AMIServer
from pbxsim.pbx import PBX
from pbxsim.scenario import Dist, Scenario

# Long conversations (3-5 s of wall time): the victim dies with agents on calls.
TALKERS = Scenario(
    p_human=0.8, p_machine=0.0, p_busy=0.1, p_congestion=0.1, p_unallocated=0.0,
    ring_seconds=Dist("uniform", 1.0, 4.0), talk_seconds=Dist("uniform", 60.0, 100.0),
    machine_seconds=Dist("constant", 3.0), amd_human_seconds=0.5, amd_machine_seconds=1.0,
    safe_harbor_seconds=1.0, agent_answer_seconds=0.1, seed=7,
)  # fmt: skip
RECONCILE = ("--reconcile-every", "0.5", "--orphan-grace", "0")
# The periodic pass, the orphan grace and the leases far longer than the test: only
# the heartbeat (dialer/liveness.py, its shipped TTL) can tell the survivor in time.
HEARTBEAT_ONLY = ("--reconcile-every", "3600", "--orphan-grace", "3600", "--lease-seconds", "3600")


@pytest.fixture
async def pbxsim() -> object:
    async with witnessed_pbxsim(TALKERS, SPEED) as floor:
        yield floor


@pytest.mark.parametrize("periods", [RECONCILE, HEARTBEAT_ONLY], ids=["periodic", "heartbeat"])
async def test_given_dialer_killed_with_calls_live_when_another_runs_then_attempts_closed_from_asterisk_and_agents_released(
    engine: Engine, database_url: str, redis_url: str, tmp_path: Path,
    pbxsim: tuple[PBX, AMIServer, PbxWitness], dialers: list[DialerProc], periods: tuple[str, ...],
) -> None:  # fmt: skip
    pbx, ami_server, witness = pbxsim
    agent_ids, by_number = seed(engine)
    shift = await shift_floor(engine, redis_url, tmp_path, agent_ids)
    offset, client, agents = shift.offset, shift.client, shift.agents
    async with bots_working(agents, agent_ids):
        # The survivor first: it hears every event of the victim's calls.
        for owner in ("survivor", "victim"):
            dialers.append(await start_dialer(owner, database_url, redis_url, ami_server.port,
                                              offset, tmp_path, extra=periods))  # fmt: skip
        survivor, victim = dialers

        def victim_live() -> list[PbxCall]:
            return [c for c in witness.calls.values()
                    if c.agi_port == victim.agi_port and c.ended is None]  # fmt: skip

        async def victim_talking() -> bool:
            # Two of the victim's calls bridged to agents right now.
            ours = {c.attempt_id for c in victim_live()}
            on = [a for a in [await agents.get(i) for i in agent_ids]
                  if a.state is AgentState.talking and a.attempt_id in ours]  # fmt: skip
            return len(on) >= 2

        await until(victim_talking, "the victim with two agents on calls", 45, 0.2)
        victim.proc.send_signal(signal.SIGKILL)
        await victim.proc.wait()
        killed = time.monotonic()
        killed_at = datetime.fromtimestamp(time.time() + offset, UTC)
        live_at_kill = {c.attempt_id: c for c in victim_live()}
        talking_at_kill = {a.agent_id: a.attempt_id for a in [await agents.get(i) for i in agent_ids]
                           if a.state is AgentState.talking and a.attempt_id in live_at_kill}  # fmt: skip
        assert len(talking_at_kill) >= 2
        last_at_kill = max(a.id for a in all_attempts(engine))

        async def victims_closed() -> bool:
            if any(live_at_kill[a].ended is None for a in live_at_kill):
                return False
            rows = {a.id: a for a in await asyncio.to_thread(all_attempts, engine)}
            if any(rows[a].result is None for a in live_at_kill):
                return False
            states = [await agents.get(i) for i in talking_at_kill]
            return all(s.attempt_id != talking_at_kill[s.agent_id]
                       or s.state not in (AgentState.talking, AgentState.reserved) for s in states)  # fmt: skip

        # Only the survivor's periodic pass can do it: no dialer starts or reconnects.
        await until(victims_closed, "the dead dialer's calls closed and agents released", 45, 0.2)

        async def dialing_again() -> bool:  # by itself: nobody restarts anything
            rows = await asyncio.to_thread(all_attempts, engine)
            return sum(1 for a in rows if a.id > last_at_kill and a.result is not None) >= 3

        await until(dialing_again, "the survivor placing and ending new calls", 45, 0.2)

        async def victim_forgotten() -> bool:  # its calls all closed: no longer looked at
            return not await client.hexists(members_key(CAMPAIGN), "victim")

        await until(
            victim_forgotten, "the dead dialer forgotten once its calls are closed", 45, 0.2
        )
        assert await client.hexists(members_key(CAMPAIGN), "survivor")
        survivor.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(survivor.proc.wait(), 20) == 0

    rows = {a.id: a for a in all_attempts(engine)}
    for attempt_id, call in live_at_kill.items():
        row = rows[attempt_id]
        assert call.ended is not None and call.ended > killed
        # The outcome and the end as Asterisk reported them, not a guess.
        if attempt_id in talking_at_kill.values():
            assert row.result == "contact", (attempt_id, row.result)
            assert row.agent_id in talking_at_kill and row.bridged_at is not None
            assert row.answered_at is not None
        assert row.result != "lost" or row.answered_at is not None, (attempt_id, row.result)
        assert row.ended_at is not None and row.ended_at.replace(tzinfo=UTC) > killed_at
        assert row.hangup_cause is not None
    # Never two live channels to one number (pbxsim's own view).
    by_number_calls: dict[str, list[PbxCall]] = defaultdict(list)
    for call in witness.calls.values():
        by_number_calls[call.number].append(call)
    for calls in by_number_calls.values():
        calls.sort(key=lambda c: c.started)
        for x, y in zip(calls, calls[1:], strict=False):
            assert x.ended is not None and x.ended <= y.started, (x, y)
    assert by_number  # every number seeded is one of the campaign's
    assert verify(engine).ok
    await client.aclose()
