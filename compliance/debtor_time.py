"""The debtor's time on the agent page: the zones come from compliance's one resolver
(compliance/timezones.py: account zone, region, country, number; every candidate),
and every time shown is labelled with the zone it is in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from compliance.timezones import resolve_zones


def debtor_zones(
    account_timezone: str | None, country: str, region: str | None, phone_e164: str | None
) -> tuple[ZoneInfo, ...]:
    """The candidate zones, strongest source first (empty: unknown, fail closed)."""
    return resolve_zones(account_timezone or None, country or "", region or None,
                         phone_e164 or "").zones  # fmt: skip


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
