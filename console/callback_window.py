"""Is a callback time inside the debtor's calling window?

The console takes the checker as a callable so the compliance engine can be
plugged in (``init_app(..., callback_checker=...)``). Until the engine's API
is wired here, ``default_callback_checker`` applies the shipped per-country
hour windows from shared/RULES.md, in every candidate zone of the debtor, and
fails closed (unknown country or zone -> refused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time

import holidays

from console.debtor_time import debtor_zones

# weekday (0=Monday) -> (start, end) local; a missing weekday means no calls.
_EVERY_DAY_7_22 = {d: (time(7), time(22)) for d in range(7)}
WINDOWS: dict[str, dict[int, tuple[time, time]]] = {
    "MX": _EVERY_DAY_7_22,
    "CO": {**{d: (time(7), time(19)) for d in range(5)}, 5: (time(8), time(15))},
    "PE": {d: (time(7), time(20)) for d in range(5)},
    "US": {d: (time(8), time(21)) for d in range(7)},
}
NO_HOLIDAY_CALLS = {"CO", "PE"}


@dataclass(frozen=True)
class CallbackTarget:
    country: str
    account_timezone: str | None
    phone_e164: str | None


# Returns the reason codes that forbid the time (empty: allowed).
CallbackChecker = Callable[[CallbackTarget, datetime], list[str]]


def default_callback_checker(target: CallbackTarget, when: datetime) -> list[str]:
    zones = debtor_zones(target.account_timezone, target.phone_e164)
    if not zones:
        return ["timezone_unknown"]
    window = WINDOWS.get(target.country)
    if window is None:
        return ["outside_hours"]
    reasons: set[str] = set()
    for zone in zones:
        local = when.astimezone(zone)
        hours = window.get(local.weekday())
        if hours is None:
            reasons.add("day_not_allowed")
            continue
        if target.country in NO_HOLIDAY_CALLS and local.date() in holidays.country_holidays(
            target.country, years=local.year
        ):
            reasons.add("holiday")
        start, end = hours
        if not start <= local.time() < end:
            reasons.add("outside_hours")
    return sorted(reasons)
