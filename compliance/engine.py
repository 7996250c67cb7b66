"""The rules engine: a pure function from a contact request and an instant to a Decision.

No I/O here: the caller hands in the channel, the account and address facts (a
number, an e-mail address, or the account itself for a visit), the effective
profile, a registry lookup and a snapshot of the debtor's counters on every
channel. Every failing rule is reported (not just the first), in the order of
RULES.md: channel, account status, address, registries, day and hours, caps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from compliance.profile import PHONE_CHANNELS, Profile, is_public_holiday
from compliance.protection import protection_reason
from compliance.timezones import Zones, number_info, resolve_zones, zone
from store.email_address import is_email_address

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
    # Channels other than calls (docs/channels.md).
    "channel_not_allowed",
    "channel_not_authorised",
    "visit_not_authorised",
    "opted_out",
    "invalid_address",
    "no_address",  # a letter: the account has no postal address
    "contact_cap_day",
    "channel_cap_week",
    # Protected persons (compliance/protection.py).
    "debtor_deceased",
    "debtor_minor",
    "insolvency_proceeding",
    "protected_person",
)

CLOSED_STATUSES = frozenset({"paid", "settled", "closed"})
# The stages in which the collector contacts the debtor; "legal" (the file with a
# lawyer or a court) and anything unknown are not.
COLLECTION_STAGES = frozenset({"friendly", "firm", "prelegal"})
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
    # The signed authorisation for collection visits, when the account has one (CO).
    visit_authorisation_ref: str | None = None
    # Channels the debtor opted out of for the whole account.
    opted_out: frozenset[str] = frozenset()
    # The account's numbers: where an e-mail or a visit finds the debtor's time zone
    # when neither an explicit zone nor the region gives it (every one must allow it).
    numbers: tuple[str, ...] = ()
    # deceased | minor | insolvency (compliance/protection.py), or None.
    protection: str | None = None
    # The debtor's postal address as the creditor gave it (where a letter goes).
    postal_address: str | None = None


@dataclass(frozen=True)
class PhoneFacts:
    e164: str
    phone_type: str = "mobile"
    status: str = "active"
    consent: bool = False
    consent_ref: str | None = None
    # The channels the debtor authorised on this number (calls only unless told).
    channels: frozenset[str] = frozenset({"call"})
    # The channels the debtor opted out of on this number.
    opted_out: frozenset[str] = frozenset()
    # Confirmed as this account's debtor's own number (evidence on the phone): another
    # account's third-party mark on the number does not bind it (compliance/service.py).
    owner_confirmed: bool = False


@dataclass(frozen=True)
class EmailFacts:
    """The debtor's e-mail address as the account holds it. on_account=False: an
    address the creditor was not given (a third party's, as far as we know)."""

    address: str
    on_account: bool = True
    status: str = "active"  # active | bounced | invalid
    consent: bool = False
    consent_ref: str | None = None
    opted_out: bool = False


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

    attempts: tuple[float, ...] = ()  # calls
    contacts: tuple[float, ...] = ()  # right-party contacts on calls
    abandons: tuple[float, ...] = ()
    available: bool = True
    # The same events on every other channel: (channel, epoch seconds).
    other_attempts: tuple[tuple[str, float], ...] = ()
    other_contacts: tuple[tuple[str, float], ...] = ()

    def with_events_of(self, other: CounterSnapshot) -> CounterSnapshot:
        """These events and another account's of the same debtor (compliance/
        debtor_accounts.py); unknown when either is."""
        if not (self.available and other.available):
            return CounterSnapshot(available=False)
        return CounterSnapshot(
            self.attempts + other.attempts,
            self.contacts + other.contacts,
            self.abandons + other.abandons,
            other_attempts=self.other_attempts + other.other_attempts,
            other_contacts=self.other_contacts + other.other_contacts,
        )

    def stamps(self, kind: str, channels: frozenset[str]) -> list[float]:
        """Times of the `kind` events (attempts, or contacts of any sort) on `channels`."""
        calls, others = (
            (self.attempts, self.other_attempts)
            if kind == "attempts"
            else (self.contacts, self.other_contacts)
        )
        out = list(calls) if "call" in channels else []
        out += [at for channel, at in others if channel in channels]
        return out


@dataclass(frozen=True)
class CallRequest:
    """One contact request: a channel to an address of an account's debtor.

    `phone` for the channels that reach a number (call, sms, whatsapp), `email` for
    e-mail; a visit goes to the account's own address and needs neither.
    """

    account: AccountFacts
    phone: PhoneFacts | None
    profile: Profile
    registries: RegistryLookup
    counters: CounterSnapshot = CounterSnapshot()
    campaign_id: int | None = None
    channel: str = "call"
    email: EmailFacts | None = None
    # How long after `now` the contact may still reach the debtor (a call rings up
    # to the dialer's ring timeout, plus the time to hand it to the PBX): the day
    # and hours must allow the whole span, not only its start.
    reach_seconds: float = 0.0


ContactRequest = CallRequest


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...]
    profile_version: str
    registry_versions: Mapping[str, str | None]
    local_time: str | None
    timezone: str | None
    evaluated_at: datetime | None
    channel: str = "call"

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "allowed": self.allowed,
            "reasons": list(self.reasons),
            "profile_version": self.profile_version,
            "registry_versions": dict(self.registry_versions),
            "local_time": self.local_time,
            "timezone": self.timezone,
            "evaluated_at": self.evaluated_at.isoformat() if self.evaluated_at else None,
        }


