"""The console's bookkeeping tables are pruned: sessions no cookie can use any more,
throttles with nothing left to remember; everything still in force is kept."""

from __future__ import annotations

from datetime import timedelta

from console_fixtures import NOW, Seed
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from console.pruning import prune
from store.models import ConsoleSession, LoginThrottle


def test_given_old_and_live_rows_when_pruned_then_only_what_can_no_longer_matter_goes(
    engine: Engine, seed: Seed
) -> None:
    ana = seed.users["ana"]
    hours = lambda n: NOW - timedelta(hours=n)  # noqa: E731
    with Session(engine) as s, s.begin():
        for sid, created, ended in (
            ("live", hours(1), None),  # in use
            ("ended-now", hours(2), hours(1)),  # a logout an hour ago: kept a day
            ("ended-old", hours(30), hours(26)),  # ended over a day ago
            ("too-old", hours(40), None),  # past every role's 12 h lifetime (+ a day)
        ):
            s.add(ConsoleSession(id=sid, user_id=ana, role="agent", created_at=created,
                                 last_seen_at=created, ended_at=ended))  # fmt: skip
        for key, window, locked in (
            ("user:stale", hours(3), None),  # failures long ago, never locked
            ("addr:forgotten", hours(50), hours(40)),  # a lock over a day past
            ("user:locked", hours(0.05), NOW + timedelta(minutes=5)),  # locked now
            ("user:remembered", hours(10), hours(9)),  # back-off still remembered
            ("addr:counting", NOW - timedelta(minutes=3), None),  # failures in the window
        ):
            s.add(LoginThrottle(key=key, failures=3, window_started_at=window,
                                locked_until=locked, lockouts=1 if locked else 0))  # fmt: skip

    pruned = prune(engine, NOW)

    assert (pruned.sessions, pruned.throttles) == (2, 2)
    with Session(engine) as s:
        assert set(s.scalars(select(ConsoleSession.id))) == {"live", "ended-now"}
        assert set(s.scalars(select(LoginThrottle.key))) == {
            "user:locked", "user:remembered", "addr:counting"}  # fmt: skip
    assert prune(engine, NOW) == type(pruned)(0, 0)  # nothing more to do
