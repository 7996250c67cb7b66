"""Coordinates: country bounds and distances."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.geo import CoordinateError, check_point, distance_m, parse_coordinate

CITIES = {
    "MX": [(19.4326, -99.1332), (32.5149, -117.0382), (20.9674, -89.5926), (18.72, -110.95)],
    "CO": [(4.7110, -74.0721), (12.5847, -81.7006), (-4.2153, -69.9406)],
    "PE": [(-12.0464, -77.0428), (-18.0146, -70.2536), (-3.7491, -73.2538)],
    "US": [(40.7128, -74.0060), (61.2181, -149.9003), (21.3069, -157.8583), (18.4655, -66.1057)],
}


@pytest.mark.parametrize(("country", "point"), [(c, p) for c, ps in CITIES.items() for p in ps])
def test_given_a_city_of_the_country_then_inside(country: str, point: tuple[float, float]) -> None:
    check_point(*point, country)


@pytest.mark.parametrize(
    ("lat", "lon", "country", "reason"),
    [
        (0.0, 0.0, "MX", "not inside MX"),
        (-99.13, 19.43, "MX", "outside -90..90"),
        (19.43, 99.13, "MX", "minus sign"),
        (-74.07, 4.71, "CO", "swapped"),
        (40.4168, -3.7038, "PE", "not inside PE"),  # Madrid
        (19.43, -99.13, "XX", "no bounds known"),
        (math.nan, -99.13, "MX", "must be numbers"),
        (19.43, math.inf, "MX", "must be numbers"),
        (19.43, -200.0, "MX", "outside -180..180"),
    ],
)
def test_given_bad_point_then_refused_saying_why(
    lat: float, lon: float, country: str, reason: str
) -> None:
    with pytest.raises(CoordinateError, match=reason):
        check_point(lat, lon, country)


@pytest.mark.parametrize("text", ["", "x", "1e999", "-inf", "91", "19,4"])
def test_given_bad_coordinate_text_then_refused(text: str) -> None:
    with pytest.raises(CoordinateError):
        parse_coordinate(text, "latitude", 90)


def test_given_known_pairs_then_distance_matches() -> None:
    # Zócalo to Ángel de la Independencia: ~3.3 km.
    assert distance_m(19.4326, -99.1332, 19.4270, -99.1677) == pytest.approx(3680, rel=0.02)
    # One thousandth of a degree of latitude: ~111 m.
    assert distance_m(19.0, -99.0, 19.001, -99.0) == pytest.approx(111.2, rel=0.01)
    assert distance_m(19.0, -99.0, 19.0, -99.0) == 0.0


points = st.tuples(st.floats(-89, 89), st.floats(-179, 179))


@given(points, points, points)
def test_given_any_points_then_distance_is_a_metric(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> None:
    ab, ba = distance_m(*a, *b), distance_m(*b, *a)
    assert ab == pytest.approx(ba, abs=1e-6) and ab >= 0
    assert distance_m(*a, *c) <= ab + distance_m(*b, *c) + 1e-3
