"""Which profile applies to a debtor: always one of the debtor's own country.

A campaign names a profile (MX, MX-PROFECO...) and may tighten it; both apply
only to debtors of the campaign's profile's country. A debtor of another
country in the campaign gets their own country's default profile, untouched by
the campaign's overrides, and a debtor whose country has no profile gets
`no_profile`, which the engine refuses (`country_unknown`): fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compliance.profile import Profile, ProfileError, tighten

# The id of the stand-in profile of a debtor whose country has no profile.
NO_PROFILE = "NONE"


def no_profile(country: str) -> Profile:
    """A profile that allows nothing; the engine blocks it with `country_unknown`."""
    return Profile(
        id=NO_PROFILE,
        country="",
        version="0",
        name=f"no profile for country {country[:8]!r}",
        hours=((),) * 7,
        holidays_closed=True,
        holidays_country="",
        consent_required=True,
        allowed_parties=frozenset(),
        caps=(),
        abandon_cooldown_hours=0,
        registries=(),
    )


def country_profile(profiles: Mapping[str, Profile], country: str | None) -> Profile | None:
    """The country's default profile: the one whose id is the country code."""
    code = (country or "").strip().upper()
    profile = profiles.get(code) if code else None
    if profile is None or profile.country != code:
        return None
    return profile


def debtor_profile(
    profiles: Mapping[str, Profile],
    country: str | None,
    *,
    campaign_profile: str | None = None,
    campaign_overrides: Mapping[str, Any] | None = None,
    campaign_name: str | None = None,
) -> Profile:
    """The profile a decision about a debtor of `country` uses.

    The campaign's profile tightened by its overrides when that profile is of the
    debtor's country; else the debtor's country default; else `no_profile`.
    ProfileError: the campaign's own profile is unknown or its overrides loosen it.
    """
    code = (country or "").strip().upper()
    if campaign_profile is not None:
        base = profiles.get(campaign_profile)
        if base is None:
            raise ProfileError(
                f"campaign {campaign_name!r} uses unknown profile {campaign_profile!r}"
            )
        if code and base.country == code:
            return tighten(base, campaign_overrides, campaign_name or "")
    return country_profile(profiles, code) or no_profile(code)
