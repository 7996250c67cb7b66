"""The pacing's copy of the break plan: read from SQL at most every refresh, the last
copy kept when SQL fails, each agent's next break not yet begun."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import OperationalError

from dialer.agent_state import AgentSnapshot, AgentState
from dialer.break_plan import BreakRule
from dialer.loop.break_cache import BreakCache
from dialer.loop.pacing_view import agent_view

MX = ZoneInfo("America/Mexico_City")
NOON = datetime(2026, 11, 24, 12, tzinfo=MX).timestamp()  # a Tuesday
LUNCH = datetime(2026, 11, 24, 14, tzinfo=MX).timestamp()
WEEKDAYS = frozenset(range(5))


class Plan:
    """What SQL holds, and how often it was read."""

    def __init__(self, rules: list[BreakRule]) -> None:
        self.rules = rules
        self.reads = 0
        self.fail = False

    async def load(self) -> list[BreakRule]:
        self.reads += 1
        if self.fail:
            raise OperationalError("select", {}, Exception("database is down"))
        return list(self.rules)


def lunch(agent_id: int, rule_id: int = 1) -> BreakRule:
    return BreakRule(rule_id, agent_id, 14 * 60, 60, WEEKDAYS, "comida", "America/Mexico_City")


async def test_given_agents_then_each_gets_their_next_break_and_others_none() -> None:
    cache = BreakCache(Plan([lunch(1)]).load)
    assert await cache.next_breaks([1, 2], NOON) == {1: (LUNCH, 3600.0)}


async def test_given_a_plan_change_then_it_is_read_only_after_the_refresh() -> None:
    plan = Plan([])
    cache = BreakCache(plan.load, refresh_seconds=45)
    assert await cache.next_breaks([1], NOON) == {}
    plan.rules = [lunch(1)]
    assert await cache.next_breaks([1], NOON + 44) == {}  # the copy, not SQL
    assert plan.reads == 1
    assert await cache.next_breaks([1], NOON + 45) == {1: (LUNCH, 3600.0)}
    assert plan.reads == 2
    assert await cache.next_breaks([1], NOON - 3600) == {1: (LUNCH, 3600.0)}  # clock went back
    assert plan.reads == 3


async def test_given_sql_down_then_the_last_plan_read_is_kept_and_read_again_later() -> None:
    plan = Plan([lunch(1)])
    cache = BreakCache(plan.load, refresh_seconds=45)
    await cache.next_breaks([1], NOON)
    plan.fail = True
    assert await cache.next_breaks([1], NOON + 60) == {1: (LUNCH, 3600.0)}
    plan.rules, plan.fail = [], False
    assert await cache.next_breaks([1], NOON + 90) == {1: (LUNCH, 3600.0)}  # not yet
    assert await cache.next_breaks([1], NOON + 110) == {}


async def test_given_the_break_begins_then_it_is_no_longer_next() -> None:
    cache = BreakCache(Plan([lunch(1)]).load)
    assert await cache.next_breaks([1], LUNCH - 1) == {1: (LUNCH, 3600.0)}
    nxt = await cache.next_breaks([1], LUNCH)
    assert nxt == {1: (LUNCH + 86400, 3600.0)}  # tomorrow's


def test_given_a_next_break_then_the_agent_view_carries_it() -> None:
    agent = AgentSnapshot(1, AgentState.talking, NOON - 30, "", "c", 5, pause_after="")
    view = agent_view(agent, (LUNCH, 3600.0))
    assert (view.state, view.state_since, view.break_at, view.break_seconds) == (
        "talking", NOON - 30, LUNCH, 3600.0)  # fmt: skip
    plain = agent_view(agent, None)
    assert plain.break_at is None and plain.break_seconds == 0.0
