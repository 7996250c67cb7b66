"""A time zone as a person names it: the city of the zone, never its IANA id.

Every time shown to a person carries its zone (the console's "Mi día", the
portal's chat, the assistant's callback reply); one function names it so a
debtor never reads "America/Mexico_City" where an agent reads "Ciudad de México".
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location


def zone_city(zone: ZoneInfo, locale: str) -> str:
    """ "Ciudad de México", "Bogotá", "Lima" ("Mexico City" in English); "UTC" for UTC;
    a fixed offset as "UTC−5"; a zone CLDR does not name, its last part."""
    if zone.key in ("UTC", "GMT") or zone.key.startswith("Etc/"):
        # A fixed offset has no city; its POSIX name reads backwards (Etc/GMT+5 is
        # five hours BEHIND): said as "UTC−5".
        offset = datetime(2000, 1, 1, tzinfo=zone).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        if minutes == 0:
            return "UTC"
        hours, rest = divmod(abs(minutes), 60)
        return f"UTC{'+' if minutes > 0 else '−'}{hours}" + (f":{rest:02d}" if rest else "")
    try:
        return str(get_timezone_location(zone, locale=locale, return_city=True))
    except (LookupError, ValueError):  # a zone CLDR does not name: its last part
        return zone.key.rsplit("/", 1)[-1].replace("_", " ")
