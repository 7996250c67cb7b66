"""Is a callback time inside the debtor's calling window?

The compliance engine answers: the debtor's profile (the campaign's, tightened
by its overrides, when it is of the debtor's country) is evaluated at the
callback instant, and only the reasons about time (day, hours, holidays,
unknown zone or country) count, because the
other rules (caps, registries) are checked again when the call is placed.
Fails closed: an unknown profile or a profile error refuses the time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from compliance.engine import AccountFacts, CallRequest, Engine, PhoneFacts, StaticRegistries
from compliance.jurisdiction import debtor_profile
from compliance.profile import Profile, ProfileError, load_profiles

log = logging.getLogger(__name__)

# country_unknown: no profile of the debtor's country says when a call is allowed.
TIME_REASONS = frozenset(
    {"outside_hours", "day_not_allowed", "holiday", "timezone_unknown", "country_unknown"}
)


@dataclass(frozen=True)
class CallbackTarget:
    country: str
    account_timezone: str | None
    phone_e164: str | None
    region: str | None = None
    profile: str | None = None  # the campaign's profile id; else the country's
    campaign: str | None = None
    compliance_overrides: Mapping[str, Any] | None = field(default=None, compare=False)


# Returns the reason codes that forbid the time (empty: allowed).
CallbackChecker = Callable[[CallbackTarget, datetime], list[str]]


def compliance_callback_checker(
    profiles: Mapping[str, Profile] | None = None,
) -> CallbackChecker:
    known = dict(profiles) if profiles is not None else load_profiles()
    rules = Engine()

    def check(target: CallbackTarget, when: datetime) -> list[str]:
        try:
            profile = debtor_profile(
                known,
                target.country,
                campaign_profile=target.profile,
                campaign_overrides=target.compliance_overrides,
                campaign_name=target.campaign,
            )
        except ProfileError as exc:
            log.warning("campaign %r: %s; callback refused", target.campaign, exc)
            return ["outside_hours"]
        request = CallRequest(
            account=AccountFacts(
                id=0,
                status="active",
                stage="friendly",
                balance=Decimal(1),
                country=target.country,
                region=target.region,
                timezone=target.account_timezone,
            ),
            phone=PhoneFacts(e164=target.phone_e164 or "", consent=True, consent_ref="callback"),
            profile=profile,
            registries=StaticRegistries(),
        )
        decision = rules.evaluate(request, when)
        return sorted(set(decision.reasons) & TIME_REASONS)

    return check


_shipped: CallbackChecker | None = None


def default_callback_checker(target: CallbackTarget, when: datetime) -> list[str]:
    """The compliance check with the shipped profiles (built on first use)."""
    global _shipped
    if _shipped is None:
        _shipped = compliance_callback_checker()
    return _shipped(target, when)
