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

Claimed first, asked after, finished by the next check: a console that dies between
the claim and recording the ask's outcome leaves the row at `asked`; past CLAIM_LEASE
another check takes it over and asks, unless the agent's state carries the break's
mark (set in the pause's own Redis step): then the ask was made, and an agent back
early is not paused again. A break whose start passed while no console ran is taken
at the next check if it is still going on, never after its end. An agent not logged
in is not claimed, and nothing is recorded for one logged out throughout (docs/
breaks.md): logging in within the break, they are paused with its reason at the next
check (they log in paused anyway)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from console.keys import CLOCK, ENGINE, STATES
from console.pause_ask import ask_pause
from dialer.agent_state import AgentSnapshot, AgentState, AgentStateError
from dialer.break_plan import breaks_going_on
from dialer.break_store import CLAIMED, claim, load_rules, reclaim, set_outcome, taken_days
from dialer.break_store import unfinished as unfinished_takings

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 15.0
# A claim whose ask's outcome is not recorded after this long was left by a console
# that stopped in between (a live one records it within a second): taken over.
CLAIM_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Taking:
    agent_id: int
    break_id: int
    day: date
    outcome: str  # paused, pausing, after_call, refused, recovered


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
    ids, since = {o.rule.id for o in going}, min(o.day for o in going)
    at = datetime.fromtimestamp(now, UTC)
    taken = await asyncio.to_thread(taken_days, engine, ids, since)
    left = await asyncio.to_thread(unfinished_takings, engine, ids, since, at - CLAIM_LEASE)
    done = []
    for due in going:
        rule = due.rule
        key = (rule.id, due.day)
        if key in taken and key not in left:
            continue
        snap = await app[STATES].get(rule.agent_id)
        if snap.state is AgentState.logged_out:
            continue
        mark = f"{rule.id}:{due.day.isoformat()}"
        if key in left:
            # Claimed by a console that stopped before recording the ask: taken over,
            # and asked unless the agent's state says the ask was made (its mark).
            if not await asyncio.to_thread(reclaim, engine, rule.id, due.day,
                                           at - CLAIM_LEASE, at):  # fmt: skip
                continue  # another console took it over first
            snap = await app[STATES].get(rule.agent_id)
            if snap.break_mark == mark:
                # Asked already (the agent may be back from it since): only recorded.
                await _recorded(engine, Taking(rule.agent_id, rule.id, due.day, "recovered"))
                done.append(Taking(rule.agent_id, rule.id, due.day, "recovered"))
                continue
        elif not await asyncio.to_thread(claim, engine, rule.id, due.day, at, CLAIMED):
            continue  # another console took it first
        try:
            _, after = await ask_pause(app, rule.agent_id, snap.campaign, rule.reason,
                                       after_wrap_up=True, break_mark=mark)  # fmt: skip
            outcome = outcome_of(after)
        except AgentStateError:
            outcome = "refused"  # logged out meanwhile
        taking = Taking(rule.agent_id, rule.id, due.day, outcome)
        await _recorded(engine, taking)
        done.append(taking)
    return done


async def _recorded(engine: Engine, taking: Taking) -> None:
    await asyncio.to_thread(set_outcome, engine, taking.break_id, taking.day, taking.outcome)
    log.info("agent %d: scheduled break %d of %s taken (%s)", taking.agent_id,
             taking.break_id, taking.day, taking.outcome)  # fmt: skip


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
