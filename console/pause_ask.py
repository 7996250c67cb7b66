"""An agent's pause asked: by the agent (the Pausa button, /api/agent/pause) or by
their break plan at a break's start (console/break_taker.py), the same way: from ready
it waits for the calls placed for the floor (dialer/pause_rule.py), in a call it is
kept for after it, and a pause that replaces another counts the one ended (the
supervisor's pause figures)."""

from __future__ import annotations

from aiohttp import web

from console.agent_pauses import record_pause
from console.keys import CLOCK, ENGINE, REDIS, STATES
from console.pause_floor import calls_in_flight
from console.wrap_metrics import count_wrap_end
from dialer.agent_state import AgentSnapshot, AgentState, AgentStateError
from dialer.pause_rule import ask

# In a call or its wrap-up: a scheduled break waits for the call's end (pause_after).
IN_A_CALL = frozenset({AgentState.reserved, AgentState.talking, AgentState.wrap_up})


async def ask_pause(app: web.Application, agent_id: int, campaign: str, reason: str, *,
                    after_wrap_up: bool = False,
                    break_mark: str = "") -> tuple[AgentSnapshot, AgentSnapshot]:  # fmt: skip
    """The agent's state before and after the pause asked. `after_wrap_up`: one asked
    during a wrap-up waits for its end too, as one asked in a call (the agent's own
    button pauses a wrap-up at once). `break_mark`: the scheduled break asking it,
    kept with the pause in its own step (AgentSnapshot.break_mark). Raises
    AgentStateError when no pause can be asked from the agent's state."""
    states = app[STATES]
    before = await states.get(agent_id)
    if after_wrap_up and before.state in IN_A_CALL:
        try:
            return before, await states.pause_after_call(agent_id, reason, break_mark=break_mark)
        except AgentStateError:  # the call ended meanwhile: asked as from now
            before = await states.get(agent_id)
    wait = None
    if before.state is AgentState.ready:
        # Calls placed while the agent was ready may be theirs: the pause begins after
        # those in flight now (pausing), bounded (dialer/pause_rule.py). Only from ready:
        # in wrap-up, paused or without audio it holds now.
        now = app[CLOCK]().timestamp()  # the agent states' clock, the dialers' too
        floor = await calls_in_flight(app[REDIS], app[ENGINE], campaign, now)
        wait = ask(reason, now, floor.in_flight, floor.wait_seconds)
    left, after = await states.pause_from(agent_id, reason, wait, break_mark=break_mark)
    # The agent's own Pausa button ends a call's wrap-up at once.
    await count_wrap_end(app[ENGINE], left, app[CLOCK]())
    if before.state is AgentState.paused:  # a new reason: the pause so far is counted
        await record_pause(app[REDIS], agent_id, before.since, after.since)
    return before, after
