"""Numbers whose prefix metadata lags Mexico's 2022 time law: Chihuahua's area codes
(phonenumbers says America/Mazatlan, UTC-7; the state is UTC-6 all year)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from compliance_builders import make_request

from compliance.engine import Engine
from compliance.profile import load_profiles
from compliance.timezones import number_info

engine = Engine()
MX = load_profiles()["MX"]
CHIHUAHUA_CODES = ["614", "621", "625", "627", "628", "629", "635", "636", "639", "648", "649",
                   "652", "657", "659"]  # fmt: skip


@pytest.mark.parametrize("code", CHIHUAHUA_CODES)
def test_given_a_chihuahua_number_and_no_address_zone_when_22_30_in_chihuahua_then_blocked(
    code: str,
) -> None:
    number = f"+52{code}1234567"
    assert "America/Chihuahua" in number_info(number)[1]
    # 22:30 in Chihuahua is 21:30 in Mazatlán: closed for the debtor.
    now = datetime(2026, 1, 13, 22, 30, tzinfo=ZoneInfo("America/Chihuahua"))
    request = make_request(MX, phone={"e164": number}, now=now)
    assert engine.evaluate(request, now).reasons == ("outside_hours",)
    midday = now.replace(hour=12)
    assert engine.evaluate(make_request(MX, phone={"e164": number}, now=midday), midday).allowed


def test_given_a_sinaloa_number_then_mazatlan_only() -> None:
    assert number_info("+526671234567")[1] == ("America/Mazatlan",)
