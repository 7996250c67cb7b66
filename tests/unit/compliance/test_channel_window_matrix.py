"""Day and hours on every channel, at every edge of every weekday's window, for every
country profile: the minute before opening and the closing minute are closed, the
opening minute and the last minute are open, a closed weekday and a public holiday
are closed, whatever the channel (call, SMS, WhatsApp, e-mail, field visit). The
engine holds one rule for all of them; this is the proof that no channel escapes it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from compliance_builders import NUMBERS, make_request

from compliance.engine import CallRequest, EmailFacts, Engine
from compliance.profile import WEEKDAYS, Profile, load_profiles

engine = Engine()
PROFILES = load_profiles()
PIDS = ["MX", "MX-PROFECO", "CO", "PE"]
CHANNELS = ["call", "sms", "whatsapp", "email", "visit"]
ZONE = {"MX": "America/Mexico_City", "MX-PROFECO": "America/Mexico_City",
        "CO": "America/Bogota", "PE": "America/Lima"}  # fmt: skip
REGION = {"MX": "MX-CMX", "MX-PROFECO": "MX-CMX", "CO": "CO-DC", "PE": "PE-LIM"}
# A week with no public holiday in any of the three countries: Monday 19 January 2026.
MONDAY = date(2026, 1, 19)
# A public holiday on a weekday in each (the window would be open otherwise).
HOLIDAY = {"MX": date(2026, 3, 16), "MX-PROFECO": date(2026, 3, 16),  # Benito Juárez (moved)
           "CO": date(2026, 3, 23), "PE": date(2026, 6, 29)}  # San José (moved); San Pedro  # fmt: skip


def _request(pid: str, channel: str, at: datetime) -> CallRequest:
    """A callable debtor of `pid`, with an address in the capital and a number of its
    own zone, reached on `channel` at `at`."""
    number = NUMBERS[pid]
    base = make_request(
        PROFILES[pid],
        account={"region": REGION[pid], "numbers": (number,), "visit_authorisation_ref": "A-1"},
        phone={"e164": number, "channels": frozenset({"call", "sms", "whatsapp"})},
        now=at,
    )  # fmt: skip
    email = EmailFacts("juana@example.com", consent=True, consent_ref="F-9")
    return replace(base, channel=channel,
                   phone=base.phone if channel in ("call", "sms", "whatsapp") else None,
                   email=email if channel == "email" else None)  # fmt: skip


def _reasons(pid: str, channel: str, day: date, minute: int) -> tuple[str, ...]:
    at = datetime.combine(day, time(0), ZoneInfo(ZONE[pid])) + timedelta(minutes=minute)
    return engine.evaluate(_request(pid, channel, at), at).reasons


def _edges(profile: Profile) -> list[tuple[int, int, int]]:
    """(weekday, start, end) of every window of the profile's week."""
    return [(day, w.start, w.end) for day, windows in enumerate(profile.hours) for w in windows]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("pid", PIDS)
def test_given_each_window_of_the_week_when_at_its_edges_then_open_inside_only(
    pid: str, channel: str
) -> None:
    for weekday, start, end in _edges(PROFILES[pid]):
        day = MONDAY + timedelta(days=weekday)
        where = f"{pid} {channel} {WEEKDAYS[weekday]}"
        assert _reasons(pid, channel, day, start) == (), f"{where} opening minute"
        assert _reasons(pid, channel, day, end - 1) == (), f"{where} last minute"
        if start > 0:
            assert _reasons(pid, channel, day, start - 1) == ("outside_hours",), where
        if end < 24 * 60:
            assert _reasons(pid, channel, day, end) == ("outside_hours",), f"{where} closing"


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("pid", PIDS)
def test_given_a_closed_weekday_or_a_holiday_when_noon_then_closed(pid: str, channel: str) -> None:
    profile = PROFILES[pid]
    for weekday, windows in enumerate(profile.hours):
        if not windows:
            day = MONDAY + timedelta(days=weekday)
            assert _reasons(pid, channel, day, 12 * 60) == ("day_not_allowed",), WEEKDAYS[weekday]
    holiday = HOLIDAY[pid]
    assert profile.hours[holiday.weekday()], "a holiday on a day the window is open"
    assert _reasons(pid, channel, holiday, 12 * 60) == ("holiday",)
    # The day before, at noon, is open: the holiday is the reason, not the day.
    assert _reasons(pid, channel, holiday - timedelta(days=7), 12 * 60) == ()
