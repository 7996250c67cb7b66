"""Callback times are checked with the compliance engine, in the debtor's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compliance.callback_window import CallbackTarget, compliance_callback_checker

CHECK = compliance_callback_checker()
MX = CallbackTarget("MX", "America/Mexico_City", "+525512340001", profile="MX")
CO = CallbackTarget("CO", "America/Bogota", "+573001234567", profile="CO")


@pytest.mark.parametrize(
    ("target", "when", "reasons"),
    [
        (MX, datetime(2026, 11, 25, 16, 30, tzinfo=UTC), []),  # 10:30 in Mexico City
        (MX, datetime(2026, 11, 25, 5, 30, tzinfo=UTC), ["outside_hours"]),  # 23:30 local
        (CO, datetime(2026, 11, 29, 15, 0, tzinfo=UTC), ["day_not_allowed"]),  # a Sunday
        (CO, datetime(2026, 11, 28, 21, 0, tzinfo=UTC), ["outside_hours"]),  # Saturday 16:00
        (CO, datetime(2026, 11, 27, 15, 0, tzinfo=UTC), []),  # Friday 10:00
    ],
)
def test_given_callback_time_when_checked_then_only_time_reasons_count(
    target: CallbackTarget, when: datetime, reasons: list[str]
) -> None:
    assert CHECK(target, when) == reasons


def test_given_unknown_profile_and_country_when_checked_then_refused() -> None:
    target = CallbackTarget("ZZ", "UTC", "+441234567890", profile="nope")
    assert CHECK(target, datetime(2026, 11, 25, 12, tzinfo=UTC)) != []


def test_given_unusable_zone_when_checked_then_timezone_unknown() -> None:
    target = CallbackTarget("MX", "Mars/Olympus", "+525512340001", profile="MX")
    assert "timezone_unknown" in CHECK(target, datetime(2026, 11, 25, 16, tzinfo=UTC))
