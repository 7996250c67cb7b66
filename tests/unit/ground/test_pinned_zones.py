"""Zones come from the pinned tzdata package, not from the host's (possibly stale) files."""

from __future__ import annotations

import importlib.resources
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cobrador.ground.zones import use_pinned_zones

JULY = datetime(2024, 7, 1, 12, 0)


def _old_host_zones(root: Path) -> Path:
    """A host zone directory whose Mexico City still keeps daylight time (as before Oct 2022):
    the package's Chicago data under Mexico City's name (same standard offset, with DST)."""
    chicago = importlib.resources.files("tzdata.zoneinfo").joinpath("America/Chicago")
    (root / "America").mkdir(parents=True)
    (root / "America" / "Mexico_City").write_bytes(chicago.read_bytes())
    return root


@pytest.fixture
def stale_host(tmp_path: Path):
    zoneinfo.reset_tzpath(to=[str(_old_host_zones(tmp_path))])
    yield
    use_pinned_zones()  # the state importing cobrador leaves


def test_given_stale_host_zone_files_when_read_from_the_host_then_mexico_city_is_an_hour_off(
    stale_host,
):
    # What any process would read without the pin: the test's fake host files are believed.
    offset = zoneinfo.ZoneInfo.no_cache("America/Mexico_City").utcoffset(JULY)
    assert offset == timedelta(hours=-5)


def test_given_stale_host_zone_files_when_pinned_then_mexico_city_is_utc_minus_6_in_july(
    stale_host,
):
    use_pinned_zones()
    assert zoneinfo.TZPATH == ()
    offset = zoneinfo.ZoneInfo.no_cache("America/Mexico_City").utcoffset(JULY)
    assert offset == timedelta(hours=-6)


def test_given_the_cobrador_package_imported_then_no_host_zone_path_is_read():
    import cobrador  # noqa: F401  (the import is what pins)

    assert zoneinfo.TZPATH == ()
