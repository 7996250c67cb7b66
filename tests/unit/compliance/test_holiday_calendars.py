"""Each country's public holidays as its official calendar lists them, checked
against the engine (not against the library it uses): Colombia's Monday-moved
holidays (Ley 51 de 1983, "Ley Emiliani"), Peru's holidays added in 2022-2024,
Mexico's rest days on their Mondays (LFT art. 74) and its election days (fr. IX)."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from compliance_builders import make_request

from compliance.engine import Engine
from compliance.profile import PROFILES_DIR, Profile, ProfileError, load_profiles, parse_profile

PROFILES = load_profiles()
engine = Engine()
ZONE = {"MX": "America/Mexico_City", "CO": "America/Bogota", "PE": "America/Lima"}

# Calendario oficial de festivos de Colombia 2026 (Ley 51 de 1983 moves most to Monday;
# Ley 2578 de 2026 added 9 July, Nuestra Señora del Rosario de Chiquinquirá, moved too).
CO_2026 = ["2026-01-01", "2026-01-12", "2026-03-23", "2026-04-02", "2026-04-03", "2026-05-01",
           "2026-05-18", "2026-06-08", "2026-06-15", "2026-06-29", "2026-07-13", "2026-07-20",
           "2026-08-07",
           "2026-08-17", "2026-10-12", "2026-11-02", "2026-11-16", "2026-12-08", "2026-12-25"]  # fmt: skip
# Perú, feriados nacionales 2026 (Ley 31788 added 7 June; Ley 31530 6 August; 23 July).
PE_2026 = ["2026-01-01", "2026-04-02", "2026-04-03", "2026-05-01", "2026-06-29", "2026-07-23",
           "2026-07-28", "2026-07-29", "2026-08-06", "2026-08-30",
           "2026-10-08", "2026-11-01", "2026-12-08", "2026-12-09", "2026-12-25"]  # fmt: skip
# México, días de descanso obligatorio 2026 (LFT art. 74: first Monday of February,
# third Monday of March and of November).
MX_2026 = ["2026-01-01", "2026-02-02", "2026-03-16", "2026-05-01", "2026-09-16", "2026-11-16",
           "2026-12-25"]  # fmt: skip


def _noon(country: str, day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(12), ZoneInfo(ZONE[country]))


@pytest.mark.parametrize(
    ("pid", "day"),
    [("CO", d) for d in CO_2026] + [("PE", d) for d in PE_2026] + [("MX", d) for d in MX_2026]
    + [("MX-PROFECO", d) for d in MX_2026],
)  # fmt: skip
def test_given_an_official_holiday_when_a_call_at_noon_then_blocked(pid: str, day: str) -> None:
    profile = PROFILES[pid]
    now = _noon(profile.country, day)
    reasons = engine.evaluate(make_request(profile, now=now), now).reasons
    assert "holiday" in reasons


@pytest.mark.parametrize("pid", ["CO", "PE", "MX", "MX-PROFECO"])
def test_given_the_working_days_of_2026_that_are_not_holidays_when_noon_then_allowed(
    pid: str,
) -> None:
    # Every Monday-Friday of 2026 that is no holiday: a call at noon is allowed (the
    # holidays are not made of more days than the calendar's).
    profile = PROFILES[pid]
    listed = {"CO": CO_2026, "PE": PE_2026, "MX": MX_2026, "MX-PROFECO": MX_2026}[pid]
    day = date(2026, 1, 1)
    while day.year == 2026:
        if day.weekday() < 5 and day.isoformat() not in listed:
            now = _noon(profile.country, day.isoformat())
            decision = engine.evaluate(make_request(profile, now=now), now)
            assert decision.allowed, (day, decision.reasons)
        day += timedelta(days=1)


def test_given_a_colombian_saturday_and_sunday_then_saturday_08_15_and_no_sunday() -> None:
    co = PROFILES["CO"]
    saturday = datetime(2026, 3, 14, 8, 0, tzinfo=ZoneInfo("America/Bogota"))
    assert engine.evaluate(make_request(co, now=saturday), saturday).allowed
    early = saturday - timedelta(minutes=1)
    assert engine.evaluate(make_request(co, now=early), early).reasons == ("outside_hours",)
    sunday = saturday + timedelta(days=1, hours=3)
    assert engine.evaluate(make_request(co, now=sunday), sunday).reasons == ("day_not_allowed",)


@pytest.mark.parametrize("pid", ["MX", "MX-PROFECO"])
@pytest.mark.parametrize("day", [date(2024, 6, 2), date(2025, 6, 1), date(2026, 6, 7),
                                 date(2027, 6, 6), date(2030, 6, 2)])  # fmt: skip
def test_given_mexican_election_day_when_any_channel_then_holiday(
    profiles: dict[str, Profile], pid: str, day: date
) -> None:
    """LFT art. 74 fr. IX: the day of an ordinary election is a rest day; the `holidays`
    package does not list it, the profile does (with its source)."""
    profile = profiles[pid]
    assert day not in holidays.country_holidays("MX", years=day.year)
    assert profile.is_closed_day(day) and day.isoformat() in profile.sources["holidays.extra"]
    noon = datetime.combine(day, time(12, 0), ZoneInfo("America/Mexico_City"))
    for channel in ("call", "sms", "whatsapp", "email", "visit"):
        if profile.channel_rule(channel) is None:
            continue
        request = replace(make_request(profile, account={"region": "CMX"}, now=noon),
                          channel=channel)  # fmt: skip
        if channel not in ("call", "sms", "whatsapp"):
            request = replace(request, phone=None)
        assert "holiday" in Engine().evaluate(request, noon).reasons, channel
    # The Sunday before: an ordinary day for MX (every day), a day off for MX-PROFECO.
    before = noon - timedelta(days=7)
    reasons = Engine().evaluate(make_request(profile, now=before), before).reasons
    assert "holiday" not in reasons


def test_given_extra_holiday_without_source_when_parsed_then_refused() -> None:
    raw = tomllib.loads((PROFILES_DIR / "mx.toml").read_text())
    raw["holidays"]["extra"] = [{"date": date(2028, 6, 4), "name": "x"}]
    with pytest.raises(ProfileError, match="source"):
        parse_profile(raw, "mx.toml")
    raw["holidays"]["extra"] = [{"date": "junio", "source": "s"}]
    with pytest.raises(ProfileError, match="YYYY-MM-DD"):
        parse_profile(raw, "mx.toml")
