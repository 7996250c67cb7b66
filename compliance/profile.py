"""Country profiles: the contact rules as data files, loaded, validated and tightened.

A profile file (compliance/profiles/*.toml) carries a `source` next to every
rule. A campaign may tighten its profile (narrower hours, lower caps, more
registries...) through `campaign.config["compliance"]`; anything that would
loosen it is a ProfileError.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import holidays

from store.models import CONTACT_CHANNELS

PROFILES_DIR = Path(__file__).with_name("profiles")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
PARTIES = frozenset({"debtor", "guarantor", "third_party"})
# attempts: attempts placed (calls dialed, messages submitted, visits made);
# contacts: direct contacts (a right-party conversation, a reply, a visit that met the
# debtor); contacts_elsewhere: direct contacts on a channel other than the one asked for.
CAP_KINDS = ("attempts", "contacts", "contacts_elsewhere")
# The channels that reach a phone number: registries and number consent apply to them.
PHONE_CHANNELS = frozenset({"call", "sms", "whatsapp"})
# The reason codes a cap may name instead of the one its kind and window give.
CAP_REASONS = frozenset({"attempt_cap_day", "attempt_cap_week", "contact_cap_day",
                         "contact_cap_week", "channel_cap_week"})  # fmt: skip
# How a debtor learns the call is recorded: the agent's script opens with the
# notice line, or a short prompt plays at bridge. Either is a notice, so a
# campaign may choose either (campaign.config["recording_notice"]).
RECORDING_NOTICES = ("script", "prompt")
# What the agent must say to the verified debtor before anything else (the
# console's call script words each item; console/call_script.py).
OPENING_ITEMS = ("agent", "agency", "agency_address", "agency_phone", "creditor", "contract",
                 "amount", "payoff_terms", "debt_collector")  # fmt: skip
# Redis keeps (and rebuilds) 8 days of each debtor's events: no rolling window
# may look further back, or its count would silently come up short.
MAX_WINDOW_HOURS = 8 * 24


class ProfileError(ValueError):
    """A profile or campaign override that is malformed or loosens the rules."""


@dataclass(frozen=True, order=True)
class Window:
    """A local-time window [start, end) in minutes after midnight."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end

    def covers(self, other: Window) -> bool:
        return self.start <= other.start and other.end <= self.end

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


CALL_ONLY = frozenset({"call"})


@dataclass(frozen=True)
class CapRule:
    """At most `max` events of `kind` per debtor in any rolling `window_hours`.

    The events counted are those on `channels` (calls only unless the profile says
    otherwise); the cap blocks a contact on any channel of `applies_to` (by default
    the channels it counts). A new contact is allowed only while the count in the
    window is below `max`. `contacts_elsewhere` counts the direct contacts on the
    counted channels other than the one asked for (CO: one channel a week).
    """

    kind: str
    window_hours: int
    max: int
    source: str = ""
    channels: frozenset[str] = CALL_ONLY
    applies_to: frozenset[str] | None = None
    reason_code: str | None = None

    @property
    def window_seconds(self) -> int:
        return self.window_hours * 3600

    @property
    def blocks(self) -> frozenset[str]:
        """The channels this cap applies to."""
        return self.applies_to if self.applies_to is not None else self.channels

    def counted(self, channel: str) -> frozenset[str]:
        """The channels whose events count when a contact on `channel` is asked for."""
        if self.kind == "contacts_elsewhere":
            return self.channels - {channel}
        return self.channels

    @property
    def reason(self) -> str:
        # The stable reason codes know these caps: attempts within a day, attempts
        # over longer windows, contacts (any window), and other channels after a contact.
        if self.reason_code:
            return self.reason_code
        if self.kind == "contacts_elsewhere":
            return "channel_cap_week"
        if self.kind == "contacts":
            return "contact_cap_week"
        return "attempt_cap_day" if self.window_hours <= 24 else "attempt_cap_week"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "window_hours": self.window_hours,
            "max": self.max,
            "channels": sorted(self.channels),
            "applies_to": sorted(self.blocks),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ChannelRule:
    """How a profile lets one channel be used. A channel the profile does not list is
    not allowed (`channel_not_allowed`). What is None follows the profile's own rule."""

    name: str
    source: str = ""
    hours: tuple[tuple[Window, ...], ...] | None = None  # 7 entries, Monday first
    holidays_closed: bool | None = None
    consent_required: bool | None = None
    # The account must carry a signed authorisation for this channel (CO visits).
    visit_authorisation: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "hours": None
            if self.hours is None
            else {
                day: [str(w) for w in windows]
                for day, windows in zip(WEEKDAYS, self.hours, strict=True)
            },
            "holidays_closed": self.holidays_closed,
            "consent_required": self.consent_required,
            "visit_authorisation": self.visit_authorisation,
        }


