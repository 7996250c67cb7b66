"""Two supervisors adding breaks at once for an agent with none yet: the agent's users
row, locked by each change to their plan, makes the second add wait for the first and
see its break. PostgreSQL only: SQLite has one writer, and `make ci` runs these with
DATABASE_URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from console_fixtures import NOW, Seed
from sqlalchemy import Engine, event, select, text
from support.polling import until_sync

from console import break_admin
from console.users import CurrentUser
from store.db import transaction
from store.models import AgentBreak, Role

LUNCH = break_admin.NewBreak(14 * 60, 60, frozenset({0, 1, 2, 3, 4}), "comida",
                             "America/Mexico_City")  # fmt: skip
LATE_LUNCH = break_admin.NewBreak(14 * 60 + 30, 30, frozenset({0}), "comida",
                                  "America/Mexico_City")  # fmt: skip


@pytest.fixture(autouse=True)
def _postgresql_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only (make ci runs it with DATABASE_URL)")


def waiting_on_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")) or 0)  # fmt: skip


@pytest.fixture
def inserts_held(engine: Engine) -> Iterator[None]:
    """Each add stops before writing its break until the other add is there too, or
    waits on a lock: without a lock both have checked the plan (empty) before either
    writes, the race made certain instead of likely."""
    arrived = 0
    guard = threading.Lock()

    def hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal arrived
        if not statement.lstrip().upper().startswith("INSERT INTO AGENT_BREAKS"):
            return
        with guard:
            arrived += 1
        until_sync(lambda: arrived >= 2 or waiting_on_locks(engine) >= 1,
                   "the other add at its write or waiting on a lock", every=0.02)  # fmt: skip

    event.listen(engine, "before_cursor_execute", hold)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", hold)


def add(engine: Engine, viewer: CurrentUser, agent: int, new: break_admin.NewBreak) -> str:
    try:
        break_admin.add_break(engine, viewer, agent, new, NOW)
    except break_admin.BreakInputError as exc:
        return f"{exc.status} {exc.msgid}"
    return "added"


def test_given_an_agent_with_no_breaks_when_two_supervisors_add_overlapping_ones_at_once_then_one_is_refused(
    engine: Engine, seed: Seed, inserts_held: None
) -> None:
    sofia = CurrentUser(seed.users["sofia"], "sofia", "Sofia", Role.supervisor, None)
    ana = seed.users["ana"]
    with ThreadPoolExecutor(2) as pool:
        adds: list[Future[str]] = [pool.submit(add, engine, sofia, ana, b)
                                   for b in (LUNCH, LATE_LUNCH)]  # fmt: skip
        results = sorted(f.result(timeout=60) for f in adds)
    with transaction(engine) as s:
        rows = list(s.scalars(select(AgentBreak).where(AgentBreak.agent_id == ana)))
    assert len(rows) == 1, [(r.start_minute, r.minutes) for r in rows]
    assert results[1] == "added" and results[0].startswith("409 Se cruza con la pausa")
