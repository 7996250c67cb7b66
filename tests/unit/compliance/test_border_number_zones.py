"""Numbers of Mexico's northern border strip that phonenumbers places in central time:
the border municipalities of Tamaulipas, Coahuila and Nuevo León keep the US
daylight-saving time (tzdata America/Matamoros; DOF 28 Oct 2022), one hour ahead of
Mexico City from March to November. A debtor known only by such a number may be
there: 21:30 in Mexico City is 22:30 for them, closed on every channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from compliance_builders import make_request

from compliance.engine import CallRequest, EmailFacts, Engine
from compliance.profile import load_profiles
from compliance.timezones import number_info

engine = Engine()
PROFILES = load_profiles()
MEXICO_CITY = ZoneInfo("America/Mexico_City")
# Area codes that serve border municipalities and that phonenumbers' metadata puts in
# America/Mexico_City only: 868 Matamoros; 891 and 897 the river towns (Camargo,
# Gustavo Díaz Ordaz, Guerrero, Mier, Miguel Alemán); 862 Allende, Morelos, Nava,
# Villa Unión, Zaragoza (Coahuila); 873 Anáhuac (Nuevo León).
BORDER_CODES = ["868", "891", "897", "862", "873"]
CHANNELS = ["call", "sms", "whatsapp", "email", "visit"]


def _request(pid: str, number: str, channel: str, now: datetime) -> CallRequest:
    """A callable debtor with no address zone (no explicit zone, no region) and one
    number, reached on `channel`."""
    base = make_request(PROFILES[pid], phone={"e164": number}, now=now)
    account = replace(base.account, numbers=(number,))
    phone = replace(base.phone, channels=frozenset({"call", "sms", "whatsapp"}))  # type: ignore[arg-type]
    if channel in ("call", "sms", "whatsapp"):
        return replace(base, account=account, phone=phone, channel=channel)
    email = EmailFacts("deudor@example.mx", consent=True, consent_ref="form-123")
    return replace(base, account=account, phone=None, channel=channel,
                   email=email if channel == "email" else None)  # fmt: skip


@pytest.mark.parametrize("code", BORDER_CODES)
def test_given_a_border_strip_number_then_matamoros_is_a_candidate_zone(code: str) -> None:
    assert "America/Matamoros" in number_info(f"+52{code}1234567")[1]


@pytest.mark.parametrize("pid", ["MX", "MX-PROFECO"])
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("code", BORDER_CODES)
def test_given_a_border_number_and_no_address_zone_when_21_30_in_mexico_city_in_summer_then_blocked(
    pid: str, channel: str, code: str
) -> None:
    number = f"+52{code}1234567"
    # Tuesday 14 July 2026, 21:30 in Mexico City: 22:30 in Matamoros (US daylight time).
    now = datetime(2026, 7, 14, 21, 30, tzinfo=MEXICO_CITY)
    decision = engine.evaluate(_request(pid, number, channel, now), now)
    assert decision.reasons == ("outside_hours",)
    assert "America/Matamoros" in (decision.timezone or "")


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("code", BORDER_CODES)
def test_given_a_border_number_when_20_59_in_mexico_city_in_summer_or_21_30_in_winter_then_allowed(
    channel: str, code: str
) -> None:
    number = f"+52{code}1234567"
    # 20:59 in Mexico City is 21:59 in Matamoros: the last open minute of both.
    summer = datetime(2026, 7, 14, 20, 59, tzinfo=MEXICO_CITY)
    assert engine.evaluate(_request("MX", number, channel, summer), summer).allowed
    # In winter both are UTC-6: 21:30 is 21:30 in both.
    winter = datetime(2026, 1, 13, 21, 30, tzinfo=MEXICO_CITY)
    assert engine.evaluate(_request("MX", number, channel, winter), winter).allowed


def test_given_a_border_number_and_a_central_region_when_21_30_in_summer_then_the_number_binds_too() -> (
    None
):
    # An address in Mexico City and a Matamoros mobile: the debtor may be at either.
    now = datetime(2026, 7, 14, 21, 30, tzinfo=MEXICO_CITY)
    request = make_request(PROFILES["MX"], account={"region": "MX-CMX"},
                           phone={"e164": "+528681234567"}, now=now)  # fmt: skip
    assert engine.evaluate(request, now).reasons == ("outside_hours",)
