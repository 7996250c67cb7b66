"""A dialer stopped between writing an attempt row and its final check (the race
seen in test_multi_dialer), reproduced deterministically: dialer_process.py holds
right after `create_attempt` until the test kills or resumes it; the test's own
dialer (the floor's, ticked by hand, its clock moved past the lease) claims the
account next.

Asserted: the held attempt is closed as `not_placed` (never dialed, not an
attempt for the caps) before the account is dialed again, by the next claim or by
the reconciliation at start; a held dialer that comes back does not dial.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.polling import until, within

from compliance.service import load_history
from compliance.transparency.verify import verify
from dialer import channel_vars as cv
from dialer.ami.codec import Header
from dialer.attempt_store import CLAIM_LOST_REASON, NOT_PLACED_REASON
from dialer.campaign_dialer import ORPHAN_GRACE_SECONDS, CampaignDialer, DialerOptions
from dialer.floor import floor_key
from dialer.hopper import HopperEntry
from dialer.liveness import Liveness, alive_key
from store.models import AuditEntry, CallAttempt, Decision

HELPER = Path(__file__).with_name("dialer_process.py")
LEASE_SECONDS = 3.0
CALL_PREFIX = cv.originate_channel_id("")


@dataclass(eq=False)  # hashable: pbxsim keeps its sinks in a set
class Dialed:
    """Every debtor channel pbxsim created, by attempt id (the independent witness)."""

    attempts: list[int] = field(default_factory=list)

    def __call__(self, event: list[Header]) -> None:
        headers = dict(event)
        uid = headers.get("Uniqueid", "")
        if headers.get("Event") == "Newchannel" and uid.startswith(CALL_PREFIX) and ";" not in uid:
            self.attempts.append(int(uid[len(CALL_PREFIX) :]))


@dataclass
class Held:
    proc: asyncio.subprocess.Process
    attempt_id: int
    log: Path


@pytest.fixture
async def held_dialer(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    procs: list[asyncio.subprocess.Process] = []

    async def start(floor: Any) -> Held:
        """Another dialer process on the floor's campaign, held after its first attempt row."""
        log = tmp_path / "held.log"
        with log.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(HELPER), "--database-url", database_url,
                "--redis-url", redis_url, "--ami-port", str(floor.ami_server.port),
                "--campaign", "mx-test", "--owner", "held", "--clock-offset", repr(floor.clock.offset),
                "--lease-seconds", str(LEASE_SECONDS), "--hold-after-create-attempt",
                # Its heartbeat outlives the test: what closes its attempt here is the
                # next claim or a reconciliation at start, never the survivor's verdict
                # on its silence (test_dead_claims, test_dead_placers), which would
                # come first or not depending on the machine's speed.
                "--alive-seconds", "3600",
                stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=Path(__file__).parents[3],
            )  # fmt: skip
        procs.append(proc)
        assert proc.stdout is not None
        for _ in range(2):  # "ready ...", then "held attempt=<id>"
            line = (await within(proc.stdout.readline(), "the held dialer's next line")).decode()
            if line.startswith("held attempt="):
                return Held(proc, int(line.strip().split("=")[1]), log)
        raise AssertionError(f"the dialer did not hold: {log.read_text()[-2000:]}")

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def turn_expired(floor: Any) -> None:
    """The pacing turn the held dialer took (dialer/floor.py) expires with real time, not
    with the floor's jumped clock: gone, as once its lease has run out."""
    await floor.redis.delete(floor_key("mx-test", "turn"))


def attempts(engine: Engine) -> dict[int, CallAttempt]:
    with Session(engine) as s:
        return {a.id: a for a in s.scalars(select(CallAttempt).order_by(CallAttempt.id))}


def audit_of(engine: Engine, attempt_id: int) -> list[tuple[str, dict[str, Any]]]:
    with Session(engine) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.kind == "attempt"))
        entries = [(r.actor, json.loads(r.payload)) for r in rows]
    return [(actor, p) for actor, p in entries if p["attempt_id"] == attempt_id]