@dataclass(frozen=True)
class RegistryRule:
    name: str
    max_age_days: int
    source: str = ""


@dataclass(frozen=True)
class Profile:
    id: str
    country: str
    version: str
    name: str
    hours: tuple[tuple[Window, ...], ...]  # 7 entries, Monday first
    holidays_closed: bool
    holidays_country: str
    consent_required: bool
    allowed_parties: frozenset[str]
    caps: tuple[CapRule, ...]
    abandon_cooldown_hours: int
    registries: tuple[RegistryRule, ...]
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    campaign: str | None = None
    # Not a dialing rule: kept out of as_dict(), so decisions' digests do not move.
    recording_notice: str = "script"
    # Not a dialing rule either: what the opening of a right-party call must say.
    opening: tuple[str, ...] = ("agent", "agency", "creditor")
    # The channels the profile allows, each with its own rules (calls only by default).
    channels: tuple[ChannelRule, ...] = (ChannelRule("call"),)
    # Closed days the `holidays` package does not know, each with its source in the
    # profile file (Mexico's election days: LFT art. 74 fr. IX).
    extra_holidays: frozenset[date] = frozenset()

    def is_closed_day(self, day: date) -> bool:
        """A public holiday of the profile's calendar, or one of its extra closed days."""
        return day in self.extra_holidays or is_public_holiday(self.holidays_country, day)

    def channel_rule(self, channel: str) -> ChannelRule | None:
        return next((c for c in self.channels if c.name == channel), None)

    def hours_for(self, channel: str) -> tuple[tuple[Window, ...], ...]:
        rule = self.channel_rule(channel)
        return rule.hours if rule is not None and rule.hours is not None else self.hours

    def holidays_closed_for(self, channel: str) -> bool:
        rule = self.channel_rule(channel)
        if rule is not None and rule.holidays_closed is not None:
            return rule.holidays_closed
        return self.holidays_closed

    def consent_required_for(self, channel: str) -> bool:
        rule = self.channel_rule(channel)
        if rule is not None and rule.consent_required is not None:
            return rule.consent_required
        return self.consent_required

    def caps_for(self, channel: str) -> tuple[CapRule, ...]:
        return tuple(c for c in self.caps if channel in c.blocks)

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(_canonical(self.as_dict()).encode()).hexdigest()[:12]

    @cached_property
    def full_version(self) -> str:
        """What a decision records: id, file version, campaign and a digest of the rules."""
        base = f"{self.id}@{self.version}"
        if self.campaign:
            base += f"+{self.campaign}"
        return f"{base}#{self.digest}"

    @property
    def max_cap_window_seconds(self) -> int:
        windows = [c.window_seconds for c in self.caps] + [self.abandon_cooldown_hours * 3600]
        return max(windows, default=0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "country": self.country,
            "version": self.version,
            "campaign": self.campaign,
            "hours": {
                day: [str(w) for w in windows]
                for day, windows in zip(WEEKDAYS, self.hours, strict=True)
            },
            "holidays": {
                "closed": self.holidays_closed,
                "country": self.holidays_country,
                # Only when there are some: the digest of a profile without them is unchanged.
                **(
                    {"extra": sorted(d.isoformat() for d in self.extra_holidays)}
                    if self.extra_holidays
                    else {}
                ),
            },  # fmt: skip
            "consent_required": self.consent_required,
            "allowed_parties": sorted(self.allowed_parties),
            "caps": [c.as_dict() for c in self.caps],
            "abandon_cooldown_hours": self.abandon_cooldown_hours,
            "registries": [
                {"name": r.name, "max_age_days": r.max_age_days} for r in self.registries
            ],
            "channels": {c.name: c.as_dict() for c in self.channels},
        }


@lru_cache(maxsize=256)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    return (
        frozenset(holidays.country_holidays(country, years=year).keys()) if country else frozenset()
    )


