"""A moment as a person reads it (cobrador/ground/shown_time.py): the 24-hour clock in
every language, the locale's own day, the zone named by its city."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cobrador.ground.shown_time import clock, day_and_clock, shown_time

AT = datetime(2026, 12, 6, 20, 5, tzinfo=UTC)  # 14:05 in Mexico City, 15:05 in Bogotá


@pytest.mark.parametrize(
    ("zone", "locale", "shown"),
    [
        ("America/Mexico_City", "es_MX", "6 dic 2026, 14:05 (Ciudad de México)"),
        ("America/Mexico_City", "en", "Dec 6, 2026, 14:05 (Mexico City)"),
        ("America/Bogota", "es_CO", "6/12/2026, 15:05 (Bogotá)"),
        ("America/Lima", "es_PE", "6 dic. 2026, 15:05 (Lima)"),
        ("UTC", "es_MX", "6 dic 2026, 20:05 (UTC)"),
    ],
)
def test_given_an_instant_when_shown_then_its_zones_clock_and_city(zone, locale, shown):
    assert shown_time(AT, ZoneInfo(zone), locale) == shown


def test_given_an_afternoon_in_english_then_the_24_hour_clock_never_pm() -> None:
    zone = ZoneInfo("America/Mexico_City")
    assert clock(AT, zone, "en") == "14:05"
    assert shown_time(AT, zone, "en", day=False) == "14:05 (Mexico City)"
    assert shown_time(AT, zone, "es_MX", day=False) == "14:05 (Ciudad de México)"


def test_given_a_naive_instant_then_read_as_utc_as_sql_stores_it() -> None:
    naive = AT.replace(tzinfo=None)
    assert day_and_clock(naive, ZoneInfo("America/Mexico_City"), "es_MX") == "6 dic 2026, 14:05"


def test_given_an_instant_near_midnight_then_the_day_is_the_zones_not_utcs() -> None:
    late = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)  # still the 6th in Mexico City
    assert day_and_clock(late, ZoneInfo("America/Mexico_City"), "es_MX") == "6 dic 2026, 21:30"


def test_given_seconds_as_evidence_then_the_clock_says_them_in_every_language() -> None:
    utc = ZoneInfo("UTC")
    at = AT.replace(second=33)
    assert clock(at, utc, "es_MX", seconds=True) == "20:05:33"
    assert day_and_clock(at, utc, "es_MX", seconds=True) == "6 dic 2026, 20:05:33"
    assert day_and_clock(at, utc, "en", seconds=True) == "Dec 6, 2026, 20:05:33"
    assert day_and_clock(at, utc, "es_MX") == "6 dic 2026, 20:05"
