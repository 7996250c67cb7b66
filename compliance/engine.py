"""The rules engine: a pure function from a call request and an instant to a Decision.

No I/O here: the caller hands in the account and phone facts, the effective
profile, a registry lookup and a snapshot of the debtor's counters. Every
failing rule is reported (not just the first), in the order of RULES.md:
account status, number, registries, day and hours, caps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

import holidays

from compliance.profile import Profile
from compliance.timezones import number_info, resolve_zones

log = logging.getLogger(__name__)

# The stable reason codes (DESIGN.md): tests, metrics labels and the audit log use them.
REASONS = (
    "registry_listed",
    "registry_unavailable",
    "registry_stale",
    "outside_hours",
    "day_not_allowed",
    "holiday",
    "attempt_cap_day",
    "attempt_cap_week",
    "contact_cap_week",
    "no_consent",
    "not_delinquent",
    "cease_contact",
    "legal_stage",
    "disputed",
    "invalid_number",
    "third_party",
    "timezone_unknown",
    "recent_abandon",
    "country_unknown",
)

CLOSED_STATUSES = frozenset({"paid", "settled", "closed"})
PARTY_BY_PHONE_TYPE = {
    "mobile": "debtor",
    "home": "debtor",
    "work": "debtor",
    "guarantor": "guarantor",
    "reference": "third_party",
}


@dataclass(frozen=True)
class AccountFacts:
    id: int
    status: str
    stage: str
    balance: Decimal
    country: str
    region: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class PhoneFacts:
    e164: str
    phone_type: str = "mobile"
    status: str = "active"
    consent: bool = False
    consent_ref: str | None = None


@dataclass(frozen=True)
class RegistryAnswer:
    """What one registry says about one number. available=False: not loaded or unreachable."""

    name: str
    available: bool
    version: str | None = None
    imported_at: datetime | None = None
    listed: bool = False


class RegistryLookup(Protocol):
    def answer(self, name: str, e164: str) -> RegistryAnswer: ...


@dataclass
class StaticRegistries:
    """A RegistryLookup from plain data: prefetched answers, or a list for tests.

    `lists` maps a registry name to (version, imported_at, numbers); a name not
    in `lists` is unavailable.
    """

    lists: Mapping[str, tuple[str, datetime, frozenset[str]]] = field(default_factory=dict)

    def answer(self, name: str, e164: str) -> RegistryAnswer:
        entry = self.lists.get(name)
        if entry is None:
            return RegistryAnswer(name, available=False)
        version, imported_at, numbers = entry
        return RegistryAnswer(name, True, version, imported_at, e164 in numbers)


@dataclass(frozen=True)
class CounterSnapshot:
    """The debtor's recent events as epoch seconds (all numbers of the debtor together).

    available=False means the counters could not be read: every cap then fails
    (an unknown count cannot be shown to be under the cap).
    """

    attempts: tuple[float, ...] = ()
    contacts: tuple[float, ...] = ()
    abandons: tuple[float, ...] = ()
    available: bool = True


@dataclass(frozen=True)
class CallRequest:
    account: AccountFacts
    phone: PhoneFacts
    profile: Profile
    registries: RegistryLookup
    counters: CounterSnapshot = CounterSnapshot()
    campaign_id: int | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...]
    profile_version: str
    registry_versions: Mapping[str, str | None]
    local_time: str | None
    timezone: str | None
    evaluated_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reasons": list(self.reasons),
            "profile_version": self.profile_version,
            "registry_versions": dict(self.registry_versions),
            "local_time": self.local_time,
            "timezone": self.timezone,
            "evaluated_at": self.evaluated_at.isoformat() if self.evaluated_at else None,
        }


@lru_cache(maxsize=256)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


def is_holiday(country: str, day: date) -> bool:
    return day in _holiday_dates(country, day.year)


def count_since(stamps: Iterable[float], since: float) -> int:
    """Events in the rolling window (since, now]: the Lua check counts the same way."""
    return sum(1 for s in stamps if s > since)


class Engine:
    """Evaluates call requests; holds only caches, so one instance serves every campaign."""

    def evaluate(self, request: CallRequest, now: datetime) -> Decision:
        profile = request.profile
        if now.tzinfo is None or now.utcoffset() is None:
            # A clock without a zone is not a clock we can trust: fail closed.
            return Decision(
                False, ("timezone_unknown",), profile.full_version, {}, None, None, None
            )
        now = now.astimezone(UTC)
        reasons: list[str] = []
        add = reasons.append
        account, phone = request.account, request.phone

        # 0. The law is the debtor's: a profile of another country (or none, for a
        # debtor whose country has no profile) cannot say whether the call is allowed.
        if not profile.country or profile.country != (account.country or "").strip().upper():
            return Decision(False, ("country_unknown",), profile.full_version, {}, None, None, now)

        # 1. Status of the account.
        if account.status in CLOSED_STATUSES:
            add("not_delinquent")
        elif account.status == "disputed":
            add("disputed")
        elif account.status == "cease_contact":
            add("cease_contact")
        elif account.status != "active":
            add("not_delinquent")  # unknown status: fail closed
        if account.status == "active" and account.balance <= 0:
            add("not_delinquent")
        if account.stage == "legal":
            add("legal_stage")

        # 2. The number.
        valid, _ = number_info(phone.e164)
        if not valid or phone.status in ("invalid", "wrong_number"):
            add("invalid_number")
        elif phone.status == "stopped":
            add("cease_contact")
        elif phone.status != "active":
            add("invalid_number")
        party = PARTY_BY_PHONE_TYPE.get(phone.phone_type, "third_party")
        if party not in profile.allowed_parties:
            add("third_party")
        if profile.consent_required and not (phone.consent and phone.consent_ref):
            add("no_consent")

        # 3. Registries.
        versions: dict[str, str | None] = {}
        for rule in profile.registries:
            try:
                answer = request.registries.answer(rule.name, phone.e164)
            except Exception:  # any failure of the lookup must block, never allow
                log.warning("registry %s lookup failed; blocking", rule.name, exc_info=True)
                answer = RegistryAnswer(rule.name, available=False)
            versions[rule.name] = answer.version
            if not answer.available or answer.imported_at is None:
                add("registry_unavailable")
                continue
            if now - answer.imported_at > timedelta(days=rule.max_age_days):
                add("registry_stale")
            if answer.listed:
                add("registry_listed")

        # 4. Day and hours in every possible local time of the debtor.
        zones = resolve_zones(account.timezone, account.country, account.region, phone.e164)
        local_time = None
        if not zones.zones:
            add("timezone_unknown")
        for tz in zones.zones:
            local = now.astimezone(tz)
            if local_time is None:
                local_time = local.isoformat(timespec="seconds")
            windows = profile.hours[local.weekday()]
            if not windows:
                add("day_not_allowed")
            else:
                minute = local.hour * 60 + local.minute
                if not any(w.contains(minute) for w in windows):
                    add("outside_hours")
            if profile.holidays_closed and is_holiday(profile.holidays_country, local.date()):
                add("holiday")

        # 5. Caps over rolling windows, all the debtor's numbers together.
        counters = request.counters
        now_ts = now.timestamp()
        for cap in profile.caps:
            if not counters.available:
                add(cap.reason)
                continue
            stamps = counters.contacts if cap.kind == "contacts" else counters.attempts
            if count_since(stamps, now_ts - cap.window_seconds) >= cap.max:
                add(cap.reason)
        if profile.abandon_cooldown_hours:
            since = now_ts - profile.abandon_cooldown_hours * 3600
            if not counters.available or count_since(counters.abandons, since):
                add("recent_abandon")

        unique = tuple(dict.fromkeys(reasons))
        return Decision(
            allowed=not unique,
            reasons=unique,
            profile_version=profile.full_version,
            registry_versions=versions,
            local_time=local_time,
            timezone=zones.names or None,
            evaluated_at=now,
        )
