"""The demo seeds a break plan for its agents (not its bots), in the floor's zone and
on the demo's clock, through the supervisors' service: a first-time user sees
"Pausas programadas" filled and the agent page's next break within the hour."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import Engine, select

from cobrador import demo_seed
from console.agent_breaks import break_words
from store.db import transaction
from store.models import AgentBreak, AuditEntry, User

MEXICO = ZoneInfo("America/Mexico_City")


def seeded_at(engine: Engine, redis_url: str, tmp_path: Path, now: datetime) -> dict[str, int]:
    demo_seed.seed(engine, redis.Redis.from_url(redis_url), tmp_path / "demo", accounts=12,
                   agents=3, bots=1, now=now, progress=lambda _m: None)  # fmt: skip
    with transaction(engine) as s:
        return {u.username: u.id for u in s.scalars(select(User))}


def plan(engine: Engine, agent_id: int) -> list[tuple[str, int, int, str, str]]:
    with transaction(engine) as s:
        rows = s.scalars(select(AgentBreak).where(AgentBreak.agent_id == agent_id)
                         .order_by(AgentBreak.start_minute))  # fmt: skip
        return [(b.reason, b.start_minute, b.minutes, b.weekdays, b.zone) for b in rows]


def test_given_the_demo_at_ten_in_mexico_then_each_agent_has_a_break_soon_and_a_lunch(
    engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    now = datetime(2026, 12, 10, 10, 0, tzinfo=MEXICO)  # a Thursday
    users = seeded_at(engine, redis_url, tmp_path, now)
    every = "mon,tue,wed,thu,fri,sat,sun"
    zone = "America/Mexico_City"
    assert plan(engine, users["agente1"]) == [("break", 630, 15, every, zone),
                                              ("comida", 840, 60, every, zone)]  # fmt: skip
    assert plan(engine, users["agente2"]) == [("break", 645, 15, every, zone),
                                              ("comida", 900, 60, every, zone)]  # fmt: skip
    assert plan(engine, users["agente3"])[0][:2] == ("break", 660)
    assert plan(engine, users["bot1"]) == [] and plan(engine, users[demo_seed.FIELD_AGENT]) == []
    words = break_words(engine, users["agente1"], now.timestamp(), "")
    assert words["next"] is not None and "hoy a las 10:30" in words["next"]
    assert "Ciudad de México" in words["next"]
    with transaction(engine) as s:
        audited = list(s.scalars(select(AuditEntry).where(AuditEntry.kind == "break_plan_change")))
    assert len(audited) == 6 and {a.actor for a in audited} == {"user:supervisor"}


def test_given_the_demo_just_before_lunch_then_the_short_break_moves_past_it(
    engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    """13:20 in Mexico City: 14:00 is the first half hour 20 minutes ahead, agente1's
    lunch; her short break goes an hour on, at 15:00, and does not overlap it."""
    users = seeded_at(engine, redis_url, tmp_path, datetime(2026, 12, 10, 13, 20, tzinfo=MEXICO))
    assert [(r, m) for r, m, *_ in plan(engine, users["agente1"])] == [("comida", 840),
                                                                       ("break", 900)]  # fmt: skip
