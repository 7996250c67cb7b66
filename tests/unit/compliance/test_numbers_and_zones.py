"""Number normalisation for registry files, and the debtor's candidate zones."""

from __future__ import annotations

import pytest

from compliance.numbers import BadNumber, NumberNormaliser, e164_to_int
from compliance.timezones import number_info, resolve_zones


@pytest.mark.parametrize(
    ("country", "text", "expected"),
    [
        ("MX", "+52 55 1234 5678", 525512345678),
        ("MX", "525512345678", 525512345678),
        ("MX", "5512345678", 525512345678),
        ("MX", "(55) 1234-5678", 525512345678),
        ("MX", "+5215512345678", 525512345678),  # old mobile "1"
        # Prefixes retired in 2019-2020, still in many a file: the same person's number.
        ("MX", "044 55 1234 5678", 525512345678),
        ("MX", "045 33 1234 5678", 523312345678),
        ("MX", "01 81 1234 5678", 528112345678),
        ("MX", "00 52 1 55 1234 5678", 525512345678),
        ("MX", "0052 55 1234 5678", 525512345678),
        ("MX", "52 1 55 1234 5678", 525512345678),  # "+" left out
        ("CO", "3001234567", 573001234567),
        ("PE", "912345678", 51912345678),
        (None, "+12125550100", 12125550100),
    ],
)
def test_given_number_forms_when_normalised_then_one_integer(
    country: str | None, text: str, expected: int
) -> None:
    assert NumberNormaliser(country).normalise(text) == expected


@pytest.mark.parametrize(
    ("country", "text", "reason"),
    [
        ("MX", "", "empty"),
        ("MX", "hola", "not a phone number"),
        ("MX", "５５１２３４５６７８", "not a phone number"),  # full-width digits
        ("MX", "12345", "wrong length"),
        ("MX", "044 55 1234 567", "wrong length"),  # a digit short: not read as anything
        ("CO", "044 55 1234 5678", "wrong length"),  # Mexico's prefixes are Mexico's only
        ("MX", "0000000000", "not a valid"),
        ("MX", "+999123456", "unknown country calling code"),
        (None, "5512345678", "without --country"),
    ],
)
def test_given_bad_text_when_normalised_then_bad_number_with_reason(
    country: str | None, text: str, reason: str
) -> None:
    with pytest.raises(BadNumber, match=reason):
        NumberNormaliser(country).normalise(text)


def test_given_unknown_country_when_building_normaliser_then_error() -> None:
    with pytest.raises(ValueError, match="unknown country"):
        NumberNormaliser("XX")


@pytest.mark.parametrize(
    ("e164", "valid"),
    [
        ("+525512345678", True),
        ("+390612345678", True),
        ("+5255", False),
        ("5255", False),
        ("+", False),
    ],
)
def test_given_e164_text_when_inspected_then_validity(e164: str, valid: bool) -> None:
    assert number_info(e164)[0] is valid


def test_given_e164_when_converted_then_integer_or_none() -> None:
    assert e164_to_int("+525512345678") == 525512345678
    assert e164_to_int("5512345678") is None
    assert e164_to_int("+52²") is None  # a digit to str.isdigit(), none to int()


@pytest.mark.parametrize(
    ("tz", "country", "region", "e164", "names", "source"),
    [
        ("America/Cancun", "MX", "CMX", "+525512345678", "America/Cancun", "account"),
        (None, "MX", "SON", "+525512345678", "America/Hermosillo", "region"),
        (
            None,
            "MX",
            "MX-NAY",
            "+525512345678",
            "America/Mazatlan,America/Bahia_Banderas",
            "region",
        ),
        (None, "CO", "ANT", "+573001234567", "America/Bogota", "region"),
        (None, "PE", None, "+51912345678", "America/Lima", "country"),
        (None, "MX", None, "+529981234567", "America/Cancun", "number"),
        (None, "MX", "XYZ", "+526641234567", "America/Tijuana", "number"),
        ("UTC", "MX", "CMX", "+525512345678", "", "none"),
        (None, "GB", None, "+80012345678", "", "none"),
    ],
)
def test_given_account_data_when_resolving_zones_then_strongest_source_wins(
    tz: str | None, country: str, region: str | None, e164: str, names: str, source: str
) -> None:
    zones = resolve_zones(tz, country, region, e164)
    assert (zones.names, zones.source) == (names, source)
