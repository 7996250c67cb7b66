"""Inbound beats outbound across campaigns, with the real dial loop on pbxsim: a caller
of another campaign whom the freed agent may take (the agent is in that campaign's
skill group, or the caller is past its overflow limit) gets the agent before this
campaign's answered debtor waiting in the connect grace."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.inbound_support import Pops, inbound_attempts, wire_inbound
from support.polling import until

from compliance.transparency.verify import verify
from dialer import channel_vars as cv
from dialer.agent_state import AgentSnapshot, AgentState
from dialer.call_state import CallState
from dialer.campaign_dialer import DialerOptions
from dialer.inbound.queue import InboundQueue
from dialer.inbound.skills import add_agents, create_group
from pbxsim import scenario as sc
from pbxsim.pbx import SAFE_HARBOR
from pbxsim.scenario import NumberOverride
from store.models import CallAttempt, Campaign

OTHER_DID = "5215550002000"  # campaign "otra": no agents of its own, no dial loop


def other_campaign(engine: Engine, inbound: dict[str, Any]) -> None:
    with Session(engine) as s, s.begin():
        s.add(Campaign(name="otra", country="MX", profile="MX", dial_mode="progressive",
                       status="stopped", caller_ids=[OTHER_DID], config={"inbound": inbound}))  # fmt: skip


async def caller_of_otra_gets_the_agent_before_the_outbound_debtor(
    floor: Any, *, overflow_after: float | None = None
) -> None:
    """mx-test places a call while its only agent is ready; the agent goes busy; the
    debtor answers and waits in the connect grace; a caller of "otra" queues; the agent
    frees. The caller must get the agent and the debtor must end abandoned.

    Deterministic without sleeps: the inbound route may reserve the freed agent only
    after the dial loop has looked at it, ready, twice (a dial loop that would take it
    does so at its first look), so an outbound call that may take the agent always has
    the chance to do it first. The dialer's clock is held from the debtor's answer until
    the caller has the agent: the debtor's connect grace (5 s) ran out while a loaded
    machine was still queueing the caller, and the debtor was abandoned for no one."""
    floor.agi.route_timeouts[cv.SCRIPT_ANSWER] = 30.0
    inbound = wire_inbound(floor)
    pops = Pops(floor.redis)
    await pops.start()
    agent = floor.agent_ids[0]
    debtor = next(iter(floor.numbers))
    floor.pbx.scenario.numbers[floor.numbers[debtor].lstrip("+")] = NumberOverride(
        sc.HUMAN, ring_seconds=0.5, talk_seconds=600.0
    )
    floor.pbx.event_log = []
    agent_busy = asyncio.Event()

    async def answer_once_agent_busy(agi: Any) -> None:
        await agent_busy.wait()
        await floor.dialer.agi_answer(agi)

    floor.agi.routes[cv.SCRIPT_ANSWER] = answer_once_agent_busy
    # The dial loop's looks at its agents once the agent is free again.
    armed = False
    looks_ready = 0
    dial_loop_looked = asyncio.Event()
    list_agents = floor.dialer.agents.list

    async def counting_list(campaign: str) -> list[AgentSnapshot]:
        nonlocal looks_ready
        agents: list[AgentSnapshot] = await list_agents(campaign)
        if armed and any(a.agent_id == agent and a.state is AgentState.ready for a in agents):
            looks_ready += 1
            if looks_ready >= 2:
                dial_loop_looked.set()
        return agents

    floor.dialer.agents.list = counting_list
    reserve = inbound.agents.reserve

    async def reserve_once_dial_loop_looked(agent_id: int, attempt_id: int) -> bool:
        await dial_loop_looked.wait()
        done: bool = await reserve(agent_id, attempt_id)
        return done

    inbound.agents.reserve = reserve_once_dial_loop_looked
    # The dial loop places the outbound call for the ready agent (its ticks also
    # read campaign "otra" and the skill groups)...
    await floor.run_until(lambda: len(floor.dialer.calls) == 1)
    [outbound_id] = list(floor.dialer.calls)
    # ...the agent goes on another call, and the debtor answers.
    assert await floor.agents.reserve(agent, 1)
    await floor.agents.talking(agent, 1)
    floor.clock.hold()
    agent_busy.set()

    def outbound_in_grace() -> bool:
        call = floor.dialer.calls.get(outbound_id)
        return call is not None and call.state is CallState.human and call.agent_id is None

    await until(outbound_in_grace)
    queue = InboundQueue(floor.redis)
    floor.pbx.inbound_call(OTHER_DID, "+525599990002")
    await until(lambda: queue.count("otra"))
    if overflow_after is not None:  # the caller waits past its campaign's limit
        [waiting] = await queue.waiting("otra")
        floor.clock.jump(overflow_after)
        assert floor.clock() - waiting.since >= overflow_after
    assert outbound_in_grace()
    # mx-test's pacing counts the caller its agent may have to serve; its wallboard
    # shows only its own queue.
    snapshot = await floor.dialer.snapshot(floor.clock())
    assert len(snapshot.inbound_waiting) == 1 and snapshot.has_inbound
    # The previous call ends: the agent wraps up and is ready again (the bots).
    armed = True
    await floor.agents.wrap_up(agent)
    pop = await pops.next()
    assert pop["type"] == "inbound" and pop["campaign"] == "otra" and pop["agent_id"] == agent
    snap = await floor.agents.get(agent)
    assert snap.state is AgentState.talking and snap.attempt_id == pop["attempt_id"]
    floor.clock.release()  # the debtor's grace runs out
    # The outbound call never gets the agent: the safe-harbor message, abandoned.
    await until(lambda: _attempt(floor, outbound_id).result is not None)
    row = _attempt(floor, outbound_id)
    assert row.result == "abandoned" and row.agent_id is None and row.bridged_at is None
    assert _safe_harbor_played(floor, outbound_id)

    async def hour_counts() -> tuple[float, float]:
        [hour] = [w for w in (await floor.dialer.snapshot(floor.clock())).abandonment
                  if w.seconds == 3600]  # fmt: skip
        return hour.human_answered, hour.abandoned

    # The result is written to SQL first; the statistics in Redis follow from it.
    await until(lambda: _equals(hour_counts(), (1, 1)))
    [caller] = inbound_attempts(floor.engine)
    assert caller.id == pop["attempt_id"] and caller.agent_id == agent
    assert caller.bridged_at is not None
    await floor.dialer.tick()
    board = json.loads(await floor.redis.get("cobrador:wallboard:{mx-test}"))
    assert board["inbound"]["waiting"] == 0
    await pops.close()
    assert verify(floor.engine).ok


async def test_given_caller_of_a_group_holding_another_campaigns_agent_when_the_agent_frees_then_the_caller_beats_that_campaigns_outbound_debtor(
    make_floor, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1, options=DialerOptions(
        owner="d1", refill_every_seconds=0.5, connect_grace_seconds=5.0))  # fmt: skip
    # "otra" sends its callers to group "especial", whose agent is logged in to mx-test;
    # its overflow limit is far off, so only the group makes the agent eligible.
    other_campaign(engine, {"skill_group": "especial", "overflow_after_seconds": 3600})
    create_group(engine, "especial")
    add_agents(engine, "especial", ["agente1"])
    await caller_of_otra_gets_the_agent_before_the_outbound_debtor(floor)


async def test_given_overflowed_caller_of_another_campaign_when_an_agent_frees_then_the_caller_beats_the_outbound_debtor(
    make_floor, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1, options=DialerOptions(
        owner="d1", refill_every_seconds=0.5, connect_grace_seconds=5.0))  # fmt: skip
    # "otra" names no group and has no agents: its caller may take mx-test's agent
    # only once past its overflow limit.
    other_campaign(engine, {"overflow_after_seconds": 0.5})
    await caller_of_otra_gets_the_agent_before_the_outbound_debtor(floor, overflow_after=0.5)


def _attempt(floor: Any, attempt_id: int) -> CallAttempt:
    with Session(floor.engine) as s:
        row = s.get(CallAttempt, attempt_id)
        assert row is not None
        return row


def _safe_harbor_played(floor: Any, attempt_id: int) -> bool:
    for event in floor.pbx.event_log or []:
        fields = dict(event)
        if fields.get("Context") == SAFE_HARBOR and \
                f"attempt={attempt_id}" in str(fields.get("AppData", "")):  # fmt: skip
            return True
    return False


async def _equals(value: Any, expected: Any) -> bool:
    return await value == expected
