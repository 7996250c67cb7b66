"""The debtor's local time zones, for display and for checking callback times.

An explicit IANA zone on the account wins; else the zones of the number's
prefix (phonenumbers). Several candidates are all returned: a time is
acceptable only if it is acceptable in every one of them.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone


def debtor_zones(account_timezone: str | None, phone_e164: str | None) -> list[ZoneInfo]:
    if account_timezone:
        try:
            return [ZoneInfo(account_timezone)]
        except (ZoneInfoNotFoundError, ValueError):
            return []
    if not phone_e164:
        return []
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return []
    zones: list[ZoneInfo] = []
    for name in pn_timezone.time_zones_for_number(number):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return zones


def mask_phone(e164: str | None) -> str:
    """Show only the last four digits (for logs and for screens that need no more)."""
    if not e164:
        return ""
    return "•" * max(len(e164) - 4, 0) + e164[-4:]
