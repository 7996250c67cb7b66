"""Contact history and payments imports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from compliance.debtor_time import account_day
from store.importing.accounts import import_accounts
from store.importing.attempts import import_attempts
from store.importing.payments import import_payments
from store.models import Account, CallAttempt, Payment, Promise

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.fixture
def accounts(engine: Engine) -> Engine:
    result = import_accounts(engine, EXAMPLES / "accounts.csv", today=NOW.date())
    assert result.written
    return engine


def write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_given_history_when_imported_then_attempts_counted_and_reimport_is_idempotent(
    accounts: Engine,
) -> None:
    first = import_attempts(accounts, EXAMPLES / "attempts.csv", clock=lambda: NOW)
    assert first.written and first.created == 3
    again = import_attempts(accounts, EXAMPLES / "attempts.csv", clock=lambda: NOW)
    assert again.created == 0 and again.unchanged == 3
    with Session(accounts) as s:
        rows = s.scalars(select(CallAttempt).order_by(CallAttempt.started_at)).all()
    assert [r.result for r in rows] == ["no_answer", "busy", "contact"]
    assert [r.right_party_contact for r in rows] == [False, False, True]
    assert rows[0].started_at == datetime(2026, 11, 20, 16, 15, tzinfo=UTC)
    assert all(r.source == "import" for r in rows)


def promise_of(engine: Engine, ref: str, amount: str, due: date) -> int:
    with Session(engine) as s, s.begin():
        account = s.scalars(select(Account).where(Account.external_ref == ref)).one()
        promise = Promise(account_id=account.id, amount=Decimal(amount), currency="MXN",
                          due_date=due)  # fmt: skip
        s.add(promise)
        s.flush()
        return promise.id


def status_of(engine: Engine, promise_id: int) -> str:
    with Session(engine) as s:
        promise = s.get(Promise, promise_id)
        assert promise is not None
        return promise.status


def test_given_a_payment_on_the_evening_of_the_promised_day_in_utc_then_the_promise_is_kept(
    accounts: Engine, tmp_path: Path
) -> None:
    # MX-0001 is in Mexico City: 02:00 UTC on the 25th is 20:00 of the 24th there, the
    # promised day. Read in the file's UTC date it was a day late, and the promise broken.
    promise = promise_of(accounts, "MX-0001", "500.00", date(2026, 11, 24))
    text = "external_ref,amount,paid_at\nMX-0001,500,2026-11-25T02:00:00Z\n"
    later = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert import_payments(
        accounts, write(tmp_path, text), debtor_day=account_day, clock=lambda: later
    ).written
    assert status_of(accounts, promise) == "kept"


def test_given_a_promise_due_today_for_the_debtor_when_utc_is_tomorrow_then_still_open(
    accounts: Engine, tmp_path: Path
) -> None:
    # MX-0003 is in Cancún: 01:00 UTC on the 25th is 20:00 of the 24th there; the debtor
    # may still pay today. At 00:30 of the 25th in Cancún the day is over: broken.
    promise = promise_of(accounts, "MX-0003", "500.00", date(2026, 11, 24))
    text = "external_ref,amount,paid_at\nMX-0001,10,2026-11-24T10:00:00-06:00\n"
    evening = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert import_payments(
        accounts, write(tmp_path, text), debtor_day=account_day, clock=lambda: evening
    ).written
    assert status_of(accounts, promise) == "open"
    after = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)
    assert import_payments(
        accounts, write(tmp_path, text, "b.csv"), debtor_day=account_day, clock=lambda: after
    ).written
    assert status_of(accounts, promise) == "broken"


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("NOPE,5512345678,2026-11-20T10:00:00-06:00,busy", "external_ref", "unknown account"),
        ("MX-0001,5598765432,2026-11-20T10:00:00-06:00,busy", "phone", "not one of account"),
        ("MX-0001,5512345678,2026-11-20T10:00:00,busy", "started_at", "no UTC offset"),
        ("MX-0001,5512345678,yesterday,busy", "started_at", "not an ISO 8601"),
        ("MX-0001,5512345678,2027-01-01T10:00:00-06:00,busy", "started_at", "in the future"),
        ("MX-0001,5512345678,2026-11-20T10:00:00-06:00,voicemail", "result", "unknown result"),
    ],
)
def test_given_bad_history_row_then_nothing_written(
    accounts: Engine, tmp_path: Path, row: str, column: str, reason: str
) -> None:
    text = (
        "external_ref,phone,started_at,result\nMX-0001,5512345678,2026-11-19T10:00:00-06:00,busy\n"
        + row
        + "\n"
    )
    result = import_attempts(accounts, write(tmp_path, text), clock=lambda: NOW)
    assert not result.written
    assert (result.errors[0].line, result.errors[0].column) == (3, column)
    assert reason in result.errors[0].reason
    with Session(accounts) as s:
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 0


def test_given_payments_then_balance_reduced_paid_at_zero_and_promises_settled(
    accounts: Engine, tmp_path: Path
) -> None:
    with Session(accounts) as s, s.begin():
        mx3 = s.scalars(select(Account).where(Account.external_ref == "MX-0003")).one()
        co1 = s.scalars(select(Account).where(Account.external_ref == "CO-0001")).one()
        s.add_all([
            Promise(account_id=mx3.id, amount=Decimal("1000.00"), currency="MXN", due_date=date(2026, 11, 23)),
            Promise(account_id=co1.id, amount=Decimal("50000"), currency="COP", due_date=date(2026, 11, 20)),
        ])  # fmt: skip
    paid: set[int] = set()
    text = (EXAMPLES / "payments.csv").read_text() + "CO-0001,10000,2026-11-21T10:00:00-05:00,X\n"
    result = import_payments(
        accounts,
        write(tmp_path, text),
        debtor_day=account_day,
        clock=lambda: NOW,
        on_paid=paid.update,
    )
    assert result.written and result.created == 3
    with Session(accounts) as s:
        by_ref = {a.external_ref: a for a in s.scalars(select(Account))}
        promises = {p.account_id: p for p in s.scalars(select(Promise))}
    assert by_ref["MX-0003"].balance == Decimal("2200.00") and by_ref["MX-0003"].status == "active"
    assert promises[by_ref["MX-0003"].id].status == "kept"
    assert by_ref["PE-0001"].balance == 0 and by_ref["PE-0001"].status == "paid"
    assert paid == {by_ref["PE-0001"].id}
    # Paid after its date and short of the amount: the CO promise is broken.
    assert promises[by_ref["CO-0001"].id].status == "broken"
    again = import_payments(
        accounts, write(tmp_path, text, "again.csv"), debtor_day=account_day, clock=lambda: NOW
    )
    assert again.created == 0 and again.unchanged == 3
    with Session(accounts) as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 3


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("MX-0001,0,2026-11-20T10:00:00-06:00", "amount", "greater than zero"),
        ("MX-0001,-3,2026-11-20T10:00:00-06:00", "amount", "negative"),
        ("MX-0001,abc,2026-11-20T10:00:00-06:00", "amount", "not a number"),
        ("NOPE,10,2026-11-20T10:00:00-06:00", "external_ref", "unknown account"),
        ("MX-0001,10,2026-11-20", "paid_at", "no UTC offset"),
    ],
)
def test_given_bad_payment_row_then_nothing_written(
    accounts: Engine, tmp_path: Path, row: str, column: str, reason: str
) -> None:
    text = "external_ref,amount,paid_at\nMX-0002,100,2026-11-19T10:00:00-06:00\n" + row + "\n"
    result = import_payments(
        accounts, write(tmp_path, text), debtor_day=account_day, clock=lambda: NOW
    )
    assert not result.written
    assert (result.errors[0].line, result.errors[0].column) == (3, column)
    assert reason in result.errors[0].reason
    with Session(accounts) as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 0
        mx2 = s.scalars(select(Account).where(Account.external_ref == "MX-0002")).one()
        assert mx2.balance == Decimal("8400.00")