def is_holiday(country: str, day: date) -> bool:
    """A public holiday of `country` (the `holidays` package; a profile adds its own
    closed days: Profile.is_closed_day)."""
    return is_public_holiday(country, day)


def count_since(stamps: Iterable[float], since: float) -> int:
    """Events in the rolling window (since, now]: the Lua check counts the same way."""
    return sum(1 for s in stamps if s > since)


def phone_status_reason(status: str) -> str | None:
    """Why a number with this status is not dialed; None for an active one."""
    if status == "active":
        return None
    if status == "stopped":
        return "cease_contact"  # the debtor asked not to be called on it
    if status == "third_party":
        return "third_party"  # someone else answers it: an older adult, a relative, a minor
    return "invalid_number"  # invalid, wrong_number, retired, anything unknown


def no_usable_number(statuses: Iterable[str], profile: Profile, now: datetime) -> Decision:
    """The decision for an account none of whose numbers may be dialed (all dead,
    stopped, someone else's, or none at all): blocked, each reason once, in a stable
    order, so the same numbers give the same decision."""
    reasons = {phone_status_reason(s) or "invalid_number" for s in statuses} or {"invalid_number"}
    return Decision(
        allowed=False,
        reasons=tuple(r for r in REASONS if r in reasons),
        profile_version=profile.full_version,
        registry_versions={},
        local_time=None,
        timezone=None,
        evaluated_at=now,
    )


