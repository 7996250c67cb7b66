"""Three dialer processes on one campaign, one Redis, one SQL database and one
pbxsim; one of them is killed with SIGKILL mid-run.

Each dialer is a real process (dialer_process.py) with its own FastAGI server;
pbxsim runs in the test process, so its view of the calls (every channel it
created and when it hung up) is the independent witness. Asserted: no account
ever had two live calls at once (SQL and pbxsim), the dead dialer's calls are
settled by the others (found by their rows, which name the dialer that placed them)
or its leases come back to them, and every call that reached the PBX has its
attempt row.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.dialer_floor import (
    CAMPAIGN,
    DialerProc,
    PbxCall,
    PbxWitness,
    all_attempts,
    bots_working,
    shift_floor,
    start_dialer,
    witnessed_pbxsim,
)
from support.polling import until

from compliance.transparency.verify import verify
from dialer.hopper import Hopper
from pbxsim.ami_server import AMIServer
from pbxsim.pbx import PBX
from pbxsim.scenario import Dist, Scenario
from store.models import Account, CallAttempt, Campaign, Phone, RegisteredCallerId, User

ACCOUNTS = 240
AGENTS = 12
SPEED = 20.0


def seed(engine: Engine) -> tuple[list[int], dict[str, int]]:
    """A running MX campaign: debtors in Mexico City with consent, and agents."""
    by_number: dict[str, int] = {}
    with Session(engine) as s, s.begin():
        campaign = Campaign(name=CAMPAIGN, country="MX", profile="MX", dial_mode="progressive",
                            status="running", caller_ids=["5215550001000"], config={})  # fmt: skip
        s.add(campaign)
        s.add(RegisteredCallerId(number="5215550001000", country="MX", reference="TEST",
                                 created_by="test"))  # fmt: skip
        s.flush()
        users = [User(username=f"multi{i}", role="agent", password_hash="-", campaign_id=campaign.id)
                 for i in range(AGENTS)]  # fmt: skip
        s.add_all(users)
        for i in range(ACCOUNTS):
            number = f"+5255{20000000 + i:08d}"
            account = Account(external_ref=f"M{i:05d}", debtor_name=f"Deudor {i}", country="MX",
                              region="MX-CMX", balance=Decimal("900.00"), currency="MXN",
                              status="active", stage="firm", campaign_id=campaign.id)  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=number, phone_type="mobile",
                                        consent=True, consent_ref=f"EV-{i}"))  # fmt: skip
            s.add(account)
            s.flush()
            by_number[number] = account.id
        s.flush()
        return [u.id for u in users], by_number


@pytest.fixture
async def pbxsim() -> AsyncIterator[tuple[PBX, AMIServer, PbxWitness]]:
    scenario = Scenario(
        p_human=0.6, p_machine=0.1, p_busy=0.1, p_congestion=0.05, p_unallocated=0.0,
        ring_seconds=Dist("uniform", 1.0, 4.0), talk_seconds=Dist("uniform", 2.0, 6.0),
        machine_seconds=Dist("constant", 3.0), amd_human_seconds=0.5, amd_machine_seconds=1.0,
        safe_harbor_seconds=1.0, agent_answer_seconds=0.1, seed=5,
    )  # fmt: skip
    async with witnessed_pbxsim(scenario, SPEED) as floor:
        yield floor


async def test_given_three_dialer_processes_when_one_is_killed_then_no_double_dial_and_nothing_lost(
    engine: Engine, database_url: str, redis_url: str, tmp_path: Path,
    pbxsim: tuple[PBX, AMIServer, PbxWitness], dialers: list[DialerProc],
) -> None:  # fmt: skip
    pbx, ami_server, witness = pbxsim
    agent_ids, by_number = seed(engine)
    shift = await shift_floor(engine, redis_url, tmp_path, agent_ids)
    offset, client, agents = shift.offset, shift.client, shift.agents
    hopper = Hopper(client, CAMPAIGN)
    async with bots_working(agents, agent_ids):
        for owner in ("d1", "d2", "d3"):
            dialers.append(await start_dialer(owner, database_url, redis_url,
                                                  ami_server.port, offset, tmp_path))  # fmt: skip
        victim = dialers[1]

        # Mid-run, at a moment the victim holds leases: SIGKILL, no goodbye. The victim is
        # frozen (SIGSTOP) before its leases are read: read while it ran, it once released
        # them all between the read and the kill (a loaded machine), and nothing was orphaned.
        async def victim_frozen_mid_call() -> bool:
            attempted = await asyncio.to_thread(all_attempts, engine)
            if len({a.account_id for a in attempted}) < ACCOUNTS // 3:
                return False
            victim.proc.send_signal(signal.SIGSTOP)
            owners = await client.hgetall(hopper.owners_key)
            if any(v == victim.owner.encode() for v in owners.values()):
                return True
            victim.proc.send_signal(signal.SIGCONT)
            return False

        await until(victim_frozen_mid_call, "a third of the campaign dialed, the victim on calls",
                    45, 0.2)  # fmt: skip
        victim.proc.send_signal(signal.SIGKILL)
        await victim.proc.wait()
        killed_at = datetime.fromtimestamp(time.time() + offset, UTC)
        owners = await client.hgetall(hopper.owners_key)
        orphaned = {int(k) for k, v in owners.items() if v == victim.owner.encode()}
        assert orphaned

        state: dict[str, object] = {}

        async def campaign_exhausted() -> bool:
            rows = await asyncio.to_thread(all_attempts, engine)
            sizes = await hopper.sizes()
            # Only the dead dialer leaves attempts without a result: its calls that
            # reached pbxsim, and any it had written but not yet originated.
            unexplained = [
                (a.id, a.account_id, a.id in witness.calls, a.started_at > killed_at)
                for a in rows if a.result is None
                and not (a.id in witness.calls and witness.calls[a.id].agi_port == victim.agi_port
                         or (a.id not in witness.calls and a.started_at <= killed_at))
            ]  # fmt: skip
            state.update(
                accounts_dialed=len({a.account_id for a in rows}), hopper=sizes,
                live_calls=witness.live(), open_not_the_dead_dialers=unexplained[:10],
            )  # fmt: skip
            return (
                len({a.account_id for a in rows}) >= ACCOUNTS
                and not any(sizes.values()) and not witness.live() and not unexplained
            )  # fmt: skip

        await until(
            campaign_exhausted,
            lambda: f"every account dialed and every call ended (of {ACCOUNTS}: {state})",
            45,
            0.2,
        )
        survivors = [d for d in dialers if d is not victim]
        for d in survivors:
            d.proc.send_signal(signal.SIGTERM)
        for d in survivors:
            code = await asyncio.wait_for(d.proc.wait(), 20)
            assert code == 0, d.log.read_text()[-3000:]

    rows = all_attempts(engine)
    with Session(engine) as s:
        phone_of = {p.account_id: p.number_e164 for p in s.scalars(select(Phone))}
    sql_ids = {a.id: a for a in rows}

    # Every call that reached the PBX has its attempt row, for the number dialed,
    # with the decision that allowed it (rows are written before Originate).
    assert witness.calls
    for call in witness.calls.values():
        row = sql_ids.get(call.attempt_id)
        assert row is not None, f"call {call.attempt_id} reached pbxsim with no attempt row"
        assert phone_of[row.account_id] == call.number
        assert row.decision_id is not None and row.result != "blocked"
    assert {c.agi_port for c in witness.calls.values()} == {d.agi_port for d in dialers}

    # pbxsim's view: never two live channels to one number.
    by_number_calls: dict[str, list[PbxCall]] = defaultdict(list)
    for call in witness.calls.values():
        by_number_calls[call.number].append(call)
    for calls in by_number_calls.values():
        calls.sort(key=lambda c: c.started)
        for x, y in zip(calls, calls[1:], strict=False):
            assert x.ended is not None and x.ended <= y.started, (x, y)

    # SQL's view: the attempts placed to one account never overlap; an attempt the
    # dead dialer never completed ends when a survivor settles it (open, nothing
    # may follow it).
    placed: dict[int, list[CallAttempt]] = defaultdict(list)
    for a in rows:
        if a.result != "blocked":
            placed[a.account_id].append(a)
    far = datetime.max.replace(tzinfo=UTC)
    for attempts in placed.values():
        attempts.sort(key=lambda a: a.started_at)
        for first, then in zip(attempts, attempts[1:], strict=False):
            assert (first.ended_at or far) <= then.started_at, (first.id, then.id)

    # The dead dialer's leases came back: a surviving dialer took each of those
    # accounts after the kill (placing the call, or blocking it at the final
    # check when the dead dialer's attempt already counted against the cap), or
    # settled the dead dialer's call to it (its result written, the account out of
    # the hopper until the date the recycle rule gave it, as for any ended call).
    with Session(engine) as s:
        accounts = {a.id: a for a in s.scalars(select(Account).where(Account.id.in_(orphaned)))}
    for account_id in orphaned:
        later = [a for a in rows if a.account_id == account_id and a.started_at > killed_at]
        theirs = [a for a in rows if a.account_id == account_id and a.placed_by == victim.owner]
        settled = (theirs and all(a.result is not None for a in theirs)
                   and accounts[account_id].hopper_since is None
                   and accounts[account_id].next_attempt_at is not None)  # fmt: skip
        assert later or settled, f"account {account_id} leased by the dead dialer never came back"
    assert not await client.hgetall(hopper.owners_key)
    # Every account reached the PBX, except where an attempt counted at its final
    # check and never originated keeps it under the cap: the dead dialer's, still
    # open or settled as lost (it may have been dialed, for all a survivor knows),
    # or closed as not placed by the next claim when its dialer lost the claim
    # before writing the decision.
    reached = {by_number[c.number] for c in witness.calls.values()}
    unreached = set(by_number.values()) - reached
    dead_unsent = {a.account_id for a in rows
                   if a.result in (None, "not_placed", "lost") and a.id not in witness.calls}  # fmt: skip
    assert unreached <= dead_unsent
    assert {a.result for a in rows} >= {"contact", "busy"}
    assert verify(engine).ok
    await client.aclose()
