"""Two survivors settle one dead dialer's attempt at the same moment
(store.close_lost_attempts, each from its own reconciliation): both read it open,
one closes it; the other waits on the row, finds it closed and writes nothing. One
result, one audit entry, one next date. PostgreSQL only: SQLite has one writer, and
`make ci` runs these with DATABASE_URL."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from test_dead_numbers import DEAD, make_account

from compliance.transparency.verify import verify
from dialer import attempt_store as store
from store.models import Account, AuditEntry, CallAttempt, Decision

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
PBX = "127.0.0.1:5038"


@pytest.fixture(autouse=True)
def _postgresql_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only (make ci runs it with DATABASE_URL)")


def dead_dialers_call(engine: Engine) -> tuple[int, int, int]:
    """A call dialer d9 placed a minute ago and never ended: (campaign, account, attempt)."""
    account_id = make_account(engine, "R-RACE", [DEAD])
    with Session(engine) as s, s.begin():
        campaign_id = s.get_one(Account, account_id).campaign_id
        assert campaign_id is not None
        decision = Decision(account_id=account_id, campaign_id=campaign_id, allowed=True)
        s.add(decision)
        s.flush()
        row = CallAttempt(account_id=account_id, phone_e164=DEAD, campaign_id=campaign_id,
                          decision_id=decision.id, direction="outbound",
                          started_at=NOW - timedelta(seconds=60), placed_by="d9",
                          placed_via=PBX)  # fmt: skip
        s.add(row)
        s.flush()
        s.get_one(Account, account_id).hopper_since = NOW
        return campaign_id, account_id, int(row.id)


def test_given_two_survivors_settling_one_dead_dialers_call_at_once_then_it_is_settled_once(
    engine: Engine,
) -> None:
    campaign_id, account_id, attempt_id = dead_dialers_call(engine)
    # Both have read the attempt open before either writes: the race, every time.
    both_read = threading.Barrier(2, timeout=30)

    def survivor(owner: str, result: str, rest: timedelta) -> list[int]:
        def outcome(_attempt: Any) -> dict[str, Any]:
            both_read.wait()
            return {"result": result, "ended_at": NOW - timedelta(seconds=30)}

        closed = store.close_lost_attempts(
            engine, campaign_id, set(), set(), NOW - timedelta(hours=1), owner,
            outcome=outcome, dead_before=NOW - timedelta(seconds=5), dead_dialers={"d9"},
            next_attempt=lambda _r, _n, ended: ended + rest,
        )  # fmt: skip
        return [a.id for a in closed]

    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(survivor, "d1", "no_answer", timedelta(hours=2))
        two = pool.submit(survivor, "d2", "busy", timedelta(hours=3))
        closed = {"d1": one.result(timeout=60), "d2": two.result(timeout=60)}

    [winner] = [owner for owner, ids in closed.items() if ids == [attempt_id]]
    assert closed[{"d1": "d2", "d2": "d1"}[winner]] == []
    result, rest = {"d1": ("no_answer", 2), "d2": ("busy", 3)}[winner]
    with Session(engine) as s:
        row = s.get_one(CallAttempt, attempt_id)
        account = s.get_one(Account, account_id)
        entries = [(e.actor, json.loads(e.payload)) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "attempt"))]  # fmt: skip
    assert row.result == result
    assert store.utc_of(account.next_attempt_at) == NOW - timedelta(seconds=30) + timedelta(
        hours=rest
    )
    assert account.hopper_since is None
    [(actor, entry)] = [(a, p) for a, p in entries if p["attempt_id"] == attempt_id]
    assert actor == winner and entry["result"] == result
    assert store.open_attempt_dialers(engine, campaign_id, PBX) == set()
    assert verify(engine).ok
