"""Windows at their edges, per country, across DST and Mexico's zones, and holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from compliance_builders import make_request

from compliance.engine import Engine
from compliance.profile import Profile

engine = Engine()
MINUTE = timedelta(minutes=1)


def at(local: str, zone: str) -> datetime:
    """An aware instant from a wall-clock time in a zone."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def reasons(
    profile: Profile, now: datetime, phone: str | None = None, **account: object
) -> tuple[str, ...]:
    """The reasons for a call to `phone` (else the builder's number of the profile's
    country). The number's zones count too: a test of the address's zones calls a
    number of one of them."""
    request = make_request(
        profile, account=dict(account), phone={"e164": phone} if phone else None, now=now
    )
    return engine.evaluate(request, now).reasons


# A mobile number whose prefix says the zone (or one with the same offsets all year).
NUMBER_IN = {
    "America/Mexico_City": "+525512345678",
    "America/Cancun": "+529981234567",
    "America/Hermosillo": "+526621234567",  # phonenumbers: Mazatlan, UTC-7 all year too
    "America/Tijuana": "+526641234567",
    "America/Ciudad_Juarez": "+526561234567",
    "America/Chihuahua": "+525512345678",  # UTC-6 all year, as Mexico City
}


# (profile, zone, a weekday date in that country that is not a holiday, start, end)
WINDOWS = [
    ("MX", "America/Mexico_City", "2026-01-13", "07:00", "22:00"),
    ("MX", "America/Mexico_City", "2026-01-18", "07:00", "22:00"),  # Sunday is allowed
    ("MX-PROFECO", "America/Mexico_City", "2026-01-13", "07:00", "22:00"),
    ("CO", "America/Bogota", "2026-01-13", "07:00", "19:00"),
    ("CO", "America/Bogota", "2026-01-17", "08:00", "15:00"),  # Saturday
    ("PE", "America/Lima", "2026-01-13", "07:00", "20:00"),
    ("US", "America/New_York", "2026-01-13", "08:00", "21:00"),
]


@pytest.mark.parametrize(("pid", "zone", "day", "start", "end"), WINDOWS)
def test_given_window_when_a_minute_before_and_after_each_edge_then_only_inside_allowed(
    profiles: dict[str, Profile], pid: str, zone: str, day: str, start: str, end: str
) -> None:
    profile = profiles[pid]
    opening = at(f"{day}T{start}", zone)
    closing = at(f"{day}T{end}", zone)
    assert reasons(profile, opening - MINUTE, timezone=zone) == ("outside_hours",)
    assert reasons(profile, opening, timezone=zone) == ()
    assert reasons(profile, closing - MINUTE, timezone=zone) == ()
    assert reasons(profile, closing, timezone=zone) == ("outside_hours",)


@pytest.mark.parametrize(
    ("pid", "zone", "day"),
    [
        ("MX-PROFECO", "America/Mexico_City", "2026-01-17"),  # Saturday
        ("MX-PROFECO", "America/Mexico_City", "2026-01-18"),  # Sunday
        ("CO", "America/Bogota", "2026-01-18"),  # Sunday
        ("PE", "America/Lima", "2026-01-17"),  # Saturday
        ("PE", "America/Lima", "2026-01-18"),  # Sunday
    ],
)
def test_given_closed_weekday_when_midday_then_day_not_allowed(
    profiles: dict[str, Profile], pid: str, zone: str, day: str
) -> None:
    assert reasons(profiles[pid], at(f"{day}T12:00", zone), timezone=zone) == ("day_not_allowed",)


@pytest.mark.parametrize(
    ("pid", "zone", "day"),
    [
        ("MX", "America/Mexico_City", "2026-09-16"),  # Día de la Independencia
        ("MX", "America/Mexico_City", "2026-11-16"),  # Revolución (third Monday of Nov)
        ("MX-PROFECO", "America/Mexico_City", "2026-02-02"),  # Constitución (first Monday of Feb)
        ("CO", "America/Bogota", "2026-07-20"),  # Independencia (Monday)
        ("CO", "America/Bogota", "2026-01-12"),  # Reyes Magos moved to Monday
        ("PE", "America/Lima", "2026-07-28"),  # Fiestas Patrias (Tuesday)
        ("PE", "America/Lima", "2026-12-08"),  # Inmaculada Concepción (Tuesday)
    ],
)
def test_given_public_holiday_when_midday_then_holiday(
    profiles: dict[str, Profile], pid: str, zone: str, day: str
) -> None:
    now = at(f"{day}T12:00", zone)
    assert reasons(profiles[pid], now, timezone=zone) == ("holiday",)
    assert reasons(profiles[pid], now + timedelta(days=7), timezone=zone) == ()


