"""Positions: only on a consented shift, kept for the shift plus the retention, then
purged (and the purge audited); a shift left open ends by itself."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from field_fixtures import NOW, FieldSeed, seed_field
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from field import positions
from field.checkin import Fix
from store.models import AuditEntry, FieldPosition, FieldShift


@pytest.fixture
def seed(engine: Engine) -> FieldSeed:
    return seed_field(engine)


def fix(at: object) -> Fix:
    return Fix(19.35, -99.16, 10.0, at)  # type: ignore[arg-type]


def count(engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(FieldPosition)) or 0


def test_given_ended_shifts_then_positions_purged_after_the_retention_only(
    engine: Engine, seed: FieldSeed
) -> None:
    lucia, mario = seed.agents["lucia"], seed.agents["mario"]
    three_days_ago = NOW - timedelta(days=3, hours=2)
    positions.start_shift(engine, lucia, "user:lucia", True, three_days_ago)
    assert positions.report(engine, lucia, fix(three_days_ago + timedelta(minutes=5)), 0.9,
                            three_days_ago + timedelta(minutes=5))  # fmt: skip
    positions.end_shift(engine, lucia, "user:lucia", three_days_ago + timedelta(hours=1))
    positions.start_shift(engine, mario, "user:mario", True, NOW - timedelta(hours=2))
    assert positions.report(
        engine, mario, fix(NOW - timedelta(hours=1)), 0.5, NOW - timedelta(hours=1)
    )
    assert count(engine) == 2
    assert positions.purge(engine, NOW, timedelta(hours=72)) == 1  # Lucía's: ended 73 h ago
    with Session(engine) as s:
        assert [p.agent_id for p in s.scalars(select(FieldPosition))] == [mario]
        purge = s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "field_positions_purged")
        ).one()
    assert '"positions":1' in purge.payload
    assert positions.purge(engine, NOW, timedelta(hours=72)) == 0  # nothing twice, no entry


def test_given_shift_left_open_then_it_ends_after_14h_and_is_purged_later(
    engine: Engine, seed: FieldSeed
) -> None:
    lucia = seed.agents["lucia"]
    start = NOW - timedelta(days=5)
    positions.start_shift(engine, lucia, "user:lucia", True, start)
    positions.report(
        engine, lucia, fix(start + timedelta(hours=1)), None, start + timedelta(hours=1)
    )
    assert not positions.state(engine, lucia, NOW).on_shift
    assert positions.last_positions(engine, NOW) == []
    assert positions.purge(engine, NOW, timedelta(hours=72)) == 1
    with Session(engine) as s:
        shift = s.scalars(select(FieldShift)).one()
        assert shift.ended_at == start + positions.MAX_SHIFT


def test_given_consent_withdrawn_mid_shift_then_positions_dropped(
    engine: Engine, seed: FieldSeed
) -> None:
    lucia = seed.agents["lucia"]
    positions.start_shift(engine, lucia, "user:lucia", True, NOW)
    assert positions.report(engine, lucia, fix(NOW), 0.7, NOW)
    positions.start_shift(engine, lucia, "user:lucia", False, NOW + timedelta(minutes=5))
    later = NOW + timedelta(minutes=10)
    assert not positions.report(engine, lucia, fix(later), 0.7, later)
    assert positions.last_positions(engine, later) == []
    with Session(engine) as s:
        entries = [
            e.payload
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.kind == "field_shift").order_by(AuditEntry.id)
            )
        ]
    assert len(entries) == 2 and '"consent":false' in entries[1]


@pytest.mark.parametrize("battery", [1.5, -0.1, "80%", True, float("nan")])
def test_given_bad_battery_then_refused(engine: Engine, seed: FieldSeed, battery: object) -> None:
    positions.start_shift(engine, seed.agents["lucia"], "user:lucia", True, NOW)
    with pytest.raises(positions.ShiftError):
        positions.report(engine, seed.agents["lucia"], fix(NOW), battery, NOW)
    assert count(engine) == 0


def test_given_a_fix_kilometres_wide_then_not_kept_and_the_last_good_one_shown(
    engine: Engine, seed: FieldSeed
) -> None:
    lucia = seed.agents["lucia"]
    positions.start_shift(engine, lucia, "user:lucia", True, NOW)
    assert positions.report(engine, lucia, fix(NOW), 0.7, NOW)
    later = NOW + timedelta(minutes=1)
    vague = Fix(19.40, -99.10, positions.MAX_ACCURACY_M + 1, later)
    assert not positions.report(engine, lucia, vague, 0.7, later)
    edge = Fix(19.36, -99.16, positions.MAX_ACCURACY_M, later)
    assert positions.report(engine, lucia, edge, 0.7, later)
    [shown] = positions.last_positions(engine, later)
    assert (shown["lat"], shown["accuracy_m"]) == (19.36, positions.MAX_ACCURACY_M)
    assert count(engine) == 2


def test_given_two_reports_of_one_shift_at_once_then_only_one_passes_the_rate_check(
    engine: Engine, seed: FieldSeed
) -> None:
    """The rate check read the shift's last position and wrote the new one without a
    lock: two reports at once (two tabs, a retry) both read no recent position and
    both were kept. The first report is held just before it writes its position until
    the second has reached either its own write (it passed the check too) or the
    shift's lock (where it now waits for the first to commit)."""
    lucia = seed.agents["lucia"]
    positions.start_shift(engine, lucia, "user:lucia", True, NOW - timedelta(minutes=5))
    role = threading.local()
    second_arrived = threading.Event()

    def hold(conn: object, cursor: object, statement: str, *args: object) -> None:
        text = " ".join(statement.split()).lower()
        writes = text.startswith("insert into field_positions")
        locks = text.startswith("update field_shifts") or (
            "from field_shifts" in text and "for update" in text
        )
        who = getattr(role, "name", None)
        if who == "second" and (writes or locks):
            second_arrived.set()
        elif who == "first" and writes:
            assert second_arrived.wait(30), "the second report never got to the check"

    kept: dict[str, bool] = {}
    errors: list[BaseException] = []

    def report(name: str) -> None:
        role.name = name
        try:
            kept[name] = positions.report(engine, lucia, fix(NOW), 0.8, NOW)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    event.listen(engine, "before_cursor_execute", hold)
    try:
        first = threading.Thread(target=report, args=("first",))
        second = threading.Thread(target=report, args=("second",))
        first.start()
        second.start()
        first.join()
        second.join()
    finally:
        event.remove(engine, "before_cursor_execute", hold)
    assert errors == []
    assert count(engine) == 1
    assert sorted(kept.values()) == [False, True]
