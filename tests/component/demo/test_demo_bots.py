"""The demo's simulated agents handle every state the system can put them in:
a pause they did not choose (login, "reconexión" after an Asterisk restart cut
their call) sends them back to work, as a wrap-up does."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import redis.asyncio as aioredis
from sqlalchemy import Engine
from support.polling import until, within

from cobrador.demo import DemoClock, log_bots_in, run_bots
from dialer.agent_legs import RECONNECT_REASON
from dialer.agent_state import AgentState, AgentStates
from store.db import transaction
from store.models import Campaign, User


async def test_given_bot_paused_by_a_dropped_leg_when_bots_run_then_ready_again(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    with transaction(engine) as s:
        campaign = Campaign(name="cobranza-mx", country="MX", profile="MX", config={})
        s.add(campaign)
        s.flush()
        bot = User(username="bot1", role="agent", password_hash="-", campaign_id=campaign.id)
        s.add(bot)
        s.flush()
        bot_id = bot.id
    states = AgentStates(aredis)
    stop = asyncio.Event()
    task = asyncio.create_task(run_bots(engine, aredis, DemoClock(), stop))

    async def ready() -> None:
        async def is_ready() -> bool:
            return (await states.get(bot_id)).state is AgentState.ready

        await until(is_ready, "the bot ready")

    try:
        await ready()
        # The leg dropped mid-call and came back: the system paused the bot.
        await states.pause(bot_id, RECONNECT_REASON)
        await ready()
    finally:
        stop.set()
        await within(task, "the bots stopping")


async def test_given_a_bot_left_talking_by_a_killed_run_when_bots_log_in_then_no_error(
    aredis: aioredis.Redis,
) -> None:
    # A demo killed mid-call leaves a bot talking in its persisted Redis; the next
    # start's bots must not die on it (they did: "cannot go ready from talking", and no
    # bot took a call again). The others go ready; that one waits for the reconciliation.
    states = AgentStates(aredis)
    await states.login(7, "cobranza-mx")
    await states.set_ready(7)
    assert await states.reserve(7, 41)
    await states.talking(7, 41)
    bots = [(SimpleNamespace(id=7), "cobranza-mx"), (SimpleNamespace(id=8), "cobranza-mx")]
    await log_bots_in(states, bots)
    assert (await states.get(7)).state is AgentState.talking
    assert (await states.get(8)).state is AgentState.ready
