"""A dead dialer's hopper leases on accounts it never dialed end once its heartbeat
is gone (dialer/loop/reconcile.py, store.dead_claims), not when they expire; and a
dialer judged dead that was only stalled does not dial an account another dialer's
call is in flight to (store.start_placing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from support.polling import until

from compliance.transparency.verify import verify
from dialer import attempt_store as store
from dialer.campaign_dialer import DialerOptions
from dialer.hopper import HopperEntry
from dialer.liveness import Liveness, alive_key
from store.models import Account, AuditEntry, CallAttempt, Decision

TTL = 0.5  # the heartbeat's TTL in these tests
HOUR = 3600.0  # the dead dialer's leases: only the heartbeat can end them here


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def attempt(engine: Engine, account_id: int, campaign_id: int, started: float, *,
            decided: bool, result: str | None = None, placed_by: str | None = None,
            placed_via: str | None = None) -> int:  # fmt: skip
    with Session(engine) as s, s.begin():
        decision_id = None
        if decided:
            decision = Decision(account_id=account_id, campaign_id=campaign_id, allowed=True)
            s.add(decision)
            s.flush()
            decision_id = decision.id
        row = CallAttempt(account_id=account_id, phone_e164="+5215550000000",
                          campaign_id=campaign_id, decision_id=decision_id, direction="outbound",
                          started_at=at(started), result=result,
                          ended_at=at(started + 30) if result else None,
                          placed_by=placed_by, placed_via=placed_via)  # fmt: skip
        s.add(row)
        s.flush()
        return int(row.id)


def hold(engine: Engine, account_ids: list[int], since: float | None) -> None:
    """As the refill leaves an account it admitted (held), or a written result (not)."""
    with Session(engine) as s, s.begin():
        s.execute(update(Account).where(Account.id.in_(account_ids))
                  .values(hopper_since=at(since) if since is not None else None))  # fmt: skip


def result_of(engine: Engine, attempt_id: int) -> str | None:
    with Session(engine) as s:
        return s.get_one(CallAttempt, attempt_id).result


async def test_given_a_dead_dialers_leases_then_those_never_dialed_end_and_the_others_wait(
    make_floor: Any, engine: Engine,
) -> None:  # fmt: skip
    floor = await make_floor(accounts=5, agents=1, options=DialerOptions(
        owner="d1", refill_every_seconds=0.5, alive_seconds=TTL))  # fmt: skip
    dialer, hopper, campaign_id = floor.dialer, floor.dialer.hopper, floor.dialer.campaign.id
    fresh, unplaced, dialed, settled, busy = sorted(floor.numbers)
    # The floor's time stands still: the call "just placed" stays younger than a TTL
    # however long the wait for the verdict takes on a loaded machine.
    floor.clock.hold()
    now = floor.clock()
    admitted = now - 60
    hold(engine, [fresh, unplaced, dialed, busy], admitted)
    hold(engine, [settled], None)
    # Attempts before its death: one written, never past the final check; one placed
    # and closed by a survivor (its account still held); one the dead dialer finished
    # (the hold lifted) but died before giving its lease up; one call just placed.
    never = attempt(engine, unplaced, campaign_id, now - 10, decided=False)
    attempt(engine, dialed, campaign_id, now - 50, decided=True, result="no_answer")
    attempt(engine, settled, campaign_id, now - 50, decided=True, result="no_answer")
    open_call = attempt(engine, busy, campaign_id, now + 5, decided=True)  # just placed
    ids = [fresh, unplaced, dialed, settled, busy]
    await hopper.add([HopperEntry(a, payload={"phone": floor.numbers[a]}) for a in ids], now)
    claims, _ = await hopper.claim(5, "d9", now, HOUR)
    assert {c.account_id for c in claims} == set(ids)
    peer = Liveness(floor.redis, dialer.name, "d9", dialer.liveness.pbx, TTL)
    await peer.beat()
    await floor.redis.delete(alive_key(dialer.name, "d9"))  # SIGKILLed: its key is gone
    await until(dialer.liveness.dead, "d9 judged dead", 30, 0.05)

    await dialer.reconciler.periodically(floor.clock())

    assert result_of(engine, never) == "not_placed"
    holders = await hopper.lease_holders(floor.clock())
    assert holders == {dialed: "d9", busy: "d9"}  # placed since admitted, or open
    assert result_of(engine, open_call) is None  # younger than a TTL: not closed yet
    assert await hopper.contains([fresh, unplaced]) == {fresh, unplaced}  # back in
    assert await hopper.contains([settled]) == set()  # out: its next date is in SQL
    again, _ = await hopper.claim(5, "d1", floor.clock(), 60.0)
    assert {c.account_id for c in again} == {fresh, unplaced}
    assert verify(engine).ok


async def test_given_a_dead_dialers_lease_taken_by_another_meanwhile_then_it_is_left_alone(
    make_floor: Any, engine: Engine,
) -> None:  # fmt: skip
    floor = await make_floor(accounts=1, agents=1, options=DialerOptions(
        owner="d1", refill_every_seconds=0.5, alive_seconds=TTL))  # fmt: skip
    dialer, hopper = floor.dialer, floor.dialer.hopper
    [account_id] = floor.numbers
    now = floor.clock()
    hold(engine, [account_id], now - 60)
    await hopper.add([HopperEntry(account_id)], now)
    await hopper.claim(1, "d9", now, 1.0)
    # Its lease expired and a live dialer claimed the account before the verdict.
    [claim], expired = await hopper.claim(1, "d2", now + 2, HOUR)
    assert claim.account_id == account_id and expired == 1
    peer = Liveness(floor.redis, dialer.name, "d9", dialer.liveness.pbx, TTL)
    await peer.beat()
    await floor.redis.delete(alive_key(dialer.name, "d9"))
    await until(dialer.liveness.dead, "d9 judged dead", 30, 0.05)
    assert store.dead_claims(engine, dialer.campaign.id, {account_id}) == ({account_id}, set())
    assert not await hopper.release("d9", account_id, now)  # the hopper's own check
    await dialer.reconciler.periodically(floor.clock())
    assert await hopper.lease_holders(now + 2) == {account_id: "d2"}


def in_flight_audit(engine: Engine, attempt_id: int) -> list[dict[str, Any]]:
    with Session(engine) as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "attempt").order_by(AuditEntry.id)
        )
        entries = [json.loads(r.payload) for r in rows]
    return [p for p in entries if p["attempt_id"] == attempt_id]


async def test_given_another_call_to_the_account_in_flight_when_placing_then_not_placed_and_audited(
    make_floor: Any, engine: Engine,
) -> None:  # fmt: skip
    """A dialer judged dead while it was only stalled comes back with a claim another
    dialer has taken and dialed: its final check must not lead to a second call."""
    floor = await make_floor(accounts=1, agents=1)
    [account_id] = floor.numbers
    campaign_id = floor.dialer.campaign.id
    now = floor.clock()
    theirs = attempt(engine, account_id, campaign_id, now - 20, decided=True)
    mine = attempt(engine, account_id, campaign_id, now, decided=False)
    with Session(engine) as s, s.begin():
        decision = Decision(account_id=account_id, campaign_id=campaign_id, allowed=True)
        s.add(decision)
        s.flush()
        decision_id = decision.id

    assert not store.start_placing(engine, mine, decision_id=decision_id)

    assert result_of(engine, mine) == "not_placed" and result_of(engine, theirs) is None
    [entry] = in_flight_audit(engine, mine)
    assert entry["reason"] == store.IN_FLIGHT_REASON and entry["in_flight"] == theirs
    assert verify(engine).ok


async def test_given_the_other_call_ended_or_only_blocked_when_placing_then_recorded(
    make_floor: Any, engine: Engine,
) -> None:  # fmt: skip
    floor = await make_floor(accounts=1, agents=1)
    [account_id] = floor.numbers
    campaign_id = floor.dialer.campaign.id
    now = floor.clock()
    attempt(engine, account_id, campaign_id, now - 60, decided=True, result="no_answer")
    unplaced = attempt(engine, account_id, campaign_id, now - 40, decided=False)  # never placed
    stale = attempt(engine, account_id, campaign_id, now - 2 * store.IN_FLIGHT_SECONDS,
                    decided=True)  # open, but no call lasts that long  # fmt: skip
    mine = attempt(engine, account_id, campaign_id, now, decided=False)
    assert store.start_placing(engine, mine, debtor_local_time="10:00")
    assert result_of(engine, mine) is None
    # A blocked result is written as it is, whatever else is open.
    blocked = attempt(engine, account_id, campaign_id, now + 1, decided=False)
    assert store.start_placing(engine, blocked, result="blocked", ended_at=at(now + 1))
    assert result_of(engine, blocked) == "blocked"
    assert result_of(engine, unplaced) is None and result_of(engine, stale) is None


async def test_given_attempts_naming_their_dialers_then_those_of_the_dead_close_whatever_the_leases(
    make_floor: Any, engine: Engine,
) -> None:  # fmt: skip
    """The row names the dialer that placed it: a dead dialer's attempt is found without
    its lease (expired, or lost with Redis), and another dialer's lease on the account
    since protects that dialer's own attempt, not the dead one's."""
    floor = await make_floor(accounts=4, agents=1)
    campaign_id = floor.dialer.campaign.id
    taken, alone, lively, young = sorted(floor.numbers)
    now = floor.clock()
    pbx = floor.dialer.ctx.pbx
    hold(engine, [taken, alone, lively, young], now - 60)
    dead_taken = attempt(engine, taken, campaign_id, now - 30, decided=True, placed_by="d9",
                         placed_via=pbx)  # fmt: skip
    dead_alone = attempt(engine, alone, campaign_id, now - 30, decided=True, placed_by="d9",
                         placed_via=pbx)  # fmt: skip
    live_call = attempt(engine, lively, campaign_id, now - 30, decided=True, placed_by="d2",
                        placed_via=pbx)  # fmt: skip
    dead_young = attempt(engine, young, campaign_id, now - 1, decided=True, placed_by="d9",
                         placed_via=pbx)  # fmt: skip
    assert store.open_attempt_dialers(engine, campaign_id, pbx) == {"d9", "d2"}
    assert store.open_attempt_dialers(engine, campaign_id, "elsewhere:5038") == set()

    closed = store.close_lost_attempts(
        engine, campaign_id, set(), set(), at(now - 3600), "dialer:d1",
        held_elsewhere={taken, lively}, dead_before=at(now - 5), dead_dialers={"d9"},
        next_attempt=lambda _r, _n, ended: ended + timedelta(hours=4),
    )  # fmt: skip

    assert {a.id for a in closed} == {dead_taken, dead_alone}
    assert result_of(engine, dead_taken) == result_of(engine, dead_alone) == "lost"
    assert result_of(engine, live_call) is None  # its dialer lives: left to it
    assert result_of(engine, dead_young) is None  # younger than a TTL: a later pass
    with Session(engine) as s:
        account = s.get_one(Account, alone)
        assert account.hopper_since is None and account.next_attempt_at is not None
    [entry] = in_flight_audit(engine, dead_alone)
    assert entry["result"] == "lost" and entry["reason"] == "dialer stopped before the call ended"
    assert store.open_attempt_dialers(engine, campaign_id, pbx) == {"d9", "d2"}  # young, live
    assert verify(engine).ok
