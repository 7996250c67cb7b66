"""A campaign's numeric limits (promise horizon, paid-claim hold, wrap-up time):
checked in range when the campaign is created, and read within range at use.

They are added to dates and instants: `today + timedelta(days=10**9)` raised
OverflowError (a 500 on the agent's pop, the portal and the field app), and a
value that is not a number raised ValueError the same way. A campaign stored
before the check, or edited in SQL, is read clamped into range (a text that is
no number reads as the default), with a warning in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    default: int
    low: int
    high: int
    unit: str


# A promise (or a plan's first payment) more than a year out is no promise; a
# paid claim is checked within a year; a wrap-up longer than an hour is a typo.
LIMITS: dict[str, Limit] = {
    "promise_max_days": Limit(30, 0, 366, "days"),
    "paid_claim_hold_days": Limit(7, 1, 366, "days"),
    "wrapup_seconds": Limit(20, 0, 3600, "seconds"),
}


def _whole(raw: Any) -> int | None:
    """A whole number from TOML/JSON (an int, or a string of ASCII digits), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        body = text.removeprefix("-")
        if 0 < len(body) <= 18 and body.isascii() and body.isdigit():
            return int(text)
    return None


def problems(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with the limits of a campaign's rules, one sentence each."""
    out = []
    for key, limit in LIMITS.items():
        if key not in config:
            continue
        value = _whole(config[key])
        if value is None or not limit.low <= value <= limit.high:
            out.append(f"{key} must be a whole number of {limit.unit} from {limit.low} to "
                       f"{limit.high} (got {str(config[key])[:40]!r})")  # fmt: skip
    return out


def limit(config: Mapping[str, Any] | None, key: str) -> int:
    """The campaign's `key` within its range: the default when unset or not a number,
    clamped into range when outside it."""
    spec = LIMITS[key]
    raw = (config or {}).get(key)
    if raw is None:
        return spec.default
    value = _whole(raw)
    if value is None:
        log.warning("campaign %s=%.40r is not a whole number; using %d", key, raw, spec.default)
        return spec.default
    if not spec.low <= value <= spec.high:
        clamped = min(max(value, spec.low), spec.high)
        log.warning("campaign %s=%d is outside %d..%d; using %d", key, value, spec.low,
                    spec.high, clamped)  # fmt: skip
        return clamped
    return value
