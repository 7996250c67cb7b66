"""Until when an open promise holds its account back from the dialer: until the day
after its date has begun for the debtor, in every zone they may be in, whether the
hold is computed from the zones (dialer/recycle.py) or by the store from the
debtor's day (store/plan_tracking.py debtor_hold_until)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from compliance.debtor_time import account_day, date_zones
from dialer.recycle import promise_hold_until
from store.models import Account
from store.plan_tracking import debtor_hold_until

DUE = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("timezone", "country", "region", "hold"),
    [
        # Mexico City: 06:00 UTC of 1 Dec, not UTC's midnight (18:00 of the 30th there).
        (None, "MX", "CMX", datetime(2026, 12, 1, 6, 0, tzinfo=UTC)),
        # Chihuahua's region: Ciudad Juárez (UTC-7 in winter) is the last to start the 1st.
        (None, "MX", "CHH", datetime(2026, 12, 1, 7, 0, tzinfo=UTC)),
        # No zone known: every zone of Mexico, Tijuana last (UTC-8).
        (None, "MX", None, datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        (None, "PE", None, datetime(2026, 12, 1, 5, 0, tzinfo=UTC)),
        # A zone off the hour: the minute is found, not the hour.
        ("Asia/Kathmandu", "NP", None, datetime(2026, 11, 30, 18, 15, tzinfo=UTC)),
    ],
)
def test_given_an_open_promise_then_held_until_the_next_day_begins_wherever_the_debtor_is(
    timezone: str | None, country: str, region: str | None, hold: datetime
) -> None:
    account = Account(timezone=timezone, country=country, region=region)
    zones = date_zones(timezone, country, region, None)
    assert promise_hold_until(DUE, zones) == hold
    assert debtor_hold_until(DUE, account, account_day) == hold
    # At 19:30 of the promised day in Mexico City (01:30 UTC) the account is still held.
    if country == "MX":
        assert hold > datetime(2026, 12, 1, 1, 30, tzinfo=UTC)


def test_given_no_zone_at_all_then_held_until_utcs_midnight() -> None:
    assert promise_hold_until(DUE) == datetime(2026, 12, 1, tzinfo=UTC)
    account = Account(timezone=None, country="", region=None)
    assert debtor_hold_until(DUE, account, account_day) == datetime(2026, 12, 1, tzinfo=UTC)
