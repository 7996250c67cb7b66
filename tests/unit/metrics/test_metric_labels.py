"""Label helpers map free-form inputs onto bounded label values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from metrics.labels import (
    campaign_label,
    country_label,
    error_reason,
    hour_label,
    label_value_problem,
    reason_label,
    region_label,
)


@pytest.mark.parametrize(
    ("country", "subdivision", "expected"),
    [
        ("MX", "JAL", "MX-JAL"),
        ("mx", "mx-jal", "MX-JAL"),
        ("CO", "DC", "CO-DC"),
        ("PE", "LIM", "PE-LIM"),
        ("MX", "Jalisco", "unknown"),
        ("MX", "ZZZ", "unknown"),
        ("MX", None, "unknown"),
        (None, "JAL", "unknown"),
        ("MX", "CO-DC", "unknown"),
        ("Mexico", "JAL", "unknown"),
    ],
)
def test_given_a_subdivision_when_labelled_then_only_known_iso_codes_pass(
    country: str | None, subdivision: str | None, expected: str
) -> None:
    assert region_label(country, subdivision) == expected


def test_given_a_local_time_when_labelled_then_the_hour_is_the_debtors() -> None:
    local = datetime(2026, 11, 24, 3, 0, tzinfo=ZoneInfo("UTC")).astimezone(
        ZoneInfo("America/Mexico_City")
    )

    assert hour_label(local) == "21"


def test_given_an_early_hour_when_labelled_then_it_is_zero_padded() -> None:
    local = datetime(2026, 11, 24, 7, 5, tzinfo=ZoneInfo("America/Lima"))

    assert hour_label(local) == "07"


def test_given_a_naive_time_when_labelled_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        hour_label(datetime(2026, 11, 24, 9, 0))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("registry_listed", "registry_listed"), ("5512345678", "other"), ("Bad Reason", "other")],
)
def test_given_a_reason_when_labelled_then_odd_values_become_other(raw: str, expected: str) -> None:
    assert reason_label(raw) == expected


def test_given_a_campaign_name_with_a_phone_when_labelled_then_it_becomes_invalid() -> None:
    assert campaign_label("cliente_5512345678") == "invalid"
    assert campaign_label("mora_30") == "mora_30"


@pytest.mark.parametrize(("raw", "expected"), [("mx", "MX"), ("", "unknown"), ("MEX", "unknown")])
def test_given_a_country_when_labelled_then_it_is_alpha2_or_unknown(
    raw: str, expected: str
) -> None:
    assert country_label(raw) == expected


def test_given_an_unknown_label_name_when_checked_then_it_is_refused() -> None:
    assert label_value_problem("phone", "x") is not None
    assert label_value_problem("window", "1h") is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("AMIActionTimeout", "ami_action_timeout"),
        ("AMIDisconnected", "ami_disconnected"),
        (TimeoutError(), "timeout_error"),
        (ConnectionResetError(), "connection_reset_error"),
    ],
)
def test_given_an_exception_when_labelled_then_it_becomes_a_snake_case_reason(
    error: BaseException | str, expected: str
) -> None:
    assert error_reason(error) == expected