def test_given_us_profile_when_independence_day_then_allowed(profiles: dict[str, Profile]) -> None:
    assert (
        reasons(
            profiles["US"], at("2026-07-04T12:00", "America/New_York"), timezone="America/New_York"
        )
        == ()
    )


def test_given_holiday_in_debtor_zone_but_not_in_utc_when_evaluated_then_local_date_decides(
    profiles: dict[str, Profile],
) -> None:
    # 2026-09-16 03:00 UTC is still 15 Sep 21:00 in Mexico City: not a holiday there yet.
    now = datetime(2026, 9, 16, 3, 0, tzinfo=UTC)
    assert reasons(profiles["MX"], now, timezone="America/Mexico_City") == ()


# US DST 2026: clocks spring forward on 8 Mar, fall back on 1 Nov.
@pytest.mark.parametrize(
    ("local_open", "zone"),
    [
        ("2026-03-08T08:00", "America/New_York"),  # first EDT morning
        ("2026-03-07T08:00", "America/New_York"),  # last EST morning
        ("2026-11-01T08:00", "America/Chicago"),  # first CST morning
        ("2026-10-31T08:00", "America/Chicago"),  # last CDT morning
        ("2026-03-08T08:00", "America/Phoenix"),  # no DST at all
    ],
)
def test_given_us_dst_change_when_at_local_opening_then_edges_follow_the_wall_clock(
    profiles: dict[str, Profile], local_open: str, zone: str
) -> None:
    opening = at(local_open, zone)
    assert reasons(profiles["US"], opening - MINUTE, timezone=zone) == ("outside_hours",)
    assert reasons(profiles["US"], opening, timezone=zone) == ()


def test_given_spring_forward_day_when_same_utc_instant_then_allowed_only_after_the_change(
    profiles: dict[str, Profile],
) -> None:
    utc_1230 = timedelta(hours=12, minutes=30)
    sat = datetime(2026, 3, 7, tzinfo=UTC) + utc_1230  # 07:30 EST
    sun = datetime(2026, 3, 8, tzinfo=UTC) + utc_1230  # 08:30 EDT
    assert reasons(profiles["US"], sat, timezone="America/New_York") == ("outside_hours",)
    assert reasons(profiles["US"], sun, timezone="America/New_York") == ()


@pytest.mark.parametrize(
    ("zone", "summer_open_utc", "winter_open_utc"),
    [
        # Mexico abolished DST in 2022: central Mexico is UTC-6 all year.
        ("America/Mexico_City", "13:00", "13:00"),
        # Quintana Roo: UTC-5 all year.
        ("America/Cancun", "12:00", "12:00"),
        # Sonora: UTC-7 all year.
        ("America/Hermosillo", "14:00", "14:00"),
        # Baja California follows US DST: UTC-7 in summer, UTC-8 in winter.
        ("America/Tijuana", "14:00", "15:00"),
        # Ciudad Juárez (border strip) follows US DST: UTC-6 / UTC-7.
        ("America/Ciudad_Juarez", "13:00", "14:00"),
        # Chihuahua outside the border strip: UTC-6 since 2022, no DST.
        ("America/Chihuahua", "13:00", "13:00"),
    ],
)
def test_given_mexican_zone_when_at_07_local_in_summer_and_winter_then_tzdata_offsets_hold(
    profiles: dict[str, Profile], zone: str, summer_open_utc: str, winter_open_utc: str
) -> None:
    for day, hhmm in (("2026-07-14", summer_open_utc), ("2026-01-13", winter_open_utc)):
        opening = datetime.fromisoformat(f"{day}T{hhmm}+00:00")
        number = NUMBER_IN[zone]
        assert reasons(profiles["MX"], opening - MINUTE, number, timezone=zone) == (
            "outside_hours",
        ), day
        assert reasons(profiles["MX"], opening, number, timezone=zone) == (), day


def test_given_quintana_roo_region_when_mexico_city_is_still_closed_then_allowed(
    profiles: dict[str, Profile],
) -> None:
    now = datetime(2026, 1, 13, 12, 30, tzinfo=UTC)  # 07:30 Cancún, 06:30 CDMX
    assert reasons(profiles["MX"], now, NUMBER_IN["America/Cancun"], region="ROO") == ()
    assert reasons(profiles["MX"], now, region="MX-CMX") == ("outside_hours",)


