"""The break plan in SQL (store.models.AgentBreak, AgentBreakTaken), read by the
dialer's pacing and the console's break taker: the rules of some agents, and the
once-per-day claim on a break's taking."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from dialer.break_plan import BreakRule, weekdays_of
from store.db import transaction
from store.models import AgentBreak, AgentBreakTaken


def rule_of(row: AgentBreak) -> BreakRule:
    return BreakRule(row.id, row.agent_id, row.start_minute, row.minutes,
                     weekdays_of(row.weekdays), row.reason, row.zone)  # fmt: skip


def load_rules(engine: Engine, agent_ids: Iterable[int] | None = None) -> list[BreakRule]:
    """Every break of the plan, or only those of `agent_ids`."""
    query = select(AgentBreak).order_by(AgentBreak.id)
    if agent_ids is not None:
        ids = sorted(set(agent_ids))
        if not ids:
            return []
        query = query.where(AgentBreak.agent_id.in_(ids))
    with transaction(engine) as session:
        return [rule_of(row) for row in session.scalars(query)]


def taken_days(engine: Engine, break_ids: Iterable[int], since: date) -> set[tuple[int, date]]:
    """The (break, local day) pairs already asked for, from `since` on."""
    ids = sorted(set(break_ids))
    if not ids:
        return set()
    t = AgentBreakTaken
    with transaction(engine) as session:
        rows = session.execute(select(t.break_id, t.day).where(t.break_id.in_(ids), t.day >= since))
        return {(b, d) for b, d in rows}


# A taking's outcome from its claim until the ask's own outcome is recorded.
CLAIMED = "asked"


def unfinished(engine: Engine, break_ids: Iterable[int], since: date,
               claimed_before: datetime) -> set[tuple[int, date]]:  # fmt: skip
    """The takings from `since` on claimed before `claimed_before` whose ask's outcome
    was never recorded: the console that claimed them stopped in between."""
    ids = sorted(set(break_ids))
    if not ids:
        return set()
    t = AgentBreakTaken
    with transaction(engine) as session:
        rows = session.execute(select(t.break_id, t.day).where(
            t.break_id.in_(ids), t.day >= since, t.outcome == CLAIMED,
            t.taken_at < claimed_before))  # fmt: skip
        return {(b, d) for b, d in rows}


def reclaim(engine: Engine, break_id: int, day: date, claimed_before: datetime,
            now: datetime) -> bool:  # fmt: skip
    """Take over an unfinished taking (see unfinished): its claim moves to `now` only
    while it is still unfinished and older than `claimed_before`, so of several
    consoles one takes it over."""
    t = AgentBreakTaken
    with transaction(engine) as session:
        done = session.execute(
            update(t)
            .where(t.break_id == break_id, t.day == day, t.outcome == CLAIMED,
                   t.taken_at < claimed_before)
            .values(taken_at=now)
        )  # fmt: skip
        return bool(getattr(done, "rowcount", 0))


def claim(engine: Engine, break_id: int, day: date, now: datetime, outcome: str) -> bool:
    """Record that the break of local `day` is being taken; False when it already was
    (another console process, or before a restart): the primary key decides."""
    try:
        with transaction(engine) as session:
            if session.get(AgentBreak, break_id) is None:
                return False  # removed meanwhile
            session.add(AgentBreakTaken(break_id=break_id, day=day, taken_at=now, outcome=outcome))
            session.flush()
    except IntegrityError:
        return False
    return True


def set_outcome(engine: Engine, break_id: int, day: date, outcome: str) -> None:
    """What the pause asked did (paused, pausing, after_call, not_logged_in)."""
    with transaction(engine) as session:
        row = session.get(AgentBreakTaken, (break_id, day))
        if row is not None:
            row.outcome = outcome