def is_public_holiday(country: str, day: date) -> bool:
    """A public holiday of `country` in the `holidays` package."""
    return day in _holiday_dates(country, day.year)


def _parse_extra_holidays(value: Any, where: str) -> dict[date, str]:
    """`extra = [{date = 2027-06-06, name = "...", source = "..."}]`: each closed day with
    its source (a date the `holidays` package does not know)."""
    if not isinstance(value, list):
        raise ProfileError(f"{where}: expected a list of {{date, name, source}} tables")
    out: dict[date, str] = {}
    for n, entry in enumerate(value):
        here = f"{where}[{n}]"
        if not isinstance(entry, dict):
            raise ProfileError(f"{here}: expected a table with date, name and source")
        _no_unknown(entry, {"date", "name", "source"}, here)
        raw = entry.get("date")
        if isinstance(raw, str):
            try:
                raw = date.fromisoformat(raw)
            except ValueError:
                raise ProfileError(f"{here}.date: expected YYYY-MM-DD, got {raw!r}") from None
        if not isinstance(raw, date) or isinstance(raw, datetime):
            raise ProfileError(f"{here}.date: expected a date (YYYY-MM-DD)")
        out[raw] = _require_source(entry, here)
    return out


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _parse_hhmm(text: Any, where: str) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ProfileError(f"{where}: time must be 'HH:MM', got {text!r}")
    try:
        hours, minutes = int(text[:2]), int(text[3:])
    except ValueError as exc:
        raise ProfileError(f"{where}: time must be 'HH:MM', got {text!r}") from exc
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ProfileError(f"{where}: {text!r} is not a time of day")
    return hours * 60 + minutes


def parse_windows(raw: Any, where: str) -> tuple[Window, ...]:
    """[["HH:MM", "HH:MM"], ...] as sorted, non-overlapping windows; ProfileError names `where`."""
    if not isinstance(raw, list):
        raise ProfileError(f"{where}: expected a list of [start, end] pairs")
    windows = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 2:
            raise ProfileError(f'{where}: each window is ["HH:MM", "HH:MM"], got {item!r}')
        start, end = _parse_hhmm(item[0], where), _parse_hhmm(item[1], where)
        if end <= start:
            raise ProfileError(f"{where}: window {item!r} ends before it starts")
        windows.append(Window(start, end))
    windows.sort()
    for a, b in zip(windows, windows[1:], strict=False):
        if b.start < a.end:
            raise ProfileError(f"{where}: windows {a} and {b} overlap")
    return tuple(windows)


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: missing [{key}] table")
    return value


def _require_source(table: Mapping[str, Any], where: str) -> str:
    source = table.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ProfileError(f"{where}: every rule needs a non-empty `source`")
    return source


def _int(value: Any, where: str, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProfileError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ProfileError(
            f"{where}: at most {maximum} (the attempt counters keep {maximum} hours), got {value}"
        )
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ProfileError(f"{where}: expected true or false, got {value!r}")
    return value


def _channel_list(value: Any, where: str) -> frozenset[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(c, str) and c in CONTACT_CHANNELS for c in value)
    ):
        raise ProfileError(
            f"{where}: a non-empty list from {list(CONTACT_CHANNELS)}, got {value!r}"
        )
    return frozenset(value)


def _parse_caps(raw: Any, where: str, need_source: bool) -> tuple[CapRule, ...]:
    if not isinstance(raw, list):
        raise ProfileError(f"{where}: [[caps]] must be a list of tables")
    caps = []
    for i, item in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise ProfileError(f"{w}: expected a table")
        _no_unknown(
            item, {"kind", "window_hours", "max", "source", "channels", "applies_to", "reason"}, w
        )
        kind = item.get("kind")
        if kind not in CAP_KINDS:
            raise ProfileError(f"{w}: kind must be one of {CAP_KINDS}, got {kind!r}")
        channels = (
            _channel_list(item["channels"], f"{w}.channels") if "channels" in item else CALL_ONLY
        )
        applies_to = (
            _channel_list(item["applies_to"], f"{w}.applies_to") if "applies_to" in item else None
        )
        reason = item.get("reason")
        if reason is not None and reason not in CAP_REASONS:
            raise ProfileError(f"{w}.reason: one of {sorted(CAP_REASONS)}, got {reason!r}")
        caps.append(
            CapRule(
                kind=kind,
                window_hours=_int(
                    item.get("window_hours"), f"{w}.window_hours", 1, MAX_WINDOW_HOURS
                ),
                max=_int(item.get("max"), f"{w}.max", 0),
                source=_require_source(item, w) if need_source else str(item.get("source", "")),
                channels=channels,
                applies_to=applies_to,
                reason_code=reason,
            )
        )
    return tuple(caps)