async def test_given_a_dialer_killed_before_its_final_check_when_the_account_is_claimed_again_then_its_attempt_is_closed_not_placed_first(
    make_floor, held_dialer, engine: Engine
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    floor = await make_floor(accounts=1, agents=1)
    dialed = Dialed()
    floor.pbx.subscribe(dialed)
    account_id = next(iter(floor.numbers))
    held = await held_dialer(floor)
    held.proc.send_signal(signal.SIGKILL)
    await held.proc.wait()
    first = attempts(engine)[held.attempt_id]
    assert first.result is None and first.decision_id is None  # never got to the final check
    assert await floor.dialer.hopper.owner_of(account_id) == "held"

    floor.clock.jump(LEASE_SECONDS + 1)  # the dead dialer's claim has expired
    await turn_expired(floor)
    assert await floor.dialer.tick() == 1
    rows = attempts(engine)
    second = next(a for a in rows.values() if a.id != held.attempt_id)
    first = rows[held.attempt_id]
    assert first.result == "not_placed"
    assert first.ended_at is not None and first.ended_at <= second.started_at
    assert second.decision_id is not None and dialed.attempts == [second.id]
    [(actor, entry)] = audit_of(engine, held.attempt_id)
    assert actor == "dialer:d1" and entry["result"] == "not_placed"
    assert entry["reason"] == CLAIM_LOST_REASON
    await floor.run_until(lambda: attempts(engine)[second.id].result is not None)
    # Not an attempt for the caps: only the call placed counts.
    history = load_history(engine, [account_id], datetime.now(UTC) - timedelta(days=30))
    assert [e.member for e in history[account_id].attempts] == [f"a:{second.id}"]
    assert verify(engine).ok


async def test_given_a_held_dialer_that_comes_back_after_the_account_was_claimed_again_then_it_does_not_dial(
    make_floor, held_dialer, engine: Engine
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    floor = await make_floor(accounts=1, agents=1)
    dialed = Dialed()
    floor.pbx.subscribe(dialed)
    held = await held_dialer(floor)  # stalled, not dead
    floor.clock.jump(LEASE_SECONDS + 1)
    await turn_expired(floor)
    assert await floor.dialer.tick() == 1
    second = next(a for a in attempts(engine).values() if a.id != held.attempt_id)
    # It goes on: its final check (refused here by the hourly cap the claim just used)
    # and start_placing, which finds the attempt closed either way.
    held.proc.send_signal(signal.SIGUSR1)
    await until(lambda: "closed by another dialer before originate" in held.log.read_text(),
                lambda: f"the held dialer's log: {held.log.read_text()[-2000:]}")  # fmt: skip
    first = attempts(engine)[held.attempt_id]
    assert first.result == "not_placed" and first.decision_id is None
    assert dialed.attempts == [second.id]
    held.proc.send_signal(signal.SIGTERM)
    assert await within(held.proc.wait(), "the held dialer stopping on SIGTERM") == 0
    assert dialed.attempts == [second.id]


async def test_given_a_dialer_killed_before_its_final_check_when_another_reconciles_then_its_attempt_is_not_placed(
    make_floor, held_dialer, engine: Engine
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    floor = await make_floor(accounts=1, agents=1)
    held = await held_dialer(floor)
    held.proc.send_signal(signal.SIGKILL)
    await held.proc.wait()
    floor.clock.jump(ORPHAN_GRACE_SECONDS + 1)
    # Its heartbeat expired: a dialer still beating ends its calls itself.
    await floor.redis.delete(alive_key("mx-test", "held"))
    await floor.dialer.reconcile([])  # as after a (re)connection: no live channel
    first = attempts(engine)[held.attempt_id]
    assert first.result == "not_placed" and first.ended_at is not None
    [(_, entry)] = audit_of(engine, held.attempt_id)
    assert entry["reason"] == NOT_PLACED_REASON
    assert verify(engine).ok


async def test_given_an_open_attempt_of_an_account_another_live_dialer_holds_when_reconciling_then_left_alone_until_its_lease_expires(
    make_floor, engine: Engine
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    """Dialers on other Asterisk servers: their live calls are not in our channel list."""
    floor = await make_floor(accounts=1, agents=1)
    account_id = next(iter(floor.numbers))
    now = floor.clock()
    with Session(engine) as s, s.begin():
        decision = Decision(account_id=account_id, campaign_id=floor.dialer.campaign.id,
                            allowed=True)  # fmt: skip
        s.add(decision)
        s.flush()
        row = CallAttempt(account_id=account_id, phone_e164=floor.numbers[account_id],
                          campaign_id=floor.dialer.campaign.id, decision_id=decision.id,
                          started_at=datetime.fromtimestamp(now - 600, UTC))  # fmt: skip
        s.add(row)
        s.flush()
        attempt_id = row.id
    hopper = floor.dialer.hopper
    await hopper.add([HopperEntry(account_id)], now)
    [claim], _ = await hopper.claim(1, "elsewhere", now, 300.0)  # renewed while its call lives
    assert claim.account_id == account_id
    await floor.dialer.reconcile([])
    assert attempts(engine)[attempt_id].result is None
    floor.clock.jump(301)  # that dialer stopped renewing: dead
    await floor.dialer.reconcile([])
    assert attempts(engine)[attempt_id].result == "lost"


async def test_given_redis_lost_a_live_dialers_leases_when_reconciling_then_its_call_is_left_to_it_until_its_heartbeat_goes(
    make_floor, engine: Engine
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    """A dialer on another Asterisk renews its calls' leases only while Redis has them:
    after a flush its row, which names it, and its heartbeat, beaten again at once,
    keep its call from being closed as lost by the others."""
    floor = await make_floor(accounts=1, agents=1)
    account_id = next(iter(floor.numbers))
    now = floor.clock()
    with Session(engine) as s, s.begin():
        decision = Decision(account_id=account_id, campaign_id=floor.dialer.campaign.id,
                            allowed=True)  # fmt: skip
        s.add(decision)
        s.flush()
        row = CallAttempt(account_id=account_id, phone_e164=floor.numbers[account_id],
                          campaign_id=floor.dialer.campaign.id, decision_id=decision.id,
                          started_at=datetime.fromtimestamp(now - 600, UTC),
                          placed_by="elsewhere", placed_via="10.0.0.9:5038")  # fmt: skip
        s.add(row)
        s.flush()
        attempt_id = row.id
    await Liveness(floor.redis, "mx-test", "elsewhere", "10.0.0.9:5038", 3600.0).beat()
    assert await floor.dialer.hopper.lease_holders(now) == {}  # no lease protects it
    await floor.dialer.reconcile([])
    assert attempts(engine)[attempt_id].result is None
    await floor.redis.delete(alive_key("mx-test", "elsewhere"))  # it died
    await floor.dialer.reconcile([])
    assert attempts(engine)[attempt_id].result == "lost"


async def test_given_a_dead_dialers_call_when_a_dialer_starts_then_its_first_reconciliation_closes_it(
    make_floor, engine: Engine
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    """A dialer beats before its first reconciliation: with its own heartbeat not there
    yet, every other dialer's missing key would prove nothing and the dead one's call,
    older than the orphan grace and with no lease, would stay open past the start."""
    floor = await make_floor(accounts=1, agents=1)
    account_id = next(iter(floor.numbers))
    now = floor.clock()
    with Session(engine) as s, s.begin():
        decision = Decision(account_id=account_id, campaign_id=floor.dialer.campaign.id,
                            allowed=True)  # fmt: skip
        s.add(decision)
        s.flush()
        row = CallAttempt(account_id=account_id, phone_e164=floor.numbers[account_id],
                          campaign_id=floor.dialer.campaign.id, decision_id=decision.id,
                          started_at=datetime.fromtimestamp(now - 600, UTC),
                          placed_by="gone", placed_via="10.0.0.9:5038")  # fmt: skip
        s.add(row)
        s.flush()
        attempt_id = row.id
    fresh = CampaignDialer(sql=engine, redis=floor.redis, ami=floor.ami,
                           compliance=floor.dialer.compliance, campaign=floor.dialer.campaign,
                           clock=floor.clock,
                           options=DialerOptions(owner="d3", agi_port=floor.agi.port))  # fmt: skip
    try:
        await fresh.start()
        assert attempts(engine)[attempt_id].result == "lost"
    finally:
        await fresh.stop()
