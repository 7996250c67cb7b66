"""A store failing at each SQL step of a call's placing and finishing, injected at
one precise point (the step's commit done, its reply lost; or the step failing
before its commit), on pbxsim: no attempt row is left open and no result lost.

Seen once in CI under four workers (test_store_outages' PostgreSQL-drop test):
an attempt left with no result after pg_terminate_backend cut the dialer's
connections. Its finishing was not the cause (`finish_attempt` is retried until
written, and a retry after a commit whose reply was lost writes nothing twice:
the last test here). The placing was: a store failing between the attempt row's
insert and the Originate left the row open, never dialed, its account leased to
this dialer, until a reconciliation 120 s later closed it (as `lost` when its
decision had been written). The first tests reproduce that at each step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from dialer import attempt_store
from store.models import AuditEntry, CallAttempt, Campaign

CUT = "server closed the connection unexpectedly"  # what psycopg says when a backend is terminated


def cut(step: str) -> OperationalError:
    return OperationalError(step, {}, Exception(CUT))


class Fault:
    """Wraps one attempt_store function: its `nth` call fails once, after the real
    call committed (`after_commit`: the reply lost) or instead of it."""

    def __init__(self, real: Callable[..., Any], nth: int, after_commit: bool) -> None:
        self.real, self.nth, self.after_commit = real, nth, after_commit
        self.calls = 0
        self.fired = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls != self.nth:
            return self.real(*args, **kwargs)
        self.fired = True
        if self.after_commit:
            self.real(*args, **kwargs)
        raise cut(self.real.__name__)


def attempts(engine: Engine) -> dict[int, tuple[int | None, str | None, int | None]]:
    """Each attempt: its account, result and decision."""
    with Session(engine) as s:
        rows = s.execute(select(CallAttempt.id, CallAttempt.account_id, CallAttempt.result,
                                CallAttempt.decision_id))  # fmt: skip
        return {int(i): (a, r, d) for i, a, r, d in rows}


def attempt_audit(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "attempt").order_by(AuditEntry.id)
        )
        return [json.loads(r.payload) for r in rows]


async def stop_campaign(floor) -> None:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s, s.begin():
        s.execute(update(Campaign).values(status="stopped"))
    floor.dialer.campaign.status = "stopped"
    await floor.run_until(lambda: not floor.dialer.calls and not floor.dialer.finisher.owed)


@pytest.mark.parametrize(
    ("step", "after_commit"),
    [
        ("create_attempt", True),  # the row committed, its id never known
        ("record_decision", False),  # the final check's decision not written
        ("record_decision", True),  # written, not yet on the attempt
        ("start_placing", True),  # the attempt carries its decision: it looks placed
        ("start_placing", False),
    ],
)
async def test_given_a_store_cut_between_the_attempt_row_and_the_originate_then_the_row_is_closed_not_placed_and_the_account_dialed_again(
    make_floor, engine: Engine, monkeypatch: pytest.MonkeyPatch, step: str, after_commit: bool
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    fault = Fault(getattr(attempt_store, step), nth=3, after_commit=after_commit)
    monkeypatch.setattr(attempt_store, step, fault)
    floor = await make_floor(accounts=8)
    dialer = floor.dialer

    def not_placed() -> list[int]:
        return [i for i, (_, r, _) in attempts(engine).items() if r == "not_placed"]

    await floor.run_until(
        lambda: fault.fired and len(not_placed()) == 1 and not dialer.finisher.owed
    )
    [unplaced] = not_placed()
    account = attempts(engine)[unplaced][0]
    assert unplaced not in dialer.calls
    # Never dialed: the debtor's account is dialed again, by a later attempt.
    await floor.run_until(lambda: any(a == account and i > unplaced and d is not None
                                      for i, (a, _, d) in attempts(engine).items()))  # fmt: skip
    # Closed once, audited with why.
    closings = [p for p in attempt_audit(engine) if p["attempt_id"] == unplaced]
    assert [p["reason"] for p in closings] == [attempt_store.STORE_FAULT_REASON], closings

    await stop_campaign(floor)
    final = attempts(engine)
    assert all(r not in (None, "lost") for _, r, _ in final.values()), final
    assert [i for i, (_, r, _) in final.items() if r == "not_placed"] == [unplaced]


async def test_given_the_reply_to_a_results_commit_lost_when_retried_then_written_once_and_nothing_dropped(
    make_floor, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    """The finishing path under the same cut: the result committed, the dialer told
    otherwise. The retry finds it written (`finish_attempt` returns False) and goes
    on: one row, one audit entry, the item out of the pending list only then."""
    fault = Fault(attempt_store.finish_attempt, nth=2, after_commit=True)
    monkeypatch.setattr(attempt_store, "finish_attempt", fault)
    floor = await make_floor(accounts=8)
    dialer = floor.dialer
    await floor.run_until(lambda: fault.fired and fault.calls >= 4)
    await stop_campaign(floor)
    final = attempts(engine)
    assert all(r not in (None, "lost", "not_placed") for _, r, _ in final.values()), final
    results = [p for p in attempt_audit(engine) if "result" in p and "next_attempt_at" in p]
    per_attempt = [p["attempt_id"] for p in results]
    assert sorted(per_attempt) == sorted(final), per_attempt  # each written once
    assert not dialer.finisher.owed