def test_given_region_spanning_two_zones_when_only_one_is_open_then_blocked(
    profiles: dict[str, Profile],
) -> None:
    # Chihuahua state: America/Chihuahua (UTC-6) and the border strip (Juárez UTC-7 in winter,
    # Ojinaga UTC-6/-5). In January at 13:30 UTC: Chihuahua 07:30, Juárez 06:30.
    early = datetime(2026, 1, 13, 13, 30, tzinfo=UTC)
    juarez = NUMBER_IN["America/Ciudad_Juarez"]
    request = make_request(
        profiles["MX"], account={"region": "CHH"}, phone={"e164": juarez}, now=early
    )
    decision = engine.evaluate(request, early)
    assert decision.reasons == ("outside_hours",)
    assert decision.timezone == "America/Chihuahua,America/Ciudad_Juarez,America/Ojinaga"
    # 14:00 UTC: Juárez 07:00, everyone open.
    assert reasons(profiles["MX"], early + timedelta(minutes=30), juarez, region="CHH") == ()
    # Evening: Chihuahua and Ojinaga close at 22:00 local (04:00 UTC) while Juárez is at 21:00.
    assert (
        reasons(profiles["MX"], datetime(2026, 1, 14, 3, 59, tzinfo=UTC), juarez, region="CHH")
        == ()
    )
    assert reasons(
        profiles["MX"], datetime(2026, 1, 14, 4, 0, tzinfo=UTC), juarez, region="CHH"
    ) == ("outside_hours",)


DALLAS = "+12145550123"


def test_given_us_state_spanning_two_zones_when_evening_then_earliest_close_wins(
    profiles: dict[str, Profile],
) -> None:
    # Texas: Chicago (UTC-6) and Denver (UTC-7 in winter). Chicago closes at 21:00 = 03:00 UTC.
    assert (
        reasons(profiles["US"], datetime(2026, 1, 14, 2, 59, tzinfo=UTC), DALLAS, region="US-TX")
        == ()
    )
    assert reasons(
        profiles["US"], datetime(2026, 1, 14, 3, 0, tzinfo=UTC), DALLAS, region="US-TX"
    ) == ("outside_hours",)
    # Mornings: Denver opens last, at 08:00 MST = 15:00 UTC.
    assert reasons(
        profiles["US"], datetime(2026, 1, 13, 14, 59, tzinfo=UTC), DALLAS, region="US-TX"
    ) == ("outside_hours",)


def test_given_no_region_when_number_prefix_known_then_number_zone_used(
    profiles: dict[str, Profile],
) -> None:
    # +52 998 is Cancún: 07:30 there while CDMX is at 06:30.
    now = datetime(2026, 1, 13, 12, 30, tzinfo=UTC)
    request = make_request(profiles["MX"], phone={"e164": "+529981234567"}, now=now)
    decision = engine.evaluate(request, now)
    assert decision.allowed and decision.timezone == "America/Cancun"


def test_given_explicit_timezone_when_region_disagrees_then_explicit_wins(
    profiles: dict[str, Profile],
) -> None:
    now = datetime(2026, 1, 13, 12, 30, tzinfo=UTC)
    cancun = NUMBER_IN["America/Cancun"]
    assert reasons(profiles["MX"], now, cancun, region="CMX", timezone="America/Cancun") == ()


def test_given_number_whose_prefix_spans_two_zones_when_at_each_edge_then_intersection(
    profiles: dict[str, Profile],
) -> None:
    # +1 208 (Idaho): America/Boise (MST, UTC-7) and America/Los_Angeles (PST, UTC-8) in January.
    us = profiles["US"]

    def decide(now: datetime) -> tuple[str, ...]:
        request = make_request(
            us, account={"region": None}, phone={"e164": "+12085550123"}, now=now
        )
        return engine.evaluate(request, now).reasons

    opening = datetime(2026, 1, 13, 16, 0, tzinfo=UTC)  # 08:00 in Los Angeles, 09:00 in Boise
    closing = datetime(2026, 1, 14, 4, 0, tzinfo=UTC)  # 21:00 in Boise, 20:00 in Los Angeles
    assert decide(opening - MINUTE) == ("outside_hours",)
    assert decide(opening) == ()
    assert decide(closing - MINUTE) == ()
    assert decide(closing) == ("outside_hours",)
    request = make_request(us, phone={"e164": "+12085550123"}, now=opening)
    assert engine.evaluate(request, opening).timezone == "America/Boise,America/Los_Angeles"
