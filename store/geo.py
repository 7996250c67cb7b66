"""Coordinates: validation against each country's bounds and distances on the Earth
(used by the account import and by field visits).

Pure. Geocoding (address text -> coordinates) is out of scope: the creditor's
file carries the coordinates, or the account has none and cannot be visited.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


class CoordinateError(ValueError):
    """Coordinates that cannot be a debtor's address: the message says why."""


@dataclass(frozen=True)
class Box:
    south: float
    north: float
    west: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


# Bounding boxes of each supported country, islands included, rounded outwards.
# A box is coarse (it takes in some of the neighbours) but catches what goes wrong
# in files: latitude and longitude swapped, a lost minus sign, another country's
# coordinates, (0, 0).
COUNTRY_BOUNDS: Mapping[str, tuple[Box, ...]] = {
    # Mainland 14.5-32.7 N, 86.7-117.1 W; Revillagigedo and Guadalupe islands west.
    "MX": (Box(14.3, 32.8, -118.7, -86.4),),
    # Mainland -4.2-12.5 N, 66.8-79.1 W; San Andrés, Providencia, Serranilla, Malpelo.
    "CO": (Box(-4.3, 16.0, -82.2, -66.8),),
    "PE": (Box(-18.4, 0.1, -81.4, -68.6),),
    "US": (
        Box(24.4, 49.5, -125.0, -66.9),  # contiguous states
        Box(51.0, 71.6, -180.0, -129.9),  # Alaska
        Box(51.0, 53.1, 172.0, 180.0),  # the Aleutians west of 180°
        Box(18.9, 22.3, -160.3, -154.7),  # Hawaii
        Box(17.8, 18.6, -67.3, -65.2),  # Puerto Rico
    ),
}


def parse_coordinate(text: str, column: str, limit: float) -> float:
    raw = text.strip()
    if "," in raw:
        raise CoordinateError(f"{column} {text!r}: use a dot for decimals (e.g. 19.4326)")
    try:
        value = float(raw)
    except ValueError as exc:
        raise CoordinateError(f"{column} {text!r} is not a number") from exc
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise CoordinateError(f"{column} {text!r} is outside -{limit:g}..{limit:g}")
    return value


def check_point(lat: float, lon: float, country: str) -> None:
    """Raise CoordinateError unless (lat, lon) is a plausible point of `country`."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise CoordinateError("coordinates must be numbers")
    if not -90 <= lat <= 90:
        raise CoordinateError(f"latitude {lat:g} is outside -90..90")
    if not -180 <= lon <= 180:
        raise CoordinateError(f"longitude {lon:g} is outside -180..180")
    boxes = COUNTRY_BOUNDS.get(country)
    if boxes is None:
        raise CoordinateError(f"no bounds known for country {country!r}")
    if not any(box.contains(lat, lon) for box in boxes):
        hint = ""
        if any(box.contains(lon, lat) for box in boxes):
            hint = " (latitude and longitude look swapped)"
        elif any(box.contains(lat, -lon) or box.contains(-lat, lon) for box in boxes):
            hint = " (a minus sign looks lost)"
        raise CoordinateError(f"({lat:g}, {lon:g}) is not inside {country}{hint}")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; < 0.5 % error, ample for walking)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