def _parse_week(table: Any, where: str) -> tuple[tuple[Window, ...], ...]:
    if not isinstance(table, Mapping):
        raise ProfileError(f"{where}: expected a table of weekdays")
    _no_unknown(table, {*WEEKDAYS, "source"}, where)
    missing = [d for d in WEEKDAYS if d not in table]
    if missing:
        raise ProfileError(f"{where}: every weekday must be listed (missing {missing})")
    return tuple(parse_windows(table[d], f"{where}.{d}") for d in WEEKDAYS)


CHANNEL_KEYS = {"source", "hours", "holidays", "consent", "visit_authorisation"}


def _parse_channels(raw: Any, where: str) -> tuple[ChannelRule, ...]:
    """`[channels.<name>]` tables: each channel the profile allows, with its source."""
    if not isinstance(raw, Mapping) or not raw:
        raise ProfileError(f"{where}: expected a table of channels ([channels.call], ...)")
    rules = []
    for name, table in raw.items():
        w = f"{where}.{name}"
        if name not in CONTACT_CHANNELS:
            raise ProfileError(f"{w}: unknown channel; known: {list(CONTACT_CHANNELS)}")
        if not isinstance(table, Mapping):
            raise ProfileError(f"{w}: expected a table")
        _no_unknown(table, CHANNEL_KEYS, w)
        authorisation = _bool(table.get("visit_authorisation", False), f"{w}.visit_authorisation")
        if authorisation and name != "visit":
            raise ProfileError(f"{w}.visit_authorisation: only the visit channel has one")
        rules.append(
            ChannelRule(
                name=name,
                source=_require_source(table, w),
                hours=_parse_week(table["hours"], f"{w}.hours") if "hours" in table else None,
                holidays_closed=_bool(table["holidays"], f"{w}.holidays")
                if "holidays" in table
                else None,
                consent_required=_bool(table["consent"], f"{w}.consent")
                if "consent" in table
                else None,
                visit_authorisation=authorisation,
            )
        )
    return tuple(rules)


def _parse_registries(raw: Any, where: str, need_source: bool) -> tuple[RegistryRule, ...]:
    if not isinstance(raw, list):
        raise ProfileError(f"{where}: [[registries]] must be a list of tables")
    out = []
    for i, item in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise ProfileError(f"{w}: expected a table")
        _no_unknown(item, {"name", "max_age_days", "source"}, w)
        name = item.get("name")
        if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
            raise ProfileError(f"{w}: registry name must be a lower-case word, got {name!r}")
        out.append(
            RegistryRule(
                name=name,
                max_age_days=_int(item.get("max_age_days"), f"{w}.max_age_days", 1),
                source=_require_source(item, w) if need_source else str(item.get("source", "")),
            )
        )
    return tuple(out)


