"""The debtor's country law always applies, whatever campaign holds the account."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from compliance_builders import NUMBERS, make_request
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.engine import Engine
from compliance.jurisdiction import NO_PROFILE, debtor_profile
from compliance.profile import Profile, ProfileError, load_profiles

PROFILES = load_profiles()
COUNTRIES = sorted({p.country for p in PROFILES.values()})
engine = Engine()
# Friday 20:10 in Bogotá (UTC-5): 19:10 in Mexico City, inside MX's 07:00-22:00.
FRIDAY_2010_BOGOTA = datetime(2026, 1, 17, 1, 10, tzinfo=UTC)
TIME = {"outside_hours", "day_not_allowed", "holiday"}
TIGHT = {"hours": {"fri": [["09:00", "12:00"]]}}


def test_given_mx_campaign_when_debtor_is_colombian_then_colombian_profile_without_mx_tightening(
    profiles: dict[str, Profile],
) -> None:
    used = debtor_profile(
        profiles, "co", campaign_profile="MX", campaign_overrides=TIGHT, campaign_name="mx-pred"
    )
    assert used == profiles["CO"] and used.campaign is None
    assert used.full_version.startswith("CO@")


def test_given_mx_profeco_campaign_when_debtor_is_mexican_then_variant_tightened(
    profiles: dict[str, Profile],
) -> None:
    used = debtor_profile(
        profiles, "MX", campaign_profile="MX-PROFECO", campaign_overrides=TIGHT, campaign_name="c"
    )
    assert used.id == "MX-PROFECO" and used.campaign == "c"
    assert [str(w) for w in used.hours[4]] == ["09:00-12:00"]


def test_given_campaign_loosening_its_own_country_when_resolved_then_profile_error(
    profiles: dict[str, Profile],
) -> None:
    loose = {"hours": {"fri": [["06:00", "23:00"]]}}
    with pytest.raises(ProfileError, match="loosens MX"):
        debtor_profile(profiles, "MX", campaign_profile="MX", campaign_overrides=loose)
    with pytest.raises(ProfileError, match="unknown profile"):
        debtor_profile(profiles, "MX", campaign_profile="XX-NOPE", campaign_name="c")


@pytest.mark.parametrize("country", ["", "  ", "GB", "XX", "mx-profeco", None])
def test_given_debtor_country_without_profile_when_evaluated_then_country_unknown(
    profiles: dict[str, Profile], country: str | None
) -> None:
    used = debtor_profile(profiles, country, campaign_profile="MX", campaign_name="mx")
    assert used.id == NO_PROFILE
    request = make_request(profiles["MX"], account={"country": country})
    decision = engine.evaluate(replace(request, profile=used), FRIDAY_2010_BOGOTA)
    assert not decision.allowed and decision.reasons == ("country_unknown",)


def test_given_profile_of_another_country_when_evaluated_then_engine_refuses(
    profiles: dict[str, Profile],
) -> None:
    # Defence in depth: even a caller that hands in the campaign's MX profile for a
    # Colombian debtor gets no decision from the wrong law.
    request = make_request(
        profiles["MX"], account={"country": "CO", "region": "DC"}, phone={"e164": NUMBERS["CO"]}
    )
    decision = engine.evaluate(request, FRIDAY_2010_BOGOTA)
    assert not decision.allowed and decision.reasons == ("country_unknown",)
    assert decision.profile_version.startswith("MX@")


def test_given_mx_campaign_holding_colombian_at_friday_2010_bogota_then_outside_hours_co(
    profiles: dict[str, Profile],
) -> None:
    used = debtor_profile(profiles, "CO", campaign_profile="MX", campaign_name="mx-pred")
    request = make_request(used, account={"region": "DC"})
    decision = engine.evaluate(request, FRIDAY_2010_BOGOTA)
    assert decision.reasons == ("outside_hours",)
    assert decision.profile_version.startswith("CO@")
    assert decision.local_time == "2026-01-16T20:10:00-05:00"


@settings(max_examples=300, deadline=None)
@given(
    debtor=st.sampled_from(COUNTRIES),
    campaign_profile=st.sampled_from(sorted(PROFILES)),
    now=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
)
def test_property_whatever_campaign_the_debtor_country_profile_is_used_and_never_loosened(
    debtor: str, campaign_profile: str, now: datetime
) -> None:
    used = debtor_profile(PROFILES, debtor, campaign_profile=campaign_profile, campaign_name="c")
    assert used.country == debtor
    own = make_request(PROFILES[debtor])
    through_campaign = replace(own, profile=used)
    by_own = engine.evaluate(own, now)
    by_campaign = engine.evaluate(through_campaign, now)
    # A campaign can only tighten: whatever the debtor's own law blocks stays blocked,
    # and a call outside the debtor's own hours stays blocked for a reason of time.
    assert by_own.allowed or not by_campaign.allowed
    if set(by_own.reasons) & TIME:
        assert set(by_campaign.reasons) & TIME
