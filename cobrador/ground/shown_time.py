"""A moment as a person reads it: in one zone, on the 24-hour clock, in the reader's
locale (babel's CLDR data), the zone named by its city. The one way every page and
export an agent, supervisor or auditor reads words a time: "6 dic 2026, 14:05
(Ciudad de México)", "Dec 6, 2026, 14:05 (Mexico City)". Machine fields (ISO strings
for the browser's scripts and the APIs) are not this module's. Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format

from cobrador.ground.zone_names import zone_city

# The 24-hour clock in every language: one page never mixes "2:05 p. m." with "14:05".
CLOCK = "HH:mm"
# With its seconds, where they are evidence (the auditor's UTC columns).
CLOCK_SECONDS = "HH:mm:ss"


def in_zone(at: datetime, zone: ZoneInfo) -> datetime:
    """``at`` on ``zone``'s clock; a naive ``at`` is UTC (as SQL stores it)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)


def clock(at: datetime, zone: ZoneInfo, locale: str, *, seconds: bool = False) -> str:
    """The time of day alone: "14:05" ("14:05:33" with ``seconds``; the zone is said
    beside it)."""
    return str(format_time(in_zone(at, zone), CLOCK_SECONDS if seconds else CLOCK, locale=locale))


def day_and_clock(at: datetime, zone: ZoneInfo, locale: str, *, seconds: bool = False) -> str:
    """The day and the time: "6 dic 2026, 14:05" (es_MX), "Dec 6, 2026, 14:05" (en),
    joined as the locale joins them (the zone is said beside it); ``seconds``:
    "6 dic 2026, 14:05:33"."""
    local = in_zone(at, zone)
    glue = str(get_datetime_format("medium", locale=locale))
    day = str(format_date(local.date(), "medium", locale=locale))
    return glue.replace("{1}", day).replace("{0}", clock(local, zone, locale, seconds=seconds))


def shown_time(at: datetime, zone: ZoneInfo, locale: str, *, day: bool = True) -> str:
    """The time with its zone, as one string: "6 dic 2026, 14:05 (Ciudad de México)";
    ``day=False``: "14:05 (Ciudad de México)"."""
    when = day_and_clock(at, zone, locale) if day else clock(at, zone, locale)
    return f"{when} ({zone_city(zone, locale)})"