def _no_unknown(table: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    unknown = set(table) - set(known)
    if unknown:
        raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")


def parse_profile(data: Mapping[str, Any], where: str = "profile") -> Profile:
    """Build a Profile from a parsed profile file, checking shape and sources."""
    _no_unknown(
        data,
        {"profile", "hours", "holidays", "consent", "parties", "caps", "abandon", "registries",
         "inbound", "recording", "opening", "channels"},
        where,
    )  # fmt: skip
    head = _table(data, "profile", where)
    _no_unknown(head, {"id", "country", "version", "name"}, f"{where}.profile")
    for key in ("id", "country", "version", "name"):
        if not isinstance(head.get(key), str) or not head[key]:
            raise ProfileError(f"{where}.profile.{key}: required text")
    country = head["country"]
    if len(country) != 2 or not country.isupper():
        raise ProfileError(f"{where}.profile.country: ISO 3166-1 alpha-2, got {country!r}")

    sources: dict[str, str] = {}
    hours_table = _table(data, "hours", where)
    _no_unknown(hours_table, {*WEEKDAYS, "source"}, f"{where}.hours")
    sources["hours"] = _require_source(hours_table, f"{where}.hours")
    missing = [d for d in WEEKDAYS if d not in hours_table]
    if missing:
        raise ProfileError(f"{where}.hours: every weekday must be listed (missing {missing})")
    hours = tuple(parse_windows(hours_table[d], f"{where}.hours.{d}") for d in WEEKDAYS)

    hol = _table(data, "holidays", where)
    _no_unknown(hol, {"closed", "country", "source", "extra"}, f"{where}.holidays")
    sources["holidays"] = _require_source(hol, f"{where}.holidays")
    extra_holidays = _parse_extra_holidays(hol.get("extra", []), f"{where}.holidays.extra")
    if extra_holidays:
        sources["holidays.extra"] = "; ".join(
            f"{day.isoformat()}: {source}" for day, source in sorted(extra_holidays.items())
        )
    hol_country = hol.get("country", country)
    if not isinstance(hol_country, str):
        raise ProfileError(f"{where}.holidays.country: expected text")

    consent = _table(data, "consent", where)
    _no_unknown(consent, {"required", "source"}, f"{where}.consent")
    sources["consent"] = _require_source(consent, f"{where}.consent")

    parties = _table(data, "parties", where)
    _no_unknown(parties, {"allowed", "source"}, f"{where}.parties")
    sources["parties"] = _require_source(parties, f"{where}.parties")
    allowed = parties.get("allowed")
    if not isinstance(allowed, list) or not set(allowed) <= PARTIES:
        raise ProfileError(f"{where}.parties.allowed: a list from {sorted(PARTIES)}")

    abandon = _table(data, "abandon", where)
    _no_unknown(abandon, {"cooldown_hours", "source"}, f"{where}.abandon")
    sources["abandon"] = _require_source(abandon, f"{where}.abandon")

    if "inbound" in data:
        # Calls the debtor makes: never attempts; whether their right-party
        # conversation counts as a contact is the profile's reading, with its source.
        inbound = _table(data, "inbound", where)
        _no_unknown(inbound, {"contact_counts", "source"}, f"{where}.inbound")
        sources["inbound"] = _require_source(inbound, f"{where}.inbound")
        if not _bool(inbound.get("contact_counts"), f"{where}.inbound.contact_counts"):
            # Counting is the stricter reading and the only one the caps implement.
            raise ProfileError(
                f"{where}.inbound.contact_counts: only true is supported (inbound "
                "right-party conversations count toward the contact caps)"
            )

    notice = "script"
    if "recording" in data:
        recording = _table(data, "recording", where)
        _no_unknown(recording, {"notice", "source"}, f"{where}.recording")
        sources["recording"] = _require_source(recording, f"{where}.recording")
        notice = recording.get("notice", notice)
        if notice not in RECORDING_NOTICES:
            raise ProfileError(
                f"{where}.recording.notice: one of {RECORDING_NOTICES}, got {notice!r}"
            )

    opening: tuple[str, ...] = Profile.opening
    if "opening" in data:
        table = _table(data, "opening", where)
        _no_unknown(table, {"say", "source"}, f"{where}.opening")
        sources["opening"] = _require_source(table, f"{where}.opening")
        say = table.get("say")
        if not isinstance(say, list) or not say or not set(say) <= set(OPENING_ITEMS):
            raise ProfileError(f"{where}.opening.say: a non-empty list from {OPENING_ITEMS}")
        opening = tuple(dict.fromkeys(str(x) for x in say))

    # Without a [channels] table a profile allows calls only, under its own rules.
    channels = (
        _parse_channels(data["channels"], f"{where}.channels")
        if "channels" in data
        else (ChannelRule("call", sources["hours"]),)
    )
    sources.update({f"channels.{c.name}": c.source for c in channels})

    return Profile(
        id=head["id"],
        country=country,
        version=head["version"],
        name=head["name"],
        hours=hours,
        holidays_closed=_bool(hol.get("closed"), f"{where}.holidays.closed"),
        holidays_country=hol_country,
        extra_holidays=frozenset(extra_holidays),
        consent_required=_bool(consent.get("required"), f"{where}.consent.required"),
        allowed_parties=frozenset(allowed),
        caps=_parse_caps(data.get("caps", []), f"{where}.caps", need_source=True),
        abandon_cooldown_hours=_int(
            abandon.get("cooldown_hours"), f"{where}.abandon.cooldown_hours", 0, MAX_WINDOW_HOURS
        ),
        registries=_parse_registries(
            data.get("registries", []), f"{where}.registries", need_source=True
        ),
        sources=sources,
        recording_notice=notice,
        opening=opening,
        channels=channels,
    )


def load_profile_file(path: Path) -> Profile:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {path} is not valid TOML: {exc}") from exc
    return parse_profile(data, where=path.name)


def load_profiles(extra_dir: Path | None = None) -> dict[str, Profile]:
    """The shipped profiles, plus (and overridden by) those in extra_dir."""
    dirs = [PROFILES_DIR] + ([extra_dir] if extra_dir else [])
    profiles: dict[str, Profile] = {}
    for directory in dirs:
        for path in sorted(directory.glob("*.toml")):
            if path.name == "regions.toml":
                continue
            profile = load_profile_file(path)
            profiles[profile.id] = profile
    return profiles


CAMPAIGN_KEYS = {"hours", "holidays", "consent", "parties", "caps", "abandon", "registries",
                 "channels"}  # fmt: skip


def intersect_windows(a: tuple[Window, ...], b: tuple[Window, ...]) -> tuple[Window, ...]:
    """The minutes in both sets of windows."""
    out = []
    for x in a:
        for y in b:
            start, end = max(x.start, y.start), min(x.end, y.end)
            if start < end:
                out.append(Window(start, end))
    return tuple(sorted(out))


def tighten(profile: Profile, overrides: Mapping[str, Any] | None, campaign: str) -> Profile:
    """The profile as a campaign runs it; raises ProfileError if an override loosens a rule."""
    if not overrides:
        return replace(profile, campaign=campaign)
    where = f"campaign {campaign!r}"
    if not isinstance(overrides, Mapping):
        raise ProfileError(f"{where}: compliance overrides must be a table")
    _no_unknown(overrides, CAMPAIGN_KEYS, where)
    changes: dict[str, Any] = {"campaign": campaign}

    if "hours" in overrides:
        table = overrides["hours"]
        if not isinstance(table, Mapping):
            raise ProfileError(f"{where}.hours: expected a table of weekdays")
        _no_unknown(table, {*WEEKDAYS, "source"}, f"{where}.hours")
        hours = list(profile.hours)
        for i, day in enumerate(WEEKDAYS):
            if day not in table:
                continue
            windows = parse_windows(table[day], f"{where}.hours.{day}")
            for w in windows:
                if not any(p.covers(w) for p in profile.hours[i]):
                    raise ProfileError(
                        f"{where}.hours.{day}: {w} is outside the profile's "
                        f"{[str(p) for p in profile.hours[i]] or 'closed day'} (loosens {profile.id})"
                    )
            hours[i] = windows
        changes["hours"] = tuple(hours)
        # A channel with hours of its own keeps only what the campaign's hours allow.
        profile = replace(profile, channels=tuple(
            c if c.hours is None
            else replace(c, hours=tuple(intersect_windows(own, new)
                                        for own, new in zip(c.hours, hours, strict=True)))
            for c in profile.channels
        ))  # fmt: skip
        changes["channels"] = profile.channels

    if "holidays" in overrides:
        table = overrides["holidays"]
        if not isinstance(table, Mapping):
            raise ProfileError(f"{where}.holidays: expected a table")
        _no_unknown(table, {"closed", "source"}, f"{where}.holidays")
        closed = _bool(table.get("closed"), f"{where}.holidays.closed")
        if profile.holidays_closed and not closed:
            raise ProfileError(f"{where}: opening holidays loosens {profile.id}")
        changes["holidays_closed"] = closed

    if "consent" in overrides:
        table = overrides["consent"]
        if not isinstance(table, Mapping):
            raise ProfileError(f"{where}.consent: expected a table")
        _no_unknown(table, {"required", "source"}, f"{where}.consent")
        required = _bool(table.get("required"), f"{where}.consent.required")
        if profile.consent_required and not required:
            raise ProfileError(f"{where}: dropping consent loosens {profile.id}")
        changes["consent_required"] = required

    if "parties" in overrides:
        table = overrides["parties"]
        if not isinstance(table, Mapping):
            raise ProfileError(f"{where}.parties: expected a table")
        _no_unknown(table, {"allowed", "source"}, f"{where}.parties")
        allowed = table.get("allowed")
        if not isinstance(allowed, list) or not set(allowed) <= PARTIES:
            raise ProfileError(f"{where}.parties.allowed: a list from {sorted(PARTIES)}")
        extra = set(allowed) - profile.allowed_parties
        if extra:
            raise ProfileError(f"{where}: allowing {sorted(extra)} loosens {profile.id}")
        changes["allowed_parties"] = frozenset(allowed)

    if "caps" in overrides:
        caps = _parse_caps(overrides["caps"], f"{where}.caps", need_source=False)
        for cap in caps:
            for base in profile.caps:
                if (
                    base.kind == cap.kind
                    and base.window_hours == cap.window_hours
                    and base.channels == cap.channels
                    and base.blocks == cap.blocks
                    and cap.max > base.max
                ):
                    raise ProfileError(
                        f"{where}: {cap.kind} cap {cap.max} per {cap.window_hours} h "
                        f"loosens {profile.id} ({base.max})"
                    )
        # Campaign caps are added: the profile's caps keep applying.
        changes["caps"] = profile.caps + caps

    if "abandon" in overrides:
        table = overrides["abandon"]
        if not isinstance(table, Mapping):
            raise ProfileError(f"{where}.abandon: expected a table")
        _no_unknown(table, {"cooldown_hours", "source"}, f"{where}.abandon")
        hours_ = _int(
            table.get("cooldown_hours"), f"{where}.abandon.cooldown_hours", 0, MAX_WINDOW_HOURS
        )
        if hours_ < profile.abandon_cooldown_hours:
            raise ProfileError(f"{where}: a shorter abandon cool-down loosens {profile.id}")
        changes["abandon_cooldown_hours"] = hours_

    if "registries" in overrides:
        extra_regs = _parse_registries(
            overrides["registries"], f"{where}.registries", need_source=False
        )
        merged = {r.name: r for r in profile.registries}
        for reg in extra_regs:
            base_reg = merged.get(reg.name)
            if base_reg and reg.max_age_days > base_reg.max_age_days:
                raise ProfileError(
                    f"{where}: registry {reg.name} max age {reg.max_age_days} d "
                    f"loosens {profile.id} ({base_reg.max_age_days} d)"
                )
            merged[reg.name] = reg
        changes["registries"] = tuple(merged.values())

    if "channels" in overrides:
        changes["channels"] = _tighten_channels(profile, overrides["channels"], where)

    return replace(profile, **changes)


def _tighten_channels(profile: Profile, table: Any, where: str) -> tuple[ChannelRule, ...]:
    """A campaign may drop a channel (allowed = false), narrow its hours, or require
    consent on it; a channel the profile does not allow stays refused."""
    where = f"{where}.channels"
    if not isinstance(table, Mapping):
        raise ProfileError(f"{where}: expected a table of channels")
    rules = {c.name: c for c in profile.channels}
    for name, spec in table.items():
        w = f"{where}.{name}"
        if name not in rules:
            raise ProfileError(
                f"{w}: {profile.id} does not allow this channel (loosens {profile.id})"
            )
        if not isinstance(spec, Mapping):
            raise ProfileError(f"{w}: expected a table")
        _no_unknown(spec, {"allowed", "hours", "consent", "source"}, w)
        if "allowed" in spec and not _bool(spec["allowed"], f"{w}.allowed"):
            del rules[name]
            continue
        rule = rules[name]
        if "hours" in spec:
            days = spec["hours"]
            if not isinstance(days, Mapping):
                raise ProfileError(f"{w}.hours: expected a table of weekdays")
            _no_unknown(days, {*WEEKDAYS, "source"}, f"{w}.hours")
            hours = list(profile.hours_for(name))
            for i, day in enumerate(WEEKDAYS):
                if day not in days:
                    continue
                windows = parse_windows(days[day], f"{w}.hours.{day}")
                base = profile.hours_for(name)[i]
                for window in windows:
                    if not any(p.covers(window) for p in base):
                        raise ProfileError(
                            f"{w}.hours.{day}: {window} is outside the profile's "
                            f"{[str(p) for p in base] or 'closed day'} (loosens {profile.id})"
                        )
                hours[i] = windows
            rule = replace(rule, hours=tuple(hours))
        if "consent" in spec:
            required = _bool(spec["consent"], f"{w}.consent")
            if profile.consent_required_for(name) and not required:
                raise ProfileError(f"{w}: dropping consent loosens {profile.id}")
            rule = replace(rule, consent_required=required)
        rules[name] = rule
    return tuple(rules.values())
