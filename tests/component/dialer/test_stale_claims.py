"""A hopper entry is a cache of SQL: an account claimed from it whose own date of rest
is ahead (its hold lifted by a call's result or an agent's disposition, then Redis
restored from an older snapshot) is not dialed, and its rest is left as it was. An
account the refill holds, or one that is due, is dialed as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import attempt_store as store
from dialer.hopper import HopperEntry
from metrics import definitions as m
from store.models import Account, CallAttempt, Callback


def attempts(floor) -> list[CallAttempt]:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        return list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))


def set_dates(floor, next_attempt_at, hopper_since):  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s, s.begin():
        account = s.scalars(select(Account)).one()
        account.next_attempt_at = next_attempt_at
        account.hopper_since = hopper_since
        return account.id, account.phones[0].number_e164


def dates(floor, account_id):  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        return store.utc_of(account.next_attempt_at), account.hopper_since


async def stale_entry(floor, account_id: int, phone: str, now: datetime) -> None:  # type: ignore[no-untyped-def]
    entry = HopperEntry(account_id, 1, now.timestamp(), {"phone": phone, "reason": "recycle"})
    assert await floor.dialer.hopper.add([entry], now.timestamp()) == 1


def refused(floor, reason: str) -> float:  # type: ignore[no-untyped-def]
    return m.HOPPER_CLAIMS_REFUSED.labels(floor.dialer.ctx.name, reason)._value.get()


async def test_given_a_resting_account_when_a_stale_entry_is_claimed_then_not_dialed(make_floor):  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    now = datetime.fromtimestamp(floor.clock(), UTC)
    # Called an hour ago: its result gave it a day of rest and lifted the hopper's hold.
    rest = now + timedelta(hours=23)
    account_id, phone = set_dates(floor, rest, None)
    await stale_entry(floor, account_id, phone, now)
    before = refused(floor, "resting")

    for _ in range(5):
        assert await floor.dialer.tick() == 0

    assert attempts(floor) == []
    assert await floor.dialer.hopper.contains([account_id]) == set()
    assert dates(floor, account_id) == (rest, None)
    assert refused(floor, "resting") == before + 1


@pytest.mark.parametrize(
    "offset_hours, held",
    [
        (2.0, True),  # admitted by a refill: the hopper's own hold is no rest
        (-1.0, False),  # due an hour ago (a lost hopper gave it back): dialed
    ],
)
async def test_given_a_held_or_due_account_when_claimed_then_dialed(  # type: ignore[no-untyped-def]
    make_floor, offset_hours: float, held: bool
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    now = datetime.fromtimestamp(floor.clock(), UTC)
    account_id, phone = set_dates(floor, now + timedelta(hours=offset_hours), now if held else None)
    await stale_entry(floor, account_id, phone, now)

    await floor.run_until(lambda: len(attempts(floor)) == 1)

    assert [a.account_id for a in attempts(floor)] == [account_id]


async def test_given_a_resting_account_with_a_callback_due_when_refilled_then_dialed(make_floor):  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    now = datetime.fromtimestamp(floor.clock(), UTC)
    # Resting for days; the debtor asked to be called now: the callback wins over the rest.
    account_id, _phone = set_dates(floor, now + timedelta(days=3), None)
    with Session(floor.engine) as s, s.begin():
        account = s.get(Account, account_id)
        assert account is not None
        s.add(Callback(account_id=account_id, phone_id=account.phones[0].id,
                       campaign_id=account.campaign_id, due_at=now - timedelta(minutes=1)))  # fmt: skip

    await floor.run_until(lambda: len(attempts(floor)) == 1)

    assert [a.account_id for a in attempts(floor)] == [account_id]


NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "next_attempt_at, hopper_since, expected",
    [
        (NOW + timedelta(hours=5), None, NOW + timedelta(hours=5)),
        # SQLite gives naive UTC datetimes back: read as UTC, not as local time.
        ((NOW + timedelta(hours=5)).replace(tzinfo=None), None, NOW + timedelta(hours=5)),
        (NOW + timedelta(hours=5), NOW, None),  # the refill's hold
        (NOW, None, None),  # due this instant
        (NOW - timedelta(days=1), None, None),
        (None, None, None),  # never dialed
    ],
)
def test_resting_until(next_attempt_at, hopper_since, expected) -> None:  # type: ignore[no-untyped-def]
    account = Account(next_attempt_at=next_attempt_at, hopper_since=hopper_since)
    assert store.resting_until(account, NOW) == expected


def test_given_a_promise_due_today_in_mexico_city_when_claimed_at_19_30_local_then_still_held(
    engine,  # type: ignore[no-untyped-def]
) -> None:
    """01:30 UTC of 1 Dec is 19:30 of 30 Nov in Mexico City: a promise for the 30th is
    still open where the debtor is (they may pay until midnight), so the account is not
    dialed and sleeps until their 1 Dec begins (06:00 UTC), not UTC's midnight."""
    from datetime import date
    from decimal import Decimal

    from store.db import transaction
    from store.models import Promise

    with transaction(engine) as s:
        account = Account(external_ref="PROM-CMX", debtor_name="D", country="MX", region="CMX",
                          currency="MXN", balance=Decimal("100"), status="active")  # fmt: skip
        s.add(account)
        s.flush()
        s.add(Promise(account_id=account.id, amount=Decimal("50"), currency="MXN",
                      due_date=date(2026, 11, 30), created_at=datetime(2026, 11, 20, tzinfo=UTC)))  # fmt: skip
        account_id = account.id
    evening = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert store.promise_hold(engine, account_id, evening) == datetime(2026, 12, 1, 6, tzinfo=UTC)
    with Session(engine) as s:
        held = s.get(Account, account_id)
        assert held is not None and held.next_attempt_at == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert store.promise_hold(engine, account_id, datetime(2026, 12, 1, 6, tzinfo=UTC)) is None
