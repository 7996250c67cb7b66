"""An account blocked at the final check rests until its block may clear, never less
than the rest it already had (dialer/attempt_store.py sleep_account)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import attempt_store as store
from store.models import Account

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def _account(engine, next_attempt_at, hopper_since):  # type: ignore[no-untyped-def]
    with Session(engine) as s, s.begin():
        account = s.scalars(select(Account)).first()
        assert account is not None
        account.next_attempt_at = next_attempt_at
        account.hopper_since = hopper_since
        return account.id


def _dates(engine, account_id):  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        return store.utc_of(account.next_attempt_at), account.hopper_since


async def test_given_a_day_of_rest_when_a_stale_claim_is_blocked_then_the_rest_is_kept(make_floor):  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    # A contact an hour ago: the account rests a day, and is in no hopper in SQL.
    rest = NOW + timedelta(hours=23)
    account_id = _account(floor.engine, rest, None)
    store.sleep_account(floor.engine, account_id, NOW + timedelta(hours=1))
    assert _dates(floor.engine, account_id) == (rest, None)


async def test_given_a_hopper_hold_when_blocked_then_the_backoff_replaces_it(make_floor):  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    # Admitted to the hopper: the two-hour hold is no date of the account's own.
    account_id = _account(floor.engine, NOW + timedelta(hours=2), NOW)
    store.sleep_account(floor.engine, account_id, NOW + timedelta(minutes=15))
    assert _dates(floor.engine, account_id) == (NOW + timedelta(minutes=15), None)


async def test_given_an_earlier_date_when_blocked_then_it_moves_to_the_backoff(make_floor):  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    account_id = _account(floor.engine, NOW - timedelta(hours=1), None)
    store.sleep_account(floor.engine, account_id, NOW + timedelta(hours=6))
    assert _dates(floor.engine, account_id) == (NOW + timedelta(hours=6), None)


async def test_given_no_such_account_when_blocked_then_nothing_happens(make_floor):  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    store.sleep_account(floor.engine, 10_000_000, NOW)
