"""Hypothesis: no allowed decision outside the profile's window, for any zone and instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import available_timezones

from compliance_builders import make_request
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.engine import Engine
from compliance.profile import Profile, load_profiles
from compliance.timezones import number_info, resolve_zones, zone

PROFILES = load_profiles()
# Every IANA zone the engine accepts (fixed offsets and legacy aliases are refused).
ZONES = sorted(name for name in available_timezones() if zone(name) is not None)
REGIONS = [
    "MX-CHH",
    "MX-COA",
    "MX-NAY",
    "MX-BCN",
    "MX-SON",
    "MX-ROO",
    "US-TX",
    "US-FL",
    "US-AZ",
    "US-IN",
]
engine = Engine()

instants = st.datetimes(
    min_value=datetime(2022, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


def _inside(profile: Profile, zone_names: list[str], now: datetime) -> bool:
    from zoneinfo import ZoneInfo

    for name in zone_names:
        local = now.astimezone(ZoneInfo(name))
        minute = local.hour * 60 + local.minute
        if not any(w.start <= minute < w.end for w in profile.hours[local.weekday()]):
            return False
        if profile.holidays_closed and profile.is_closed_day(local.date()):
            return False
    return True


@settings(max_examples=400, deadline=None)
@given(pid=st.sampled_from(sorted(PROFILES)), zone=st.sampled_from(ZONES), now=instants)
def test_given_any_zone_and_instant_when_allowed_then_inside_the_window(
    pid: str, zone: str, now: datetime
) -> None:
    profile = PROFILES[pid]
    request = make_request(profile, account={"timezone": zone}, now=now)
    decision = engine.evaluate(request, now)
    # The number called may be elsewhere: its zones must allow the call too.
    assert decision.allowed == _inside(profile, [zone, *number_info(request.phone.e164)[1]], now)


@settings(max_examples=300, deadline=None)
@given(pid=st.sampled_from(sorted(PROFILES)), region=st.sampled_from(REGIONS), now=instants)
def test_given_multi_zone_region_when_allowed_then_inside_in_every_zone(
    pid: str, region: str, now: datetime
) -> None:
    profile = PROFILES[pid]
    request = make_request(profile, account={"region": region}, now=now)
    decision = engine.evaluate(request, now)
    zones = resolve_zones(None, profile.country, region, request.phone.e164)
    called = list(number_info(request.phone.e164)[1])
    assert decision.allowed == _inside(profile, [z.key for z in zones.zones] + called, now)


@settings(max_examples=200, deadline=None)
@given(
    pid=st.sampled_from(sorted(PROFILES)),
    zone=st.sampled_from(ZONES),
    now=instants,
    hours=st.lists(st.floats(min_value=0, max_value=24 * 8), max_size=10),
)
def test_given_any_history_when_allowed_then_no_cap_is_reached(
    pid: str, zone: str, now: datetime, hours: list[float]
) -> None:
    from compliance.engine import CounterSnapshot

    profile = PROFILES[pid]
    stamps = tuple((now - timedelta(hours=h)).timestamp() for h in hours)
    counters = CounterSnapshot(attempts=stamps, contacts=stamps[:1], abandons=stamps[:1])
    request = make_request(profile, account={"timezone": zone}, counters=counters, now=now)
    decision = engine.evaluate(request, now)
    if decision.allowed:
        for cap in profile.caps_for("call"):
            kind = "attempts" if cap.kind == "attempts" else "contacts"
            events = counters.stamps(kind, cap.counted("call"))
            assert sum(1 for s in events if s > now.timestamp() - cap.window_seconds) < cap.max
