"""Two results for one number written at once (store/number_validity.py): the phone's
row lock makes the second end wait for the first and judge after it. PostgreSQL
only: SQLite has one writer, and `make ci` runs these with DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from support.polling import until_sync
from test_dead_numbers import DAY1, DEAD, call, make_account, phone, phone_id, status_changes

from compliance.transparency.verify import verify
from dialer import attempt_store as store


@pytest.fixture(autouse=True)
def _postgresql_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only (make ci runs it with DATABASE_URL)")


def open_call(engine: Engine, account_id: int, at: datetime, mine: set[int]) -> int:
    """A call to the number started at `at` and not ended yet (`mine`: the other open
    ones, this dialer's, are not closed as never placed)."""
    attempt_id, closed = store.create_attempt(
        engine, channel=store.ContactChannel.call, mine=mine, account_id=account_id,
        phone_id=phone_id(engine, account_id, DEAD), phone_e164=DEAD, started_at=at,
        direction="outbound",
    )  # fmt: skip
    assert closed == []
    return attempt_id


def end(engine: Engine, attempt_id: int, account_id: int, at: datetime, result: str,
        answered: bool = False) -> bool:  # fmt: skip
    values: dict[str, Any] = {"result": result, "ended_at": at + timedelta(seconds=30),
                              "answered_at": at + timedelta(seconds=5) if answered else None}  # fmt: skip
    return store.finish_attempt(engine, attempt_id, account_id, values,
                                lambda _n: at + timedelta(days=1))  # fmt: skip


def waiting_on_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")) or 0)  # fmt: skip


@contextmanager
def phone_row_held(engine: Engine, phone: int) -> Iterator[None]:
    """Another transaction holds the phone's row until the block ends: the ends started
    meanwhile all queue on it, and are let go together."""
    with engine.connect() as conn:
        tx = conn.begin()
        conn.execute(text("SELECT id FROM phones WHERE id = :id FOR UPDATE"), {"id": phone})
        try:
            yield
        finally:
            tx.rollback()


def test_given_two_invalid_results_on_one_number_ending_at_once_then_it_is_marked_once(
    engine: Engine,
) -> None:
    account_id = make_account(engine, "R-1", [DEAD])
    first = call(engine, account_id, DEAD, DAY1, "invalid_number")
    day2 = DAY1 + timedelta(days=1)
    b = open_call(engine, account_id, day2, set())
    c = open_call(engine, account_id, day2 + timedelta(seconds=5), {b})
    with ThreadPoolExecutor(2) as pool:
        ends: list[Future[bool]] = []
        with phone_row_held(engine, phone_id(engine, account_id, DEAD)):
            for queued, (attempt_id, at) in enumerate(
                ((b, day2), (c, day2 + timedelta(seconds=5))), 1
            ):
                ends.append(pool.submit(end, engine, attempt_id, account_id, at, "invalid_number"))
                until_sync(lambda q=queued: waiting_on_locks(engine) >= q,
                           f"{queued} end(s) waiting on the phone's row")  # fmt: skip
        assert [f.result(timeout=60) for f in ends] == [True, True]
    changes = status_changes(engine)
    assert len(changes) == 1, changes
    _, change = changes[0]
    assert change["status"] == "invalid" and change["evidence"]["attempt_ids"] in (
        [first, b],
        [first, c],
    )
    assert phone(engine, account_id, DEAD).status == "invalid"
    assert verify(engine).ok


def test_given_an_answer_and_an_invalid_result_on_one_number_ending_at_once_then_the_number_is_active(
    engine: Engine,
) -> None:
    """The answered call started first and ended second: the invalid one, judged
    alone, marked the number; the answer, started before the mark, left it marked.
    Whichever commits first, an answer in the chain means the number exists."""
    account_id = make_account(engine, "R-2", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    day2 = DAY1 + timedelta(days=1)
    answered = open_call(engine, account_id, day2, set())
    dead = open_call(engine, account_id, day2 + timedelta(seconds=5), {answered})
    with ThreadPoolExecutor(2) as pool:
        ends: list[Future[bool]] = []
        with phone_row_held(engine, phone_id(engine, account_id, DEAD)):
            # The invalid end queues first: it is judged first, the answer after it.
            ends.append(pool.submit(end, engine, dead, account_id, day2 + timedelta(seconds=5),
                                    "invalid_number"))  # fmt: skip
            until_sync(lambda: waiting_on_locks(engine) >= 1, "the invalid end waiting")
            ends.append(pool.submit(end, engine, answered, account_id, day2, "contact", True))
            until_sync(lambda: waiting_on_locks(engine) >= 2, "both ends waiting")
        assert [f.result(timeout=60) for f in ends] == [True, True]
    assert phone(engine, account_id, DEAD).status == "active"
    assert verify(engine).ok
