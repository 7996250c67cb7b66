"""The console's bookkeeping tables are pruned: sessions no cookie can use any more,
throttles with nothing left to remember, portal gates that can no longer change an
answer; everything still in force is kept."""

from __future__ import annotations

from datetime import timedelta

from console_fixtures import NOW, Seed
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from console import verify_tries
from console.pruning import prune
from selfservice.identity import REFERENCE_HOLD_FAILURES, gate_locked
from store.models import ConsoleSession, LoginThrottle, PortalGate, PortalSession


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
    assert prune(engine, NOW) == type(pruned)(0, 0, 0, 0)  # nothing more to do


def test_given_portal_gates_when_pruned_then_locks_in_force_and_counted_answers_stay(
    engine: Engine, seed: Seed
) -> None:
    days = lambda n: NOW - timedelta(days=n)  # noqa: E731
    minutes = lambda n: NOW - timedelta(minutes=n)  # noqa: E731
    a = seed.account_id
    with Session(engine) as s, s.begin():
        for key, account, failures, window, locked, created in (
            # A link lives at most 30 days: its gate (locked or not) goes a day after that.
            ("link:locked-recent", a, 3, None, days(2), days(3)),  # locked, link may still live
            ("link:locked-29d", a, 3, None, days(29), days(29)),  # still within any link's life
            ("link:locked-old", a, 3, None, days(31), days(32)),  # no link lives that long
            ("link:verified-old", a, 0, None, None, days(40)),
            # A reference locks for a day; its wrong answers count until a lock or a right one.
            ("ref:locked-now", a, 3, None, days(0.5), days(3)),
            ("ref:lock-over", seed.other_account_id, 3, None, days(1.5), days(3)),
            ("ref:two-wrong", a, 2, None, None, days(90)),  # still counts towards its lock
            ("ref:clean", seed.other_account_id, 0, None, None, days(90)),
            # A client address is throttled per 15-minute window.
            ("addr:counting", None, 9, minutes(10), None, minutes(10)),
            ("addr:window-over", None, 10, minutes(20), None, minutes(20)),
        ):
            s.add(PortalGate(key=key, account_id=account, failures=failures,
                             window_started_at=window, locked_at=locked, created_at=created))  # fmt: skip
        # Wrong answers in all since the last success: they count towards the hold.
        s.add(PortalGate(key="ref:counted", account_id=a, failures=3, total_failures=3,
                         locked_at=days(1.5), created_at=days(3)))  # fmt: skip
        s.add(PortalGate(key="ref:held", account_id=a, failures=3,
                         total_failures=REFERENCE_HOLD_FAILURES, locked_at=days(20),
                         created_at=days(30)))  # fmt: skip

    pruned = prune(engine, NOW)

    assert pruned.portal_gates == 5
    with Session(engine) as s:
        assert set(s.scalars(select(PortalGate.key))) == {
            "link:locked-recent", "link:locked-29d", "ref:locked-now", "ref:two-wrong",
            "addr:counting", "ref:counted", "ref:held"}  # fmt: skip
    assert gate_locked(engine, "ref:held", NOW)
    # What the portal answers is the same: the locks in force still lock.
    assert gate_locked(engine, "link:locked-29d", NOW)
    assert gate_locked(engine, "ref:locked-now", NOW)
    assert not gate_locked(engine, "ref:lock-over", NOW)
    assert prune(engine, NOW).portal_gates == 0


def test_given_portal_sessions_when_pruned_then_live_and_recently_ended_stay(
    engine: Engine, seed: Seed
) -> None:
    hours = lambda n: NOW - timedelta(hours=n)  # noqa: E731
    with Session(engine) as s, s.begin():
        for sid, verified, ended in (
            ("live", hours(0.2), None),
            ("left-now", hours(0.5), hours(0.4)),  # "Salir" minutes ago: kept a day
            ("left-old", hours(30), hours(29.5)),  # ended over a day ago
            ("abandoned", hours(26), None),  # never left, past the hour (+ a day)
        ):
            s.add(PortalSession(id=sid, account_id=seed.account_id, verified_at=verified,
                                last_seen_at=verified, ended_at=ended))  # fmt: skip

    assert prune(engine, NOW).portal_sessions == 2
    with Session(engine) as s:
        assert set(s.scalars(select(PortalSession.id))) == {"live", "left-now"}


def test_given_agent_check_rows_when_pruned_then_only_those_with_no_wrong_answer_go(
    engine: Engine, seed: Seed
) -> None:
    """An account's wrong answers on calls and chats (console/verify_lock.py) are kept
    until a right answer or a supervisor clears them, as a portal reference's."""
    a = seed.account_id
    with Session(engine) as s, s.begin():
        for key, failures, total, locked in (
            ("agent:locked-now", 3, 3, NOW - timedelta(hours=12)),
            ("agent:two-wrong", 2, 2, None),
            ("agent:held", 3, 9, NOW - timedelta(days=20)),
            ("agent:verified", 0, 0, None),
        ):
            s.add(PortalGate(key=key, account_id=a, failures=failures, total_failures=total,
                             locked_at=locked, created_at=NOW - timedelta(days=30)))  # fmt: skip

    assert prune(engine, NOW).portal_gates == 1
    with Session(engine) as s:
        assert set(s.scalars(select(PortalGate.key))) == {
            "agent:locked-now", "agent:two-wrong", "agent:held"}  # fmt: skip


def test_given_call_check_rows_when_pruned_then_only_calls_long_over_go(
    engine: Engine, seed: Seed
) -> None:
    """A call's or chat's own wrong answers (console/verify_tries.py) are kept while the
    call may go on (verify_tries.KEPT), spent or not, and go after."""
    with Session(engine) as s, s.begin():
        for key, failures, age in (
            ("call:1", 3, verify_tries.KEPT - timedelta(minutes=1)),
            ("call:2", 1, timedelta(hours=1)),
            ("call:3", 3, verify_tries.KEPT + timedelta(minutes=1)),
        ):
            s.add(PortalGate(key=key, account_id=None, failures=failures,
                             created_at=NOW - age))  # fmt: skip

    assert prune(engine, NOW).portal_gates == 1
    with Session(engine) as s:
        assert set(s.scalars(select(PortalGate.key))) == {"call:1", "call:2"}
