"""The live pacing snapshot carries wrap-up samples as the simulator's does (the same
policy object reads them): an agent's wrap-up, from the states the dial loop sees."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


async def test_given_an_agent_wrapping_up_then_ready_when_snapshot_then_its_wrap_up_is_a_sample(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    floor.stop.set()  # no bot readies the agent: the test does, at a known instant
    await asyncio.wait(floor.tasks)
    [agent] = floor.agent_ids
    await floor.agents.talking(agent)
    await floor.agents.wrap_up(agent)
    during = await floor.dialer.snapshot(floor.clock())
    [running] = during.wrap_samples
    assert not running.finished and running.seconds < 1.0  # the shift clock runs on

    floor.clock.jump(25.0)
    await floor.agents.set_ready(agent)
    after = await floor.dialer.snapshot(floor.clock())
    [done] = after.wrap_samples
    assert done.finished and done.seconds == pytest.approx(25.0, abs=1.0)
