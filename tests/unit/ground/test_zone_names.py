"""Zones named as a person names them (cobrador/ground/zone_names.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from cobrador.ground.zone_names import zone_city


@pytest.mark.parametrize(
    ("key", "locale", "name"),
    [
        ("America/Mexico_City", "es_MX", "Ciudad de México"),
        ("America/Mexico_City", "en", "Mexico City"),
        ("America/Bogota", "es_CO", "Bogotá"),
        ("America/Lima", "es_PE", "Lima"),
        ("UTC", "es_MX", "UTC"),
        ("Etc/GMT+5", "es_MX", "UTC−5"),  # POSIX sign: five hours behind
        ("Asia/Kolkata", "en", "Kolkata"),
    ],
)
def test_given_a_zone_then_its_city_or_offset_never_its_id(key, locale, name):
    assert zone_city(ZoneInfo(key), locale) == name
