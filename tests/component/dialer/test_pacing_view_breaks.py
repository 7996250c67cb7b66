"""The live pacing snapshot carries each agent's next scheduled break from the break
plan in SQL, as the simulator's does (the same policy object reads it)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from store.db import transaction
from store.models import AgentBreak

MX = ZoneInfo("America/Mexico_City")


async def test_given_a_lunch_in_the_plan_when_snapshot_then_the_agent_carries_it(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=2)
    floor.stop.set()
    await asyncio.wait(floor.tasks)
    lunching = floor.agent_ids[0]
    now = floor.clock()
    local = datetime.fromtimestamp(now, MX)  # the shift: Wednesday 11:00 in Mexico City
    start = local.hour * 60 + local.minute + 30  # half an hour from now, 20 min long
    with transaction(floor.engine) as s:
        s.add(AgentBreak(agent_id=lunching, start_minute=start, minutes=20,
                         weekdays="mon,tue,wed,thu,fri,sat,sun", reason="comida",
                         zone="America/Mexico_City"))  # fmt: skip
    floor.dialer.pacing_view.breaks.refresh_seconds = 0.0  # read the plan just written
    snap = await floor.dialer.snapshot(now)
    due = local.replace(hour=start // 60, minute=start % 60, second=0, microsecond=0)
    assert len(snap.agents) == 2  # the other agent has no plan: nothing known
    assert sorted((v.break_at or 0.0, v.break_seconds) for v in snap.agents) == [
        (0.0, 0.0), (due.timestamp(), 1200.0)]  # fmt: skip
