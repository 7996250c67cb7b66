"""A campaign's inbound settings, read from `Campaign.config["inbound"]` with defaults.

Example (JSON in the campaign's config):

    "inbound": {
      "dids": ["+525550001000"],            # besides the campaign's caller IDs
      "timezone": "America/Mexico_City",    # the center's clock for opening hours
      "hours": {"mon": [["08:00", "20:00"]], ..., "sun": []},
      "skill_group": "mora-temprana",       # agents of this group take it first
      "overflow_after_seconds": 60,         # then any ready agent of any campaign
      "service_level_seconds": 20,
      "announce_every_seconds": 30,
      "verification": ["birth_date", "account_last4"],   # default: account_last4 (document_last4 where on file)
      "greeting_sound": "hello", "closed_sound": "", "hold_class": "default"
    }
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from compliance.profile import WEEKDAYS, ProfileError, parse_windows
from dialer.inbound.hours import OpeningHours

# Prompts the agent asks before personal data is shown (codes; the console labels them).
VERIFICATIONS = ("birth_date", "account_last4", "postal_code", "full_name")
# Always on file (the account reference); birth_date/postal_code come from custom fields.
DEFAULT_VERIFICATION = ("account_last4",)
DEFAULT_HOURS = {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": [["09:00", "14:00"]],
    "sun": [],
}
DEFAULT_ZONE = {"MX": "America/Mexico_City", "CO": "America/Bogota", "PE": "America/Lima",
                "US": "America/New_York"}  # fmt: skip


class InboundSettingsError(ValueError):
    """The campaign's inbound settings cannot be used; the message says which key."""


@dataclass(frozen=True)
class InboundSettings:
    dids: tuple[str, ...]
    hours: OpeningHours
    skill_group: str | None
    overflow_after_seconds: float
    service_level_seconds: float
    announce_every_seconds: float
    verification: tuple[str, ...]
    greeting_sound: str
    closed_sound: str
    hold_class: str


def inbound_settings(config: Mapping[str, Any] | None, country: str,
                     caller_ids: list[str] | None = None) -> InboundSettings:  # fmt: skip
    raw = (config or {}).get("inbound")
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise InboundSettingsError("inbound: expected a table")
    zone_name = str(raw.get("timezone") or DEFAULT_ZONE.get(country.upper(), "UTC"))
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InboundSettingsError(f"inbound.timezone: unknown zone {zone_name!r}") from exc
    verification = tuple(str(v) for v in raw.get("verification", DEFAULT_VERIFICATION))
    unknown = set(verification) - set(VERIFICATIONS)
    if unknown:
        raise InboundSettingsError(f"inbound.verification: unknown prompts {sorted(unknown)}")
    dids = tuple(str(d) for d in [*(caller_ids or []), *raw.get("dids", [])] if d)
    return InboundSettings(
        dids=dids,
        hours=parse_hours(raw.get("hours", DEFAULT_HOURS), zone),
        skill_group=str(raw["skill_group"]) if raw.get("skill_group") else None,
        overflow_after_seconds=_seconds(raw, "overflow_after_seconds", 60.0),
        service_level_seconds=_seconds(raw, "service_level_seconds", 20.0),
        announce_every_seconds=_seconds(raw, "announce_every_seconds", 30.0),
        verification=verification,
        greeting_sound=str(raw.get("greeting_sound", "hello")),
        closed_sound=str(raw.get("closed_sound", "")),
        hold_class=str(raw.get("hold_class", "default")),
    )


def parse_hours(raw: Mapping[str, Any], zone: ZoneInfo) -> OpeningHours:
    if not isinstance(raw, Mapping):
        raise InboundSettingsError("inbound.hours: expected a table of weekdays")
    try:
        days = tuple(parse_windows(raw.get(d, []), f"inbound.hours.{d}") for d in WEEKDAYS)
    except ProfileError as exc:
        raise InboundSettingsError(str(exc)) from exc
    return OpeningHours(zone, days)


def _seconds(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if not isinstance(value, int | float) or value < 0:
        raise InboundSettingsError(f"inbound.{key}: a number of seconds >= 0")
    return float(value)
