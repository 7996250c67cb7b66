"""A contact is allowed only when the hours allow all of it: a call checked at
21:59:50 rings the debtor after 22:00 (RULES.md hours; `reach_seconds`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from compliance_builders import make_request
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.engine import Engine
from compliance.profile import Profile, load_profiles
from compliance.timezones import number_info

PROFILES = load_profiles()
ZONES = ["America/Mexico_City", "America/Cancun", "America/Tijuana", "America/Hermosillo",
         "America/Bogota", "America/Lima", "America/New_York", "America/Ciudad_Juarez"]  # fmt: skip
engine = Engine()


def _allowed_at(profile: Profile, zone: str, at: datetime) -> tuple[object, ...] | None:
    """The window (and local date) that allows `at` in `zone`; None when none does."""
    local = at.astimezone(ZoneInfo(zone))
    if profile.holidays_closed and profile.is_closed_day(local.date()):
        return None
    minute = local.hour * 60 + local.minute
    window = next((w for w in profile.hours[local.weekday()] if w.contains(minute)), None)
    return None if window is None else (local.date(), window)


@settings(max_examples=400, deadline=None)
@given(
    pid=st.sampled_from(sorted(PROFILES)),
    zone=st.sampled_from(ZONES),
    now=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),  # fmt: skip
    reach=st.floats(min_value=0, max_value=180),
)
def test_given_any_instant_and_ring_time_when_allowed_then_the_whole_ring_is_inside_one_window(
    pid: str, zone: str, now: datetime, reach: float
) -> None:
    profile = PROFILES[pid]
    request = replace(make_request(profile, account={"timezone": zone}, now=now),
                      reach_seconds=reach)  # fmt: skip
    # The address's zone and the called number's: the ring must fit one window in each.
    expected = True
    for name in (zone, *number_info(request.phone.e164)[1]):
        start, end = (
            _allowed_at(profile, name, now),
            _allowed_at(profile, name, now + timedelta(seconds=reach)),
        )
        expected = expected and start is not None and start == end
    # Caps and registries are not what this test varies: only the time reasons.
    assert engine.evaluate(request, now).allowed == expected


def test_given_a_call_checked_ten_seconds_before_22_when_it_may_ring_30_s_then_blocked() -> None:
    mx = PROFILES["MX"]
    now = datetime(2026, 3, 10, 21, 59, 50, tzinfo=ZoneInfo("America/Mexico_City"))
    request = make_request(mx, account={"region": "MX-CMX"}, now=now)
    assert engine.evaluate(request, now).allowed  # the instant alone is inside
    ringing = replace(request, reach_seconds=30)
    assert engine.evaluate(ringing, now).reasons == ("outside_hours",)
    early = now - timedelta(seconds=31)
    assert engine.evaluate(ringing, early).allowed


def test_given_peru_on_friday_at_19_59_when_it_may_ring_into_20_then_blocked() -> None:
    pe = PROFILES["PE"]
    now = datetime(2026, 3, 13, 19, 59, 45, tzinfo=ZoneInfo("America/Lima"))
    request = replace(make_request(pe, now=now), reach_seconds=60)
    assert engine.evaluate(request, now).reasons == ("outside_hours",)


def test_given_colombian_saturday_at_14_59_when_it_may_ring_into_15_then_blocked() -> None:
    co = PROFILES["CO"]
    now = datetime(2026, 3, 14, 14, 59, 40, tzinfo=ZoneInfo("America/Bogota"))
    request = replace(make_request(co, now=now), reach_seconds=30)
    assert engine.evaluate(request, now).reasons == ("outside_hours",)
    assert engine.evaluate(replace(request, reach_seconds=0), now).allowed
