"""A ready agent asks for a pause while the call placed for them rings (the real dial
loop on pbxsim): the pause waits for that call, the debtor who answers is bridged to
the agent rather than abandoned, and the pause begins after the wrap-up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from support.polling import until

from console.pause_floor import calls_in_flight
from dialer import call_state as cs
from dialer.agent_state import AgentState
from dialer.campaign_dialer import DialerOptions
from dialer.command_replies import Reply
from dialer.pause_rule import AMD_ANALYSIS_SECONDS, ask, wait_bound
from pbxsim import scenario as sc
from pbxsim.scenario import NumberOverride
from store.models import CallAttempt


def attempts(floor: Any) -> list[CallAttempt]:
    with Session(floor.engine) as s:
        return list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))


def ringing(floor: Any) -> bool:
    return any(c.is_ringing for c in floor.dialer.calls.values())


async def pause_now(floor: Any, agent_id: int, reason: str) -> AgentState:
    """What the console's /api/agent/pause does for a ready agent."""
    now = floor.clock()
    pause_floor = await calls_in_flight(floor.redis, floor.engine, "mx-test", now)
    assert pause_floor.in_flight, "the call placed for the agent is on the floor"
    wait = ask(reason, now, pause_floor.in_flight, pause_floor.wait_seconds)
    snap = await floor.agents.pause(agent_id, reason, wait)
    return snap.state


# Longer than any test: the debtor is on the line until the agent hangs up.
TALKS_UNTIL_HUNG_UP = 86400.0


def slow_to_answer(floor: Any) -> None:
    """Every debtor is a person who answers after 20 s (1 s of wall time) and talks until
    the agent hangs up. The test holds pbxsim's time while it asks the pause, and hangs
    up once the debtor is bridged: under load, the call was once answered before the
    pause was asked, and a debtor who talked 2 s (0.1 s of wall time) hung up before
    the dial loop had bridged them (no agent on the attempt)."""
    for number in floor.numbers.values():
        floor.pbx.scenario.numbers[number.lstrip("+")] = NumberOverride(
            sc.HUMAN, ring_seconds=20.0, talk_seconds=TALKS_UNTIL_HUNG_UP
        )


async def bridged_then_hung_up(floor: Any) -> int:
    """Once the debtor is bridged to an agent, that agent hangs up (the console's
    "Colgar"); returns the agent."""

    def bridged() -> list[Any]:
        return [c for c in floor.dialer.calls.values() if c.state is cs.CallState.bridged]

    await floor.run_until(lambda: bool(bridged()))
    [live] = bridged()
    assert await floor.dialer.hangup(live.attempt_id, live.agent_id) == Reply(True)
    return int(live.agent_id)


async def ticked_until_paused(floor: Any, agent_id: int) -> None:
    """The dial loop ticks (the floor's agents end their wrap-up at once) until the
    agent's pause has begun."""

    async def paused() -> bool:
        await floor.dialer.tick()
        return (await floor.agents.get(agent_id)).state is AgentState.paused

    await until(paused, f"agent {agent_id} paused")


async def test_given_the_only_agent_pauses_while_their_call_rings_then_bridged_and_paused_after(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    slow_to_answer(floor)
    [agent] = floor.agent_ids
    floor.pbx_clock.hold()  # the debtor answers once the pause is asked, however slow the test
    await floor.run_until(lambda: ringing(floor))

    assert await pause_now(floor, agent, "break") is AgentState.pausing
    # Pacing counts them paused: no call is placed on their account any more.
    snapshot = await floor.dialer.snapshot(floor.clock())
    assert (snapshot.count("ready"), snapshot.count("paused")) == (0, 1)

    floor.pbx_clock.release()
    assert await bridged_then_hung_up(floor) == agent
    await ticked_until_paused(floor, agent)  # answered, bridged, talked, wrapped up
    [attempt] = attempts(floor)
    assert attempt.result not in (cs.ABANDONED, None)
    assert (attempt.agent_id, attempt.bridged_at is not None) == (agent, True)
    snap = await floor.agents.get(agent)
    assert (snap.state, snap.reason, snap.pause_after) == (AgentState.paused, "break", "")


async def test_given_another_agent_ready_when_the_call_is_answered_then_it_goes_to_them(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=2)
    slow_to_answer(floor)
    pausing, other = floor.agent_ids
    floor.pbx_clock.hold()
    await floor.run_until(lambda: ringing(floor))
    assert await pause_now(floor, pausing, "lunch") is AgentState.pausing
    floor.pbx_clock.release()

    # Once the call it waited for is bridged (to the ready agent), a tick begins the pause.
    await ticked_until_paused(floor, pausing)
    assert not ringing(floor)
    snap = await floor.agents.get(pausing)
    assert (snap.state, snap.reason) == (AgentState.paused, "lunch")
    assert await bridged_then_hung_up(floor) == other
    await floor.run_until(lambda: any(a.result for a in attempts(floor)))  # written at its end
    [attempt] = attempts(floor)
    assert (attempt.agent_id, attempt.bridged_at is not None) == (other, True)


async def test_given_a_dialer_with_a_longer_ring_timeout_then_the_pause_deadline_follows_it(
    make_floor: Any,
) -> None:
    # This floor's dialer lets a call ring 50 s: a pause asked while it rings must be
    # able to wait that long (plus detection and grace), not the default 37 s.
    options = DialerOptions(owner="d1", refill_every_seconds=0.5, ring_timeout_seconds=50.0)
    floor = await make_floor(accounts=1, agents=1, options=options)
    slow_to_answer(floor)
    [agent] = floor.agent_ids
    floor.pbx_clock.hold()
    await floor.run_until(lambda: ringing(floor))
    now = floor.clock()
    pause_floor = await calls_in_flight(floor.redis, floor.engine, "mx-test", now)
    assert pause_floor.wait_seconds == wait_bound(50.0, options.connect_grace_seconds)
    wait = ask("break", now, pause_floor.in_flight, pause_floor.wait_seconds)
    assert wait is not None and wait.deadline == now + 50.0 + AMD_ANALYSIS_SECONDS + 2.0
    snap = await floor.agents.pause(agent, "break", wait)
    assert snap.as_dict()["pause_deadline"] == wait.deadline
