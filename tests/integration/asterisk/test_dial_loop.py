"""The whole dial loop (dialer.campaign_dialer) against the real Asterisk 22:
compliance, hopper, Originate, FastAGI on answer, agent bridges, results in SQL.
The debtors' numbers end in sim-customers suffixes, so each result is known."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from asterisk_harness import CallWatcher, ChrootAsterisk
from dial_floor import DialFloor, attempts, results_by_number
from sqlalchemy import Engine
from support.polling import until

from console.pause_floor import calls_in_flight
from dialer.agent_state import AgentState
from dialer.ami import AMIClient
from dialer.pause_rule import ask

# Mexico City numbers whose last three digits pick the sim-customers behaviour.
EXPECTED = {
    "+525510000101": "contact",  # a person answers after 1 s, an agent takes it
    "+525510000201": "machine",
    "+525510000301": "busy",
    "+525510000401": "no_answer",
    "+525510000501": "failed",  # congestion
    "+525510000601": "invalid_number",  # unallocated number (Q.850 1)
    "+525510000801": "declined",  # the debtor rejects the call (Q.850 21)
}


@pytest.fixture
async def talk_briefly(ami: AMIClient) -> AsyncIterator[None]:
    await ami.send_action({"Action": "Setvar", "Variable": "SIM_TALK_SECONDS", "Value": "3"})
    yield
    await ami.send_action({"Action": "Setvar", "Variable": "SIM_TALK_SECONDS", "Value": "30"})


async def test_given_campaign_on_real_asterisk_when_dialed_then_every_result_is_recorded(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    talk_briefly: None,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, list(EXPECTED))
    try:
        await floor.run_until(lambda: floor.finished(len(EXPECTED)), what="every call to end")
    finally:
        await floor.close()

    assert results_by_number(engine) == EXPECTED
    contact = next(a for a in attempts(engine) if a.result == "contact")
    assert contact.agent_id in floor.agent_ids
    assert contact.bridged_at is not None and contact.answered_at is not None
    # The debtor really sat in that agent's ConfBridge on Asterisk.
    assert watcher.has(
        f"cobrador-{contact.id}", "ConfbridgeJoin", Conference=f"agent-{contact.agent_id}"
    )


async def test_given_no_agent_free_at_answer_when_person_answers_then_safe_harbor_and_abandoned(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    # A person who answers after 2 s; the only agent pauses while it rings.
    number = "+525510000102"
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, [number], agents=1)
    try:
        await floor.run_until(lambda: bool(floor.dialer.calls), what="the call to be placed")
        channel = f"cobrador-{next(iter(floor.dialer.calls))}"
        await floor.agents.pause(floor.agent_ids[0], "bano")
        await floor.run_until(
            lambda: watcher.has(
                channel, "Newexten", Context="safe-harbor", Application="SayDigits"
            ),
            what="the call-back number to be said",
        )
        # The message has named the company and given the number: the debtor hangs up.
        await ami.send_action({"Action": "Hangup", "Channel": channel})
        await floor.run_until(lambda: floor.finished(1), what="the call to end")
    finally:
        await floor.close()

    assert results_by_number(engine) == {number: "abandoned"}
    assert watcher.has(channel, "VarSet", Variable="COBRADOR_ABANDONED", Value="1")
    assert watcher.has(channel, "Newexten", Context="safe-harbor", Application="SayAlpha")
    assert not watcher.has(channel, "ConfbridgeJoin")


async def test_given_the_only_agent_asks_a_pause_while_the_call_rings_then_bridged_and_paused_after(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    talk_briefly: None,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    # The same person answering after 2 s; the agent asks for a pause through the
    # floor rule (dialer/pause_rule.py, as the console does): it waits for that call.
    number = "+525510000102"
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, [number], agents=1)
    [agent] = floor.agent_ids
    try:
        await floor.run_until(lambda: bool(floor.dialer.calls), what="the call to be placed")
        now = floor.dialer.clock()
        pause_floor = await calls_in_flight(floor.redis, engine, "mx-asterisk", now)
        wait = ask("bano", now, pause_floor.in_flight, pause_floor.wait_seconds)
        snap = await floor.agents.pause(agent, "bano", wait)
        assert snap.state is AgentState.pausing
        await floor.run_until(lambda: floor.finished(1), what="the call to end")
        await until(lambda: paused_with(floor, agent, "bano"), "the pause after the wrap-up")
    finally:
        await floor.close()

    assert results_by_number(engine) == {number: "contact"}
    [attempt] = attempts(engine)
    assert attempt.agent_id == agent and attempt.bridged_at is not None
    assert watcher.has(f"cobrador-{attempt.id}", "ConfbridgeJoin", Conference=f"agent-{agent}")
    assert not watcher.has(f"cobrador-{attempt.id}", "Newexten", Context="safe-harbor")


async def paused_with(floor: DialFloor, agent_id: int, reason: str) -> bool:
    snap = await floor.agents.get(agent_id)
    return (snap.state, snap.reason) == (AgentState.paused, reason)


async def test_given_person_hangs_up_during_detection_when_dialed_then_early_hangup_not_abandoned(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    # The real floor's quick hang-up: answers after 1 s, says hello and hangs up while
    # AMD still listens, so the call never reaches the dialer's answer route.
    number = "+525510000701"
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, [number], agents=1)
    try:
        await floor.run_until(lambda: floor.finished(1), what="the call to end")
        [hour] = [w for w in await floor.dialer.stats.windows(floor.dialer.clock())
                  if w.seconds == 3600]  # fmt: skip
    finally:
        await floor.close()

    assert results_by_number(engine) == {number: "early_hangup"}
    [attempt] = attempts(engine)
    assert attempt.answered_at is not None and attempt.agent_id is None
    channel = f"cobrador-{attempt.id}"
    assert watcher.has(channel, "Newexten", Application="AMD")
    assert not watcher.has(channel, "Newexten", Application="AGI")
    assert not watcher.has(channel, "Newexten", Context="safe-harbor")
    # Not an abandon: outside the legal rate, counted as an early hang-up.
    assert (hour.humans, hour.abandoned, hour.early_hangups) == (0, 0, 1)
