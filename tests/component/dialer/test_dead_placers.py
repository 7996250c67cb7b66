"""A dialer process killed with calls placed is found by its attempt rows, which name
the dialer that placed each and its Asterisk (call_attempts.placed_by/placed_via),
not only by its hopper leases: the survivor on the same Asterisk (the floor's own
dial loop, its passes driven by the test) settles each of its calls once its
heartbeat is gone, after its leases have expired, and after Redis was flushed
(leases, heartbeat members and agent states all lost). Only the heartbeat path can do
it here: the survivor's orphan grace is longer than the test.

Asserted: every attempt the dead dialer left open is closed once, audited by the
survivor, its account given its next date by the campaign's recycle rule; without
the flush its agent leaves the call and the dead dialer is forgotten."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.dialer_floor import DialerProc, start_dialer
from support.polling import until
from test_dead_dialer import TALKERS

from compliance.transparency.verify import verify
from dialer import attempt_store as store
from dialer.agent_state import AgentState
from dialer.campaign_dialer import DialerOptions
from dialer.liveness import members_key
from store.models import Account, AuditEntry, CallAttempt

TTL = 0.5  # the survivor's heartbeat TTL: how soon it trusts its verdict after a flush
LEASE_SECONDS = 3.0  # the dead dialer's: shorter than its heartbeat's TTL and the verdict
# The dead dialer's own heartbeat TTL; it reconciles nothing itself.
DEAD_DIALER = ("--alive-seconds", "1.0", "--lease-seconds", str(LEASE_SECONDS),
               "--reconcile-every", "3600", "--orphan-grace", "3600")  # fmt: skip


def placed_by(engine: Engine, owner: str) -> dict[int, CallAttempt]:
    with Session(engine) as s:
        rows = s.scalars(select(CallAttempt).where(CallAttempt.placed_by == owner))
        return {a.id: a for a in rows}


def attempt_audit(
    engine: Engine, ids: Iterable[int]
) -> dict[int, list[tuple[str, dict[str, Any]]]]:
    wanted = set(ids)
    out: dict[int, list[tuple[str, dict[str, Any]]]] = {i: [] for i in wanted}
    with Session(engine) as s:
        for row in s.scalars(select(AuditEntry).where(AuditEntry.kind == "attempt")):
            payload = json.loads(row.payload)
            if payload["attempt_id"] in wanted:
                out[payload["attempt_id"]].append((row.actor, payload))
    return out


@pytest.mark.parametrize("how", ["leases_expired", "redis_flushed"])
async def test_given_a_dialer_killed_with_calls_placed_when_its_leases_are_gone_then_a_survivor_settles_them_from_sql(
    make_floor: Any, engine: Engine, database_url: str, redis_url: str, tmp_path: Path,
    dialers: list[DialerProc], how: str,
) -> None:  # fmt: skip
    floor = await make_floor(accounts=4, agents=2, calls=TALKERS, options=DialerOptions(
        owner="d1", refill_every_seconds=0.5, alive_seconds=TTL, orphan_grace_seconds=3600))  # fmt: skip
    survivor = floor.dialer
    victim = await start_dialer("d9", database_url, redis_url, floor.ami_server.port,
                                floor.clock.offset, tmp_path, extra=DEAD_DIALER,
                                campaign="mx-test")  # fmt: skip
    dialers.append(victim)

    async def agent_on_a_victims_call() -> bool:
        # Talking in Redis, and named on the call's row (store.mark_bridged, written
        # just after): the only evidence of the bridge a flush leaves. Its calls are
        # frozen (pbxsim's clock held) while the test looks, and stay so while it dies.
        floor.pbx_clock.hold()
        theirs = {
            a: row.agent_id for a, row in placed_by(engine, "d9").items() if row.result is None
        }
        states = [await floor.agents.get(i) for i in floor.agent_ids]
        if any(s.state is AgentState.talking and s.attempt_id in theirs
               and theirs[s.attempt_id] == s.agent_id for s in states):  # fmt: skip
            return True
        floor.pbx_clock.release()
        return False

    await until(agent_on_a_victims_call, "an agent talking on the victim's call", 45, 0.1)
    victim.proc.send_signal(signal.SIGKILL)
    await victim.proc.wait()
    left = {i for i, row in placed_by(engine, "d9").items() if row.result is None}
    assert left and all(
        row.placed_via == survivor.ctx.pbx for row in placed_by(engine, "d9").values()
    )
    talking = {s.agent_id: s.attempt_id for s in [await floor.agents.get(i) for i in floor.agent_ids]
               if s.state is AgentState.talking and s.attempt_id in left}  # fmt: skip
    bridged = {row.agent_id: i for i, row in placed_by(engine, "d9").items()
               if i in left and row.agent_id is not None}  # fmt: skip
    assert talking and bridged
    if how == "redis_flushed":
        await floor.redis.flushdb()
    else:
        floor.clock.jump(LEASE_SECONDS + 1)  # its leases are over before it is judged dead
    assert await survivor.hopper.lease_holders(floor.clock()) == {}
    floor.pbx_clock.release()  # its calls end as the debtors hang up

    async def settled() -> bool:
        await survivor.reconciler.periodically(floor.clock())
        rows = placed_by(engine, "d9")
        return all(rows[i].result is not None for i in left)

    def results() -> str:
        return f"the dead dialer's calls settled: { {i: r.result for i, r in placed_by(engine, 'd9').items()} }"

    await until(settled, results, 45, 0.1)

    rows = placed_by(engine, "d9")
    audits = attempt_audit(engine, left)
    for attempt_id in left:
        row = rows[attempt_id]
        assert row.ended_at is not None and row.result not in (None, "not_placed"), row
        # Once, by the survivor.
        [(actor, entry)] = audits[attempt_id]
        assert actor == "d1" and entry["reason"] == "dialer stopped before the call ended"
        with Session(engine) as s:
            account = s.get_one(Account, row.account_id)
        assert account.hopper_since is None and account.next_attempt_at is not None
    assert store.open_attempt_dialers(engine, survivor.campaign.id, survivor.ctx.pbx) == set()
    # An agent had the call: a contact, the agent kept on its row (what the row said
    # from the bridge on, when Redis no longer knows who was talking), so they can
    # still record what the debtor said. Without the flush, Redis says it of every
    # call an agent was talking on (its row perhaps not yet written when it died).
    for agent_id, attempt_id in (bridged if how == "redis_flushed" else talking).items():
        row = rows[attempt_id]
        assert (row.result, row.agent_id) == ("contact", agent_id) and row.bridged_at is not None
    if how == "leases_expired":
        # Its agents were on its calls: released; and the dead dialer is forgotten.
        for agent_id, attempt_id in talking.items():
            state = await floor.agents.get(agent_id)
            assert state.attempt_id != attempt_id or state.state not in (
                AgentState.talking, AgentState.reserved), state  # fmt: skip
        await until(lambda: settled_and_forgotten(floor), "the dead dialer forgotten", 10, 0.1)
    assert verify(engine).ok


async def settled_and_forgotten(floor: Any) -> bool:
    await floor.dialer.reconciler.periodically(floor.clock())
    return not await floor.redis.hexists(members_key("mx-test"), "d9")
