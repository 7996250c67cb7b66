"""The break plan acted on: at a scheduled break's start the agent is asked to pause
with the plan's reason, as if they had pressed Pausa (console/pause_ask.py): ready,
pausing per the pause rule; in a call or its wrap-up, kept for after the call. Once
per break and local day, even across restarts and several console processes: the
taking is claimed in SQL (agent_breaks_taken) before the pause is asked.

Why the console runs it and not the dialer: the pause is the console's own path (the
pause rule's wait from the shared floor, the pause figures, the agent page told over
its socket); agents take breaks in preview campaigns and stopped ones, where no dialer
runs; and several dialers share a campaign while one claim row is all any number of
consoles need.

Claimed first, asked after: a console that dies between the two leaves that break
untaken (the agent keeps working) rather than pausing, after a restart, an agent who
came back early. A break whose start passed while no console ran is taken at the next
check if it is still going on, never after its end. An agent not logged in is not
claimed: logging in within the break, they are paused with its reason at the next
check (they log in paused anyway)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from console.keys import CLOCK, ENGINE, STATES
from console.pause_ask import ask_pause
from dialer.agent_state import AgentSnapshot, AgentState, AgentStateError
from dialer.break_plan import breaks_going_on
from dialer.break_store import claim, load_rules, set_outcome, taken_days

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 15.0


@dataclass(frozen=True)
class Taking:
    agent_id: int
    break_id: int
    day: date
    outcome: str  # paused, pausing, after_call, refused


def outcome_of(after: AgentSnapshot) -> str:
    if after.state is AgentState.pausing:
        return "pausing"
    if after.state is AgentState.paused:
        return "paused"
    return "after_call" if after.pause_after else after.state.value


async def take_due_breaks(app: web.Application, now: float) -> list[Taking]:
    """Ask the pause of every break going on at `now` not taken yet on its day."""
    engine = app[ENGINE]
    going = breaks_going_on(await asyncio.to_thread(load_rules, engine), now)
    if not going:
        return []
    taken = await asyncio.to_thread(taken_days, engine, {o.rule.id for o in going},
                                    min(o.day for o in going))  # fmt: skip
    done = []
    for due in going:
        rule = due.rule
        if (rule.id, due.day) in taken:
            continue
        snap = await app[STATES].get(rule.agent_id)
        if snap.state is AgentState.logged_out:
            continue
        at = datetime.fromtimestamp(now, UTC)
        if not await asyncio.to_thread(claim, engine, rule.id, due.day, at, "asked"):
            continue  # another console took it first
        try:
            _, after = await ask_pause(app, rule.agent_id, snap.campaign, rule.reason,
                                       after_wrap_up=True)  # fmt: skip
            outcome = outcome_of(after)
        except AgentStateError:
            outcome = "refused"  # logged out meanwhile
        await asyncio.to_thread(set_outcome, engine, rule.id, due.day, outcome)
        log.info("agent %d: scheduled break %d of %s taken (%s)", rule.agent_id, rule.id,
                 due.day, outcome)  # fmt: skip
        done.append(Taking(rule.agent_id, rule.id, due.day, outcome))
    return done


async def break_taker_ctx(app: web.Application) -> AsyncIterator[None]:
    """Check the plan every CHECK_EVERY_SECONDS while the console runs."""

    async def loop() -> None:
        while True:
            try:
                await take_due_breaks(app, app[CLOCK]().timestamp())
            except (SQLAlchemyError, RedisError, OSError) as exc:  # the next check retries
                log.warning("scheduled breaks not checked: %s", exc)
            await asyncio.sleep(CHECK_EVERY_SECONDS)

    task = asyncio.create_task(loop(), name="console-break-taker")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
