"""Whether a check-in is at the visit's address: pure, from the reported GPS fix.

Accepted when the fix is within `radius_m` of the address (default 150 m),
widened by the fix's reported accuracy up to `accuracy_allowance_m` (a good-faith
agent at a large building with a 40 m fix is not turned away); a fix whose
accuracy is worse than `max_accuracy_m` is refused whatever its distance (wait
for a better fix: a 2 km circle proves nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from store.geo import CoordinateError, distance_m

RADIUS_M = 150.0
ACCURACY_ALLOWANCE_M = 50.0
MAX_ACCURACY_M = 100.0
# A fix the server files at the phone's time (a position report) may be older than its
# sync (taken offline), never newer than the server's clock beyond this skew, nor older
# than MAX_FIX_AGE. A check-in's time is judged from the phone's own clock instead
# (field/visit_time.py), so a phone set hours wrong still checks in online.
CLOCK_SKEW = timedelta(minutes=2)
MAX_FIX_AGE = timedelta(hours=14)
# Any instant a phone may report, however wrong its clock (one reset to 1970, one set
# years ahead): outside, the times cannot be computed with (datetime's years 1-9999).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Fix:
    """A GPS reading from the browser's Geolocation API."""

    lat: float
    lon: float
    accuracy_m: float
    at: datetime


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    distance_m: float
    reason: str | None = None  # too_far | inaccurate


@dataclass(frozen=True)
class CheckinRules:
    radius_m: float = RADIUS_M
    accuracy_allowance_m: float = ACCURACY_ALLOWANCE_M
    max_accuracy_m: float = MAX_ACCURACY_M


def parse_fix(data: object, now: datetime | None = None) -> Fix:
    """The fix in a request body ({lat, lon, accuracy, at}); CoordinateError says what is
    wrong. With `now` (the server's clock), its time must also be this shift's by the
    server's clock: for a report filed at the phone's time (a position). Without, only
    well formed: a check-in's time is judged from the phone's own clock report
    (field/visit_time.py), a skip's is not used."""
    if not isinstance(data, dict):
        raise CoordinateError("a fix is an object with lat, lon, accuracy and at")
    try:
        lat, lon, accuracy = (float(data[k]) for k in ("lat", "lon", "accuracy"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CoordinateError("lat, lon and accuracy must be numbers") from exc
    except OverflowError as exc:  # an integer of 400 digits: no float holds it
        raise CoordinateError("lat, lon and accuracy must be finite numbers") from exc
    if not all(math.isfinite(v) for v in (lat, lon, accuracy)):
        raise CoordinateError("lat, lon and accuracy must be finite numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CoordinateError(f"({lat:g}, {lon:g}) is not a point on the Earth")
    if lat == 0 and lon == 0:
        # What a GPS without a fix (or an app's default) reports: in the Gulf of Guinea,
        # no door of a debtor of ours, and no agent's position to show on the map.
        raise CoordinateError("(0, 0) is no reading: the phone has no position yet")
    if accuracy < 0:
        raise CoordinateError("accuracy cannot be negative")
    raw = data.get("at")
    if not isinstance(raw, str) or len(raw) > 40:
        raise CoordinateError("at must be an ISO 8601 instant")
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CoordinateError("at must be an ISO 8601 instant") from exc
    if at.tzinfo is None:
        raise CoordinateError("at must carry its UTC offset")
    if not EARLIEST <= at < LATEST:
        raise CoordinateError("at must be an instant between the years 1900 and 9000")
    if now is None:
        return Fix(lat, lon, accuracy, at)
    if at > now + CLOCK_SKEW:
        raise CoordinateError("the fix is dated in the future")
    if at < now - MAX_FIX_AGE:
        raise CoordinateError("the fix is too old to be this shift's")
    return Fix(lat, lon, accuracy, at)


DEFAULT_RULES = CheckinRules()


def judge(address: tuple[float, float], fix: Fix, rules: CheckinRules = DEFAULT_RULES) -> Verdict:
    distance = distance_m(address[0], address[1], fix.lat, fix.lon)
    if fix.accuracy_m > rules.max_accuracy_m:
        return Verdict(False, distance, "inaccurate")
    allowed = rules.radius_m + min(fix.accuracy_m, rules.accuracy_allowance_m)
    if distance > allowed:
        return Verdict(False, distance, "too_far")
    return Verdict(True, distance)
