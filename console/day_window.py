"""Where a person's day starts: midnight in their own zone (the browser's IANA
zone, sent by the page), never 00:00 UTC."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_ZONE = 64


class ZoneError(ValueError):
    """Not an IANA zone name."""


def zone_named(name: str | None, default: str = "UTC") -> ZoneInfo:
    text = (name or "").strip() or default
    if len(text) > MAX_ZONE or ".." in text or text.startswith("/"):
        raise ZoneError(text[:MAX_ZONE])
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a folder of the zone database ("America"), IsADirectoryError; left
        # to the error middleware it read as a service down (503).
        raise ZoneError(text[:MAX_ZONE]) from None


def local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``now``'s day in ``zone`` (an aware instant)."""
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)
