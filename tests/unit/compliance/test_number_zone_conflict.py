"""A number that says another zone than the address: the debtor may be in either
(mobiles move; RULES.md "location conflict", Reg F commentary to 1006.6(b)(1)), so
a contact through that number is allowed only when every one of them allows it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from compliance_builders import make_request
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.engine import Engine
from compliance.profile import Profile, load_profiles
from compliance.timezones import number_info, resolve_zones

PROFILES = load_profiles()
engine = Engine()
# Mexican numbers of each zone: CDMX, Cancún, Tijuana, Hermosillo, Mazatlán, Ciudad Juárez.
MX_NUMBERS = ["+525512345678", "+529981234567", "+526641234567", "+526621234567",
              "+526691234567", "+526561234567"]  # fmt: skip
MX_REGIONS = ["MX-CMX", "MX-ROO", "MX-BCN", "MX-SON", "MX-SIN", "MX-CHH", "MX-NLE", "MX-YUC"]


def _open(profile: Profile, zones: list[str], now: datetime) -> bool:
    for name in zones:
        local = now.astimezone(ZoneInfo(name))
        minute = local.hour * 60 + local.minute
        if not any(w.contains(minute) for w in profile.hours[local.weekday()]):
            return False
        if profile.holidays_closed and profile.is_closed_day(local.date()):
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    pid=st.sampled_from(["MX", "MX-PROFECO"]),
    region=st.sampled_from(MX_REGIONS),
    number=st.sampled_from(MX_NUMBERS),
    now=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),  # fmt: skip
)
def test_given_a_region_and_a_number_of_any_zones_when_allowed_then_open_in_both(
    pid: str, region: str, number: str, now: datetime
) -> None:
    profile = PROFILES[pid]
    request = make_request(profile, account={"region": region}, phone={"e164": number}, now=now)
    zones = [z.key for z in resolve_zones(None, "MX", region, "").zones]
    zones += list(number_info(number)[1])
    assert engine.evaluate(request, now).allowed == _open(profile, zones, now)


def test_given_a_quintana_roo_address_and_a_tijuana_mobile_when_21_30_in_cancun_then_allowed() -> (
    None
):
    # 21:30 in Cancún is 18:30 in Tijuana (winter): open in both.
    now = datetime(2026, 1, 13, 21, 30, tzinfo=ZoneInfo("America/Cancun"))
    request = make_request(PROFILES["MX"], account={"region": "MX-ROO"},
                           phone={"e164": "+526641234567"}, now=now)  # fmt: skip
    assert engine.evaluate(request, now).allowed


def test_given_a_baja_california_address_and_a_cancun_mobile_when_20_in_tijuana_then_blocked() -> (
    None
):
    # 20:00 in Tijuana is 23:00 in Cancún: the debtor may be where the number says.
    now = datetime(2026, 1, 13, 20, 0, tzinfo=ZoneInfo("America/Tijuana"))
    request = make_request(PROFILES["MX"], account={"region": "MX-BCN"},
                           phone={"e164": "+529981234567"}, now=now)  # fmt: skip
    decision = engine.evaluate(request, now)
    assert decision.reasons == ("outside_hours",)
    assert decision.timezone == "America/Tijuana,America/Cancun"


def test_given_an_explicit_zone_and_a_number_of_another_when_only_the_zone_is_open_then_blocked() -> (
    None
):
    # 07:30 in Cancún (the creditor's address) is 06:30 in Mexico City (the number).
    now = datetime(2026, 1, 13, 7, 30, tzinfo=ZoneInfo("America/Cancun"))
    request = make_request(PROFILES["MX"], account={"timezone": "America/Cancun"},
                           phone={"e164": "+525512345678"}, now=now)  # fmt: skip
    assert engine.evaluate(request, now).reasons == ("outside_hours",)


def test_given_a_colombian_debtor_with_a_us_mobile_when_18_30_in_bogota_then_us_hours_too() -> None:
    # Colombia's only zone, and a Los Angeles number: 07:30 in Bogotá is 04:30 there.
    now = datetime(2026, 1, 13, 7, 30, tzinfo=ZoneInfo("America/Bogota"))
    request = make_request(PROFILES["CO"], phone={"e164": "+13105550123"}, now=now)
    assert engine.evaluate(request, now).reasons == ("outside_hours",)


def test_given_an_email_when_the_address_zone_is_open_but_a_number_of_the_debtor_is_not_then_blocked() -> (
    None
):
    # An e-mail reaches the debtor wherever they are: every known location must allow it.
    from dataclasses import replace

    from compliance.engine import EmailFacts

    now = datetime(2026, 1, 13, 21, 30, tzinfo=ZoneInfo("America/Tijuana"))  # 00:30 Cancún
    base = make_request(PROFILES["MX"], account={"region": "MX-BCN",
                        "numbers": ("+526641234567", "+529981234567")}, now=now)  # fmt: skip
    request = replace(
        base,
        channel="email",
        phone=None,
        email=EmailFacts("deudor@example.com", consent=True, consent_ref="ev-1"),
    )
    assert "outside_hours" in engine.evaluate(request, now).reasons


def test_given_a_visit_when_the_address_zone_is_open_then_a_number_elsewhere_does_not_matter() -> (
    None
):
    # A visit happens at the address: the numbers say nothing about where it is.
    from dataclasses import replace

    now = datetime(2026, 1, 13, 10, 0, tzinfo=ZoneInfo("America/Tijuana"))
    base = make_request(PROFILES["MX"], account={"region": "MX-BCN",
                        "numbers": ("+529981234567",)}, now=now)  # fmt: skip
    decision = engine.evaluate(replace(base, channel="visit", phone=None), now)
    assert decision.timezone == "America/Tijuana"