class Engine:
    """Evaluates contact requests; holds only caches, so one instance serves every campaign."""

    def evaluate(self, request: CallRequest, now: datetime) -> Decision:
        profile = request.profile
        channel = request.channel
        if now.tzinfo is None or now.utcoffset() is None:
            # A clock without a zone is not a clock we can trust: fail closed.
            return Decision(
                False, ("timezone_unknown",), profile.full_version, {}, None, None, None, channel
            )
        now = now.astimezone(UTC)
        reasons: list[str] = []
        add = reasons.append
        account, phone = request.account, request.phone

        # 0. The law is the debtor's: a profile of another country (or none, for a
        # debtor whose country has no profile) cannot say whether the call is allowed.
        if not profile.country or profile.country != (account.country or "").strip().upper():
            return Decision(
                False, ("country_unknown",), profile.full_version, {}, None, None, now, channel
            )
        # The channel: one the profile does not list is not allowed.
        if profile.channel_rule(channel) is None:
            add("channel_not_allowed")
        if channel in account.opted_out:
            add("opted_out")

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
        protected = protection_reason(account.protection)
        if protected is not None:
            # A deceased debtor, a minor, an insolvency proceeding: no collection contact
            # on any channel, whatever the status (compliance/protection.py).
            add(protected)
        if account.stage not in COLLECTION_STAGES:
            # "legal", or a stage nobody defined (a typo, an edit by hand): a stage we
            # cannot show to be before the legal one is treated as the legal one.
            add("legal_stage")

        # 2. The address: a number, an e-mail address, or the debtor's own for a visit.
        e164 = ""
        if channel in PHONE_CHANNELS:
            if phone is None:
                add("invalid_number")
            else:
                e164 = phone.e164
                self._check_phone(request, phone, add)
        elif channel == "email":
            self._check_email(request, add)
        elif channel == "visit":
            rule = profile.channel_rule(channel)
            if (
                rule is not None
                and rule.visit_authorisation
                and not (account.visit_authorisation_ref or "").strip()
            ):
                add("visit_not_authorised")
            # A visit goes to the debtor: the profile must allow the debtor.
            if "debtor" not in profile.allowed_parties:
                add("third_party")
        elif channel == "letter":
            # A letter goes to the postal address the creditor gave for the debtor;
            # none on the account: nowhere to send it (not a matter of consent).
            if not (account.postal_address or "").strip():
                add("no_address")
            if "debtor" not in profile.allowed_parties:
                add("third_party")
            if profile.consent_required_for(channel):
                add("no_consent")  # no evidence of consent for a postal address exists
        else:
            add("channel_not_allowed")  # chat: no address the profiles know

        # 3. Registries: lists of numbers, so they bind every channel that reaches one.
        versions: dict[str, str | None] = {}
        if e164:
            for rule_ in profile.registries:
                try:
                    answer = request.registries.answer(rule_.name, e164)
                except Exception:  # any failure of the lookup must block, never allow
                    log.warning("registry %s lookup failed; blocking", rule_.name, exc_info=True)
                    answer = RegistryAnswer(rule_.name, available=False)
                versions[rule_.name] = answer.version
                if not answer.available or answer.imported_at is None:
                    add("registry_unavailable")
                    continue
                if now - answer.imported_at > timedelta(days=rule_.max_age_days):
                    add("registry_stale")
                if answer.listed:
                    add("registry_listed")

        # 4. Day and hours of the channel in every possible local time of the debtor.
        zones = contact_zones(account, channel, e164)
        local_time = None
        if not zones.zones:
            add("timezone_unknown")
        hours = profile.hours_for(channel)
        holidays_closed = profile.holidays_closed_for(channel)
        # The span ends when the contact stops reaching the debtor (a call placed at
        # 21:59:50 rings into 22:00): both ends must be allowed, in the same window.
        reach = max(0.0, request.reach_seconds)
        instants = (now, now + timedelta(seconds=reach)) if reach else (now,)
        for tz in zones.zones:
            if local_time is None:
                local_time = now.astimezone(tz).isoformat(timespec="seconds")
            inside: list[Any] = []
            for instant in instants:
                local = instant.astimezone(tz)
                windows = hours[local.weekday()]
                if not windows:
                    add("day_not_allowed")
                else:
                    minute = local.hour * 60 + local.minute
                    window = next((w for w in windows if w.contains(minute)), None)
                    if window is None:
                        add("outside_hours")
                    inside.append((local.date(), window))
                if holidays_closed and profile.is_closed_day(local.date()):
                    add("holiday")
            if len(inside) == 2 and inside[0] != inside[1]:
                add("outside_hours")  # it starts in one window and ends in another

        # 5. Caps over rolling windows, all the debtor's numbers and channels together:
        # each cap counts the channels it names and binds the channels it applies to.
        counters = request.counters
        now_ts = now.timestamp()
        for cap in profile.caps_for(channel):
            if not counters.available:
                add(cap.reason)
                continue
            kind = "attempts" if cap.kind == "attempts" else "contacts"
            stamps = counters.stamps(kind, cap.counted(channel))
            if count_since(stamps, now_ts - cap.window_seconds) >= cap.max:
                add(cap.reason)
        if profile.abandon_cooldown_hours and channel == "call":
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
            channel=channel,
        )

    @staticmethod
    def _check_phone(request: CallRequest, phone: PhoneFacts, add: Callable[[str], None]) -> None:
        profile, channel = request.profile, request.channel
        valid, _ = number_info(phone.e164)
        status_reason = phone_status_reason(phone.status)
        if not valid:
            add("invalid_number")
        elif status_reason is not None:
            add(status_reason)
        party = PARTY_BY_PHONE_TYPE.get(phone.phone_type, "third_party")
        if party not in profile.allowed_parties:
            add("third_party")
        if profile.consent_required_for(channel):
            if not (phone.consent and (phone.consent_ref or "").strip()):
                add("no_consent")  # consent without evidence is no consent
            elif channel not in phone.channels:
                # Consent is for the channels the debtor authorised on the number
                # (Ley 2300 de 2023): a number without them is authorised for calls.
                add("channel_not_authorised")
        if channel in phone.opted_out:
            add("opted_out")

    @staticmethod
    def _check_email(request: CallRequest, add: Callable[[str], None]) -> None:
        email = request.email
        if email is None or not email.address:
            add("invalid_address")  # no address to write to: nothing else to say
            return
        if not is_email_address(email.address) or email.status != "active":
            add("invalid_address")
        if not email.on_account:
            add("third_party")  # an address the creditor was not given
        if request.profile.consent_required_for("email") and not (
            email.consent and (email.consent_ref or "").strip()
        ):
            add("no_consent")
        if email.opted_out:
            add("opted_out")


