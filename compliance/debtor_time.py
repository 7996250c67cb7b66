"""The debtor's time on the agent page: the zones come from compliance's one resolver
(compliance/timezones.py: account zone, region, country, number; every candidate),
and every time shown is labelled with the zone it is in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from compliance.timezones import country_zones, resolve_zones


def debtor_zones(
    account_timezone: str | None, country: str, region: str | None, phone_e164: str | None
) -> tuple[ZoneInfo, ...]:
    """The candidate zones, strongest source first (empty: unknown, fail closed)."""
    return resolve_zones(account_timezone or None, country or "", region or None,
                         phone_e164 or "").zones  # fmt: skip


def date_zones(
    account_timezone: str | None, country: str, region: str | None, phone_e164: str | None
) -> tuple[ZoneInfo, ...]:
    """The zones the debtor's *date* may be read in: their candidates, else every zone
    of their country (a Colombian or Peruvian account is never read in Mexico City's
    date because its own zone could not be resolved); empty only for a country we
    know no zones of. For reading dates, never for deciding a contact (that fails
    closed on an unknown zone)."""
    return debtor_zones(account_timezone, country, region, phone_e164) or country_zones(country)


def local_days(now: datetime, zones: tuple[ZoneInfo, ...]) -> tuple[date, ...]:
    """The debtor's date at `now` in each zone, earliest first and without repeats:
    one date most of the day, two near midnight when the zones straddle it (23:30 in
    Tijuana is already 01:30 of the next day in Cancún). UTC's date with no zone."""
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    return tuple(sorted({aware.astimezone(z).date() for z in zones})) or (
        aware.astimezone(UTC).date(),
    )


def stamp(at: datetime | None, zones: tuple[ZoneInfo, ...]) -> dict[str, Any]:
    """A time to show: in the debtor's first zone, else UTC, always with its zone."""
    if at is None:
        return {"utc": None, "local": "", "zone": ""}
    zone = zones[0] if zones else ZoneInfo("UTC")
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)
    return {
        "utc": at.isoformat(timespec="minutes"),
        "local": local.strftime("%Y-%m-%d %H:%M"),
        "zone": zone.key,
    }
