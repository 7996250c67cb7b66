"""`cobrador dialer run` as a real process serving inbound calls from pbxsim:
its /metrics carries the inbound gauges of a campaign whose outbound dial loop is
stopped or not run at all, and what a killed dialer leaves (a caller in queue, a
bridged call) is closed as lost by the next one, with audit entries, the queue
and the wallboard no longer counting the caller as waiting.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import urllib.request
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.inbound_support import DID, inbound_attempts
from support.polling import until
from support.ports import free_port

from compliance.transparency.verify import verify
from dialer.agent_state import AgentState, AgentStates
from dialer.command_replies import REFUSED, Reply, new_request_id, wait_reply
from dialer.inbound.housekeeping import LOST_CALL, LOST_WAITING
from dialer.inbound.queue import calls_key, waiting_key
from dialer.messages import COMMANDS_CHANNEL, wallboard_key
from pbxsim.ami_server import AMIServer
from pbxsim.clock import ScaledClock
from pbxsim.pbx import PBX
from pbxsim.scenario import Dist, Scenario
from store.models import Account, AuditEntry, Campaign, Phone, Recording, User

CAMPAIGN = "mx-test"
NUMBER = "+525510000000"
ALWAYS_OPEN = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ROOT = Path(__file__).parents[3]


def seed(engine: Engine) -> int:
    """A stopped campaign that answers its DID around the clock, a debtor, an agent;
    and a second campaign without numbers (a dial loop that never sees inbound)."""
    with Session(engine) as s, s.begin():
        campaign = Campaign(name=CAMPAIGN, country="MX", profile="MX", dial_mode="progressive",
                            status="stopped", caller_ids=[DID],
                            config={"inbound": {"timezone": "UTC", "hours": ALWAYS_OPEN}})  # fmt: skip
        s.add(campaign)
        s.add(Campaign(name="otra", country="MX", profile="MX", status="running", caller_ids=[],
                       config={}))  # fmt: skip
        s.flush()
        agent = User(username="agente1", role="agent", password_hash="-", campaign_id=campaign.id)
        s.add(agent)
        account = Account(external_ref="R00001", debtor_name="Deudor", country="MX",
                          region="MX-CMX", balance=Decimal("1000.00"), currency="MXN",
                          status="active", stage="firm", campaign_id=campaign.id)  # fmt: skip
        account.phones.append(Phone(position=1, number_e164=NUMBER, consent=True))
        s.add(account)
        s.flush()
        return int(agent.id)


@dataclass
class DialerProcess:
    proc: asyncio.subprocess.Process
    metrics_port: int
    lines: list[str] = field(default_factory=list)
    drain: asyncio.Task[None] | None = None

    @property
    def owner(self) -> str:
        for line in self.lines:
            found = re.search(r"dialer (\S+): campaigns", line)
            if found:
                return found.group(1)
        raise AssertionError("dialer never said its name")

    def metric(self, name: str, **labels: str) -> float | None:
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (local test server)
            text = resp.read().decode()
        for line in text.splitlines():
            if line.startswith(f"{name}{{{wanted}}} "):
                return float(line.rsplit(" ", 1)[1])
        return None


@pytest.fixture
async def floor(engine: Engine, database_url: str, redis_url: str,
                tmp_path: Path) -> AsyncIterator[Any]:  # fmt: skip
    agent_id = seed(engine)
    agi_port = free_port()
    scenario = Scenario(p_human=1.0, p_machine=0.0, p_busy=0.0, p_congestion=0.0,
                        p_unallocated=0.0, ring_seconds=Dist("constant", 1.0),
                        talk_seconds=Dist("constant", 5.0), machine_seconds=Dist("constant", 3.0),
                        amd_human_seconds=0.5, amd_machine_seconds=1.0, safe_harbor_seconds=1.0,
                        agent_answer_seconds=0.1, seed=3)  # fmt: skip
    pbx = PBX(scenario, clock=ScaledClock(20.0), agi_port=agi_port)
    ami = AMIServer(pbx, "cobrador", "secret")
    await ami.start("127.0.0.1", 0)
    client = aioredis.Redis.from_url(redis_url)
    procs: list[DialerProcess] = []
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "COBRADOR_DATA_DIR": str(tmp_path / "data"), "COBRADOR_AMI_PORT": str(ami.port),
           "COBRADOR_AMI_SECRET": "secret", "COBRADOR_FASTAGI_PORT": str(agi_port),
           "COBRADOR_AGENT_ENDPOINT": "", "PYTHONUNBUFFERED": "1"}  # fmt: skip

    async def start(*args: str, **more_env: str) -> DialerProcess:
        metrics_port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cobrador.cli", "dialer", "run", *args, cwd=ROOT,
            env={**env, "COBRADOR_METRICS_PORT": str(metrics_port), **more_env},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        dialer = DialerProcess(proc, metrics_port)

        async def drain() -> None:  # read everything: a full pipe would stop the dialer
            assert proc.stderr is not None
            async for raw in proc.stderr:
                dialer.lines.append(raw.decode(errors="replace"))

        dialer.drain = asyncio.create_task(drain())
        procs.append(dialer)
        await until(lambda: any(": campaigns " in line for line in dialer.lines),
                    lambda: "".join(dialer.lines[-30:]), 60)  # fmt: skip
        return dialer

    yield pbx, client, AgentStates(client), agent_id, start
    for dialer in procs:
        if dialer.proc.returncode is None:
            dialer.proc.kill()
        await dialer.proc.wait()
        if dialer.drain is not None:
            await dialer.drain
    await pbx.stop()
    await ami.stop()
    await client.aclose()


def metric_is(dialer: DialerProcess, name: str, value: float, **labels: str) -> Any:
    return asyncio.to_thread(lambda: dialer.metric(name, **labels) == value)


async def test_given_campaign_with_no_dial_loop_when_a_caller_waits_and_hangs_up_then_metrics_show_it(
    floor: Any,
) -> None:  # fmt: skip
    pbx, client, agents, agent_id, start = floor
    dialer = await start("--campaign", "otra")  # no dial loop for mx-test
    labels = {"campaign": CAMPAIGN}
    # From the start, before any call: the series exist at 0.
    await until(lambda: metric_is(dialer, "cobrador_inbound_waiting_callers", 0.0, **labels))
    assert dialer.metric("cobrador_inbound_answered_total", **labels) == 0.0
    channel = pbx.inbound_call(DID, NUMBER)  # no agent is logged in: the caller waits
    await until(lambda: metric_is(dialer, "cobrador_inbound_waiting_callers", 1.0, **labels))
    await until(lambda: asyncio.to_thread(
        lambda: (dialer.metric("cobrador_inbound_longest_wait_seconds", **labels) or 0) > 0))  # fmt: skip
    pbx.request_hangup(channel, 16)
    await until(lambda: metric_is(dialer, "cobrador_inbound_abandoned_total", 1.0, **labels))
    await until(lambda: metric_is(dialer, "cobrador_inbound_waiting_callers", 0.0, **labels))
    await until(lambda: metric_is(dialer, "cobrador_inbound_service_level_ratio", 0.0,
                                  campaign=CAMPAIGN, window="1h"))  # fmt: skip
    assert dialer.metric("cobrador_inbound_longest_wait_seconds", **labels) == 0.0
    # The campaign without numbers takes no inbound: no series for it.
    assert dialer.metric("cobrador_inbound_waiting_callers", campaign="otra") is None
    dialer.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(dialer.proc.wait(), 30) == 0


async def test_given_a_dialer_killed_with_a_caller_in_queue_and_one_bridged_then_the_next_closes_both_as_lost(
    floor: Any, engine: Engine
) -> None:  # fmt: skip
    pbx, client, agents, agent_id, start = floor
    first = await start()  # every campaign's loop; mx-test is stopped
    await agents.login(agent_id, CAMPAIGN)
    await agents.set_ready(agent_id)
    bridged = pbx.inbound_call(DID, NUMBER)  # takes the only agent
    await until(lambda: agents_state(agents, agent_id, AgentState.talking))
    waiting = pbx.inbound_call(DID, "")  # waits: nobody is free
    # This caller's own queue entry (its call id is the channel's uniqueid): the dialer
    # opens the attempt row, plays the greeting, then queues the caller, and the bridged
    # caller passed through the queue too, so a queue count of 1 (and a wallboard
    # showing 1) can be the bridged caller's. A fresh-clone CI killed the dialer while
    # this caller was still in its greeting: an empty queue after the kill.
    await until(lambda: _is_not_none(client.zscore(waiting_key(CAMPAIGN), waiting.uniqueid)))
    await until(lambda: asyncio.to_thread(
        lambda: any(a.phone_e164 == "" for a in inbound_attempts(engine))))  # fmt: skip

    async def board_waiting() -> int | None:
        raw = await client.get(wallboard_key(CAMPAIGN))
        return json.loads(raw)["inbound"]["waiting"] if raw else None

    # The stopped campaign's wallboard still shows its queue.
    await until(lambda: _equals(board_waiting(), 1))
    owner = first.owner
    first.proc.send_signal(signal.SIGKILL)
    await first.proc.wait()
    await waiting.gone.wait()  # its FastAGI link died with the dialer: Asterisk hangs up
    # The bridged call ends while no dialer listens: its `inbound_end` reaches nobody.
    pbx.request_hangup(bridged, 16)
    await bridged.gone.wait()
    rows = {a.phone_e164: a for a in inbound_attempts(engine)}
    assert rows[NUMBER].result is None and rows[""].result is None
    assert await client.zcard(waiting_key(CAMPAIGN)) == 1

    second = await start()
    await until(lambda: all(a.result for a in inbound_attempts(engine)), within=60)
    rows = {a.phone_e164: a for a in inbound_attempts(engine)}
    assert rows[NUMBER].result == "lost" and rows[NUMBER].agent_id == agent_id
    assert rows[""].result == "lost" and rows[""].ended_at is not None
    assert await client.zcard(waiting_key(CAMPAIGN)) == 0
    assert await client.hlen(calls_key(CAMPAIGN)) == 0
    # The agent left on the lost call can write what happened, then go on.
    assert (await agents.get(agent_id)).state is AgentState.wrap_up
    with Session(engine) as s:
        ends = [json.loads(e.payload) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "inbound_end", AuditEntry.actor.like("dialer:%"))
        )]  # fmt: skip
    by_attempt = {e["attempt_id"]: e for e in ends}
    assert by_attempt[rows[""].id]["reason"] == LOST_WAITING
    assert by_attempt[rows[NUMBER].id]["reason"] == LOST_CALL
    assert {e["dead_dialer"] for e in ends} == {owner}
    assert verify(engine).ok
    labels = {"campaign": CAMPAIGN}
    assert second.metric("cobrador_inbound_lost_total", **labels) == 2.0
    assert second.metric("cobrador_inbound_waiting_callers", **labels) == 0.0
    await until(lambda: _equals(board_waiting(), 0))
    second.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.proc.wait(), 30) == 0


async def test_given_a_dialer_run_for_another_campaign_when_it_answers_an_inbound_call_then_it_is_recorded_and_its_agent_can_hang_up(
    floor: Any, engine: Engine
) -> None:  # fmt: skip
    pbx, client, agents, agent_id, start = floor
    with Session(engine) as s, s.begin():
        campaign = s.scalars(select(Campaign).where(Campaign.name == CAMPAIGN)).one()
        campaign.config = {**campaign.config, "recording": "all"}
    # The dialplan sends every DID to this process, though it dials only `otra`.
    await start("--campaign", "otra")
    await agents.login(agent_id, CAMPAIGN)
    await agents.set_ready(agent_id)
    caller = pbx.inbound_call(DID, NUMBER)
    await until(lambda: agents_state(agents, agent_id, AgentState.talking))
    await until(lambda: caller.mixmonitor is not None)  # recorded as mx-test says
    # Bridged as the console sees it (the pop follows): before that the dialer does
    # not hold the call yet and nobody answers a command (a race CI lost under load).
    await until(lambda: [a.bridged_at is not None for a in inbound_attempts(engine)] == [True])
    (attempt,) = inbound_attempts(engine)

    async def console(agent: int, kind: str = "hangup") -> Reply | None:  # as agent_views sends it
        request_id = new_request_id()
        await client.publish(COMMANDS_CHANNEL, json.dumps({
            "type": kind, "attempt_id": attempt.id, "agent_id": agent,
            "request_id": request_id}))  # fmt: skip
        return await wait_reply(client, request_id, 5.0)

    assert await console(agent_id + 1000) == Reply(False, REFUSED)  # not that agent's call
    assert await console(agent_id, "transfer") == Reply(False, REFUSED)  # never inbound
    assert not caller.hungup
    assert await console(agent_id) == Reply(True)
    await caller.gone.wait()
    await until(lambda: [a.result for a in inbound_attempts(engine)] == ["contact"])
    await until(lambda: agents_state(agents, agent_id, AgentState.wrap_up))

    def recording() -> Recording | None:
        with Session(engine) as s:
            return s.scalar(select(Recording).where(Recording.attempt_id == attempt.id))

    await until(recording)
    row = recording()
    assert row is not None and row.status == "ok" and row.size_bytes


async def test_given_a_dialer_stalled_longer_than_its_alive_key_when_its_calls_are_live_then_the_others_leave_them_alone(
    floor: Any, engine: Engine
) -> None:  # fmt: skip
    pbx, client, agents, agent_id, start = floor
    first = await start()
    await agents.login(agent_id, CAMPAIGN)
    await agents.set_ready(agent_id)
    bridged = pbx.inbound_call(DID, NUMBER)  # takes the only agent
    await until(lambda: agents_state(agents, agent_id, AgentState.talking))
    waiting = pbx.inbound_call(DID, "")  # waits: nobody is free
    await until(lambda: client.zcard(waiting_key(CAMPAIGN)))
    # Another dialer on the same Asterisk (its own FastAGI port: Asterisk keeps the first's).
    second = await start("--campaign", "otra", COBRADOR_FASTAGI_PORT=str(free_port()))
    first.proc.send_signal(signal.SIGSTOP)  # stalled: alive, silent past its 15 s
    try:
        # The second has found the first silent: it spared both calls (or closed them).
        await until(lambda: sum("is live on Asterisk; not closed" in line
                                for line in second.lines) == 2
                    or any(a.result for a in inbound_attempts(engine)), within=90)  # fmt: skip
        rows = {a.phone_e164: a for a in inbound_attempts(engine)}
        assert rows[NUMBER].result is None and rows[""].result is None
        assert (await agents.get(agent_id)).state is AgentState.talking
        assert await client.zcard(waiting_key(CAMPAIGN)) == 1  # the caller still waits
    finally:
        first.proc.send_signal(signal.SIGCONT)
    # Back: the calls end as their dialer sees them, the caller who waited hangs up.
    pbx.request_hangup(waiting, 16)
    pbx.request_hangup(bridged, 16)
    await until(lambda: all(a.result for a in inbound_attempts(engine)), within=60)
    rows = {a.phone_e164: a for a in inbound_attempts(engine)}
    assert rows[NUMBER].result == "contact" and rows[NUMBER].agent_id == agent_id
    assert rows[""].result == "queue_abandoned"
    assert second.metric("cobrador_inbound_lost_total", campaign=CAMPAIGN) == 0.0
    await until(lambda: agents_state(agents, agent_id, AgentState.wrap_up))
    for dialer in (first, second):
        dialer.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(dialer.proc.wait(), 30) == 0


async def agents_state(agents: AgentStates, agent_id: int, state: AgentState) -> bool:
    return (await agents.get(agent_id)).state is state


async def _equals(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected


async def _is_not_none(value: Awaitable[Any]) -> bool:
    return await value is not None
