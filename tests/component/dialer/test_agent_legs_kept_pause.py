"""An agent's phone leg lost in a call with a scheduled break kept for after it: once
the phone answers again the agent is paused for the break, not for a reconnect (Real
Redis; Asterisk's side the AMI fake of test_agent_legs_events)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from test_agent_legs_events import AGENT, hangup, logged_in, newstate_up

from dialer.agent_state import AgentState


@pytest.mark.parametrize("wrapping", [False, True])
async def test_given_a_break_kept_for_after_the_call_when_the_leg_drops_then_the_return_pauses_for_it(
    aredis: aioredis.Redis, wrapping: bool
) -> None:
    legs, ami, states = await logged_in(aredis)
    first = ami.originates[0]["ChannelId"]
    await legs.on_ami_event(newstate_up(first))
    await legs.on_agent_event((await states.set_ready(AGENT)).as_dict())
    assert await states.reserve(AGENT, 9)
    await states.talking(AGENT, 9)
    if wrapping:
        await states.wrap_up(AGENT)
    await states.pause_after_call(AGENT, "comida")  # the lunch came due in the call

    await legs.on_ami_event(hangup(first))
    assert (await states.get(AGENT)).state is AgentState.no_audio
    assert await legs.reconnect(AGENT)
    await legs.on_ami_event(newstate_up(ami.originates[1]["ChannelId"]))

    snap = await states.get(AGENT)
    assert (snap.state, snap.reason, snap.pause_after) == (AgentState.paused, "comida", "")