def contact_zones(account: AccountFacts, channel: str, e164: str) -> Zones:
    """Every zone the debtor may be in when this contact reaches them.

    The address (explicit zone, else region, else the country's one zone) gives the
    first candidates; a number that says other zones adds them, because the person
    may be there (mobiles move; RULES.md "location conflict": convenient in every
    possible location). A call or message adds the zones of the number it uses; an
    e-mail, read wherever the debtor is, those of every number of the account; a
    visit happens at the address and adds none. No address zone: the number's (or,
    for a contact without one, every number's: all must be known)."""
    zones = resolve_zones(account.timezone, account.country, account.region, e164)
    if not zones.zones:
        if not e164 and account.numbers:
            return zones_of_numbers(account)
        return zones
    if zones.source == "number":
        return zones
    if channel in PHONE_CHANNELS:
        others: tuple[str, ...] = (e164,) if e164 else ()
    elif channel == "email":
        others = account.numbers
    else:
        others = ()
    found = {z.key: z for z in zones.zones}
    for number in others:
        for name in number_info(number)[1]:
            extra = zone(name)
            if extra is not None:
                found.setdefault(name, extra)
    if len(found) == len(zones.zones):
        return zones
    return Zones(tuple(found.values()), f"{zones.source}+number")


def zones_of_numbers(account: AccountFacts) -> Zones:
    """Every zone any of the account's numbers may be in: a contact with no number of
    its own (e-mail, visit) is allowed only when it is allowed in all of them."""
    found: dict[str, Any] = {}
    for number in account.numbers:
        zones = resolve_zones(None, account.country, None, number)
        if not zones.zones:
            return Zones((), "none")  # one number of unknown zone: the time is unknown
        for tz in zones.zones:
            found.setdefault(str(tz), tz)
    return Zones(tuple(found.values()), "numbers") if found else Zones((), "none")
