"""The instant a check-in is judged at: the receipt, or a consistent phone time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from field.visit_time import ClockError, DeviceClock, judge_instant, parse_clock

RECEIVED = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 23:00 in Mexico City
ASSIGNED = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def offline(acted: datetime, offset: timedelta, sync_at: datetime, sync_offset: timedelta,
            received: datetime = RECEIVED) -> tuple[datetime, DeviceClock]:  # fmt: skip
    """An act at `acted` (server time) on a phone `offset` off, sent at `received`."""
    return acted + offset, DeviceClock(received + offset, sync_at, sync_at + sync_offset)


def test_given_no_clock_report_then_receipt_when_fresh_else_refused() -> None:
    fresh = judge_instant(RECEIVED - MIN, DeviceClock(), RECEIVED, ASSIGNED)
    assert (fresh.at, fresh.source) == (RECEIVED, "receipt")
    old = judge_instant(RECEIVED - timedelta(hours=13), DeviceClock(), RECEIVED, ASSIGNED)
    assert (old.at, old.why) == (None, "no_clock_report")


@given(st.timedeltas(min_value=timedelta(hours=-20), max_value=timedelta(hours=20)))
def test_given_sent_as_acted_then_receipt_whatever_the_phone_clock(offset: timedelta) -> None:
    device_now = RECEIVED + offset
    judged = judge_instant(device_now - timedelta(seconds=5), DeviceClock(device_now), RECEIVED,
                           ASSIGNED)  # fmt: skip
    assert (judged.at, judged.source) == (RECEIVED, "receipt")


@given(st.timedeltas(min_value=timedelta(hours=-20), max_value=timedelta(hours=20)))
def test_given_queued_with_a_steady_clock_then_the_act_on_the_servers_clock(
    offset: timedelta,
) -> None:
    acted = RECEIVED - timedelta(hours=3)
    fix_at, clock = offline(acted, offset, acted - timedelta(hours=1), offset)
    judged = judge_instant(fix_at, clock, RECEIVED, ASSIGNED)
    assert (judged.at, judged.source) == (acted, "device")


@pytest.mark.parametrize(
    ("acted", "offset", "sync_at", "sync_offset", "why"),
    [
        # set back 13 h after a right sync, still set back when sent
        (RECEIVED - timedelta(hours=1), timedelta(hours=-13), ASSIGNED, timedelta(0),
         "clock_changed"),
        (RECEIVED - timedelta(hours=1), timedelta(0), ASSIGNED, timedelta(minutes=6),
         "clock_changed"),
        # acted before the last sync it reports (it would have been sent then)
        (RECEIVED - timedelta(hours=5), timedelta(0), RECEIVED - timedelta(hours=2),
         timedelta(0), "before_last_sync"),
        # before the visit was planned
        (ASSIGNED - timedelta(hours=1), timedelta(0), ASSIGNED - timedelta(hours=2),
         timedelta(0), "before_assignment"),
        # a sync from the future
        (RECEIVED - timedelta(hours=1), timedelta(0), RECEIVED + timedelta(hours=1),
         timedelta(0), "sync_after_receipt"),
        (RECEIVED - timedelta(hours=15), timedelta(0), RECEIVED - timedelta(hours=16),
         timedelta(0), "queued_too_long"),
    ],
)  # fmt: skip
def test_given_an_inconsistent_queued_act_then_refused_saying_why(
    acted: datetime, offset: timedelta, sync_at: datetime, sync_offset: timedelta, why: str
) -> None:
    fix_at, clock = offline(acted, offset, sync_at, sync_offset)
    judged = judge_instant(fix_at, clock, RECEIVED, ASSIGNED)
    assert (judged.at, judged.why) == (None, why)


def test_given_queued_without_a_sync_or_acted_after_sending_then_refused() -> None:
    no_sync = judge_instant(
        RECEIVED - timedelta(hours=1), DeviceClock(RECEIVED), RECEIVED, ASSIGNED
    )
    assert no_sync.why == "no_sync_before"
    late = judge_instant(RECEIVED + timedelta(hours=1), DeviceClock(RECEIVED), RECEIVED, ASSIGNED)
    assert late.why == "acted_after_sending"


@pytest.mark.parametrize(
    ("sent_at", "synced", "error"),
    [
        ("ayer", None, "sent_at"),
        ("2026-11-24T10:00:00", None, "UTC offset"),
        (5, None, "sent_at"),
        ("x" * 100, None, "sent_at"),
        (None, "hoy", "object"),
        (None, {"server_at": "2026-11-24T10:00:00Z"}, "both"),
        (None, {"server_at": "2026-11-24T10:00:00Z", "device_at": []}, "device_at"),
        # Past the years any arithmetic on them may reach (OverflowError, a 500).
        ("0001-01-01T00:00:00Z", None, "between the years"),
        ("9999-12-31T23:59:59+00:00", None, "between the years"),
        (
            None,
            {"server_at": "0001-01-01T00:00:00Z", "device_at": "2026-11-24T10:00:00Z"},
            "synced.server_at",
        ),
    ],
)
def test_given_malformed_clock_report_then_clock_error(
    sent_at: object, synced: object, error: str
) -> None:
    with pytest.raises(ClockError, match=error):
        parse_clock(sent_at, synced)


def test_given_well_formed_clock_report_then_parsed() -> None:
    clock = parse_clock("2026-11-24T10:00:00Z",
                        {"server_at": "2026-11-24T09:00:00Z", "device_at": "2026-11-24T09:00:05+00:00"})  # fmt: skip
    assert clock.sent_at == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert clock.synced_device_at == datetime(2026, 11, 24, 9, 0, 5, tzinfo=UTC)
    assert parse_clock(None, None) == DeviceClock()


def test_given_a_phone_reset_to_1970_or_years_ahead_when_sent_as_acted_then_receipt() -> None:
    """A clock reset by a dead battery, or set years ahead, still reports well: online,
    the check-in is judged at the receipt."""
    for device_now in ("1970-01-01T00:03:00Z", "2031-06-01T12:00:00-05:00"):
        clock = parse_clock(device_now, None)
        assert clock.sent_at is not None
        judged = judge_instant(clock.sent_at - MIN, clock, RECEIVED, ASSIGNED)
        assert (judged.at, judged.source) == (RECEIVED, "receipt")
