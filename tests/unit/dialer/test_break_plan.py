"""A break plan row as instants: the next break not yet begun, the one going on, and
whether two breaks overlap, across midnight and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dialer.break_plan import (
    BreakRule,
    breaks_going_on,
    next_break,
    overlap,
    start_on,
    weekdays_of,
    weekdays_text,
)

MX = "America/Mexico_City"  # UTC-6, no daylight saving since 2022
NY = "America/New_York"
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def rule(start: str, minutes: int = 60, days: frozenset[int] = WEEKDAYS, zone: str = MX,
         rule_id: int = 1, reason: str = "comida") -> BreakRule:  # fmt: skip
    hour, minute = (int(p) for p in start.split(":"))
    return BreakRule(rule_id, 7, hour * 60 + minute, minutes, days, reason, zone)


def at(text: str, zone: str = MX) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_given_a_lunch_at_14_then_at_noon_it_is_next_at_14_local() -> None:
    found = next_break([rule("14:00")], at("2026-11-24T12:00"))  # a Tuesday
    assert found is not None
    assert (
        found.start == at("2026-11-24T14:00") == datetime(2026, 11, 24, 20, tzinfo=UTC).timestamp()
    )
    assert found.rule.seconds == 3600 and found.day == date(2026, 11, 24)


def test_given_the_break_has_begun_then_it_is_not_next_but_tomorrows_is() -> None:
    lunch = rule("14:00")
    now = at("2026-11-24T14:00:01")
    found = next_break([lunch], now)
    assert found is not None and found.start == at("2026-11-25T14:00")
    [going] = breaks_going_on([lunch], now)
    assert going.start == at("2026-11-24T14:00") and going.day == date(2026, 11, 24)
    assert breaks_going_on([lunch], at("2026-11-24T15:00")) == []  # over at 15:00
    assert breaks_going_on([lunch], at("2026-11-24T13:59:59")) == []


def test_given_friday_evening_then_a_weekday_break_is_not_next_before_monday() -> None:
    assert next_break([rule("14:00")], at("2026-11-27T15:00")) is None  # Fri, after it
    found = next_break([rule("14:00")], at("2026-11-29T15:00"))  # Sunday: Monday's
    assert found is not None and found.start == at("2026-11-30T14:00")


def test_given_two_breaks_then_the_earliest_not_begun_is_next() -> None:
    rules = [rule("17:00", 15, rule_id=2), rule("14:00", 60, rule_id=1)]
    found = next_break(rules, at("2026-11-24T09:00"))
    assert found is not None and found.rule.id == 1
    found = next_break(rules, at("2026-11-24T14:30"))
    assert found is not None and found.rule.id == 2 and found.rule.seconds == 900


def test_given_a_break_past_midnight_then_it_goes_on_after_midnight() -> None:
    night = rule("23:30", 60, days=frozenset({0}))  # Monday night only
    [going] = breaks_going_on([night], at("2026-11-24T00:15"))  # Tuesday 00:15
    assert going.day == date(2026, 11, 23) and going.end == at("2026-11-24T00:30")


def test_given_daylight_saving_then_the_break_stays_at_its_local_time() -> None:
    lunch = rule("14:00", zone=NY, days=EVERY_DAY)
    # New York leaves daylight saving on 2026-11-01: 14:00 is 18:00 UTC before, 19:00 after.
    before = next_break([lunch], at("2026-10-31T09:00", NY))
    after = next_break([lunch], at("2026-11-01T09:00", NY))
    assert before is not None and after is not None
    assert before.start == datetime(2026, 10, 31, 18, tzinfo=UTC).timestamp()
    assert after.start == datetime(2026, 11, 1, 19, tzinfo=UTC).timestamp()
    # A start the clock skips (02:30 on 2026-03-08) is at 03:30 EDT, one hour after 01:30 EST.
    skipped = start_on(rule("02:30", zone=NY), date(2026, 3, 8))
    assert skipped == datetime(2026, 3, 8, 7, 30, tzinfo=UTC).timestamp()


def test_given_a_break_from_now_in_another_zone_then_its_own_zone_decides_the_day() -> None:
    # 23:30 Monday in Mexico City is already Tuesday in UTC: a Monday-only UTC rule at
    # 00:30 is not next (Tuesday's 00:30 UTC is not a Monday), Monday's is past.
    monday_utc = rule("00:30", days=frozenset({0}), zone="UTC")
    assert next_break([monday_utc], at("2026-11-23T23:30")) is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((840, 60, {1}), (870, 15, {1}), True),  # 14:00-15:00 and 14:30 same day
        ((840, 60, {1}), (900, 15, {1}), False),  # back to back: 15:00 after 14:00-15:00
        ((840, 60, {1}), (870, 15, {2}), False),  # another day
        ((1410, 60, {0}), (10, 15, {1}), True),  # Monday 23:30-00:30 and Tuesday 00:10
        ((1410, 60, {6}), (10, 15, {0}), True),  # Sunday night into Monday (week wraps)
        ((1410, 60, {6}), (40, 15, {0}), False),
    ],
)
def test_given_two_breaks_then_overlap_says_whether_they_share_a_minute(
    a: tuple[int, int, set[int]], b: tuple[int, int, set[int]], expected: bool
) -> None:
    assert overlap(a, b) is expected and overlap(b, a) is expected


def test_given_stored_weekdays_then_they_read_back_in_week_order() -> None:
    assert weekdays_text({4, 0, 2}) == "mon,wed,fri"
    assert weekdays_of("mon,wed,fri") == frozenset({0, 2, 4})
    assert weekdays_of("mon,xyz,,") == frozenset({0})
