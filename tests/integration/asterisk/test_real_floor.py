"""The real floor in CI (docs/real-floor.md): Asterisk 22 dialing sipp debtors
through its trunk, three dialers on one MX/CO/PE campaign; Asterisk's CEL and
CDR reconciled with the attempts, decisions and audit log."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from asterisk_harness import ChrootAsterisk, wait_until
from dial_floor import attempts
from real_floor import (
    BUSY,
    MACHINE,
    NO_ANSWER,
    QUICK,
    TALK,
    UNAVAILABLE,
    RealFloor,
    carrier_audio,
    file_size,
    reconcile,
    record_files,
    sipp_carrier,
    stuck_agents,
)
from sqlalchemy import Engine

from dialer import pbx_records
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient
from dialer.hopper import Hopper

SIZE = int(os.environ.get("COBRADOR_REAL_FLOOR_SIZE", "120"))
AGENTS = 6


@pytest.fixture
async def trunk_route(ami: AMIClient) -> AsyncIterator[None]:
    await ami.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_OUTBOUND_ROUTE", "Value": "trunk"}
    )
    yield
    await ami.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_OUTBOUND_ROUTE", "Value": "sim"}
    )


async def test_given_real_floor_with_three_dialers_when_campaign_runs_then_asterisk_and_cobrador_agree(
    asterisk: ChrootAsterisk, ami: AMIClient, trunk_route: None, engine: Engine,
    redis_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    audio = carrier_audio(asterisk, tmp_path / "audio")
    cdr_path, cel_path = record_files(asterisk)
    since = (file_size(cel_path), file_size(cdr_path))
    floor = await RealFloor.open(ami, engine, redis_url, tmp_path, cel_path, size=SIZE,
                                 agents=AGENTS)  # fmt: skip
    try:
        async with sipp_carrier(audio, tmp_path):
            await floor.run(dialers=3)
    finally:
        await floor.close()
    report = reconcile(floor, cel_path, cdr_path, since)
    print("\n" + report.table(floor.finished - floor.started, [d.placed for d in floor.dialers]))
    assert report.trunk_without_allowed_decision == []
    assert report.attempts_without_trunk_call == []
    assert report.outside_window == []
    assert report.lost_results == []
    assert report.audit_intact
    assert report.cdr_disagreements == []
    assert report.asterisk.rate <= 0.03 and report.cobrador.rate <= 0.03
    assert report.asterisk.persons >= 10  # enough persons for the rate to mean something
    assert report.countries_dialed["CO"] == 0 and report.blocked_co_decisions > 0
    assert report.countries_dialed["MX"] > 0 and report.countries_dialed["PE"] > 0
    assert all(d.placed > 0 for d in floor.dialers)  # the three shared the floor
    assert await stuck_agents(floor) == []


def expected_orphan_result(behaviour: str, bridged_when_killed: bool) -> str:
    """What became of a call whose dialer died, by what the debtor did: with no
    dialer to answer its FastAGI request, Asterisk's failure path drops what AMD
    called a machine and tells a person the safe-harbor message."""
    if behaviour == TALK:
        return "contact" if bridged_when_killed else "abandoned"
    return {QUICK: "early_hangup", MACHINE: "machine", BUSY: "busy", NO_ANSWER: "no_answer",
            UNAVAILABLE: "failed"}[behaviour]  # fmt: skip


async def test_given_dialer_killed_with_calls_live_when_another_reconciles_then_attempts_closed_as_asterisk_recorded(
    asterisk: ChrootAsterisk, ami: AMIClient, trunk_route: None, engine: Engine,
    redis_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    audio = carrier_audio(asterisk, tmp_path / "audio")
    _, cel_path = record_files(asterisk)
    since = file_size(cel_path)
    floor = await RealFloor.open(ami, engine, redis_url, tmp_path, cel_path, size=30, agents=5,
                                 name="floor-kill")  # fmt: skip

    def recorded() -> dict[int, pbx_records.PbxCall]:
        rows = pbx_records.read_records(cel_path, pbx_records.CEL_FIELDS, start=since)
        return pbx_records.calls_from_cel(rows)

    try:
        async with sipp_carrier(audio, tmp_path):
            doomed = await floor.start_dialer(0, lease_seconds=2.0)

            def busy_floor() -> bool:
                live = [c for c in recorded().values() if c.ended_at is None]
                return len(live) >= 3 and any(c.bridged_at is not None for c in live)

            await wait_until(busy_floor, within=60, what="calls live, one bridged")
            await floor.kill(doomed)
            killed_at = time.time()
            # Its calls that passed the final check: open, nobody left to end them.
            in_flight = {a.id for a in attempts(engine, floor.campaign_id)
                         if a.result is None and a.decision_id is not None}  # fmt: skip

            def recorded_ended() -> bool:
                calls = recorded()
                return all(i in calls and calls[i].ended_at is not None for i in in_flight)

            # Asterisk carries the calls to their end without a dialer.
            await wait_until(recorded_ended, within=60, what="Asterisk to end the calls")
            open_ = {a.id for a in attempts(engine, floor.campaign_id) if a.result is None}
            assert in_flight and in_flight <= open_  # nobody closed them yet
            # Another dialer starts: it saw none of it, and reconciles from Asterisk's CEL.
            await floor.start_dialer(1, orphan_grace_seconds=1.0)
            await floor.wait_done(within=120)
    finally:
        await floor.close()

    calls = recorded()
    by_number = {d.number: d for d in floor.people}
    closed = {a.id: a for a in attempts(engine, floor.campaign_id) if a.id in in_flight}
    for attempt_id in in_flight:
        attempt, call = closed[attempt_id], calls[attempt_id]
        bridged = call.bridged_at is not None and call.bridged_at < killed_at
        expected = expected_orphan_result(by_number[attempt.phone_e164].behaviour, bridged)
        assert (attempt_id, attempt.result) == (attempt_id, expected)
        assert call.ended_at is not None and attempt.ended_at is not None
        # Asterisk's own end time (moved into the shift like every time of the test).
        ended = attempt.ended_at.replace(tzinfo=UTC).timestamp()
        assert abs(ended - (call.ended_at + floor.clock.offset)) < 0.01
    assert "contact" in {closed[i].result for i in in_flight}  # one was bridged when killed
    assert await stuck_agents(floor) == []


async def test_given_a_survivor_running_when_a_dialer_is_killed_then_its_heartbeat_gone_closes_its_calls_as_asterisk_recorded(
    asterisk: ChrootAsterisk, ami: AMIClient, trunk_route: None, engine: Engine,
    redis_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    """dialer/liveness.py on the real floor: leases, orphan grace and the periodic
    pass all an hour long, so only the victim's heartbeat going silent lets the
    survivor close its calls; each with the outcome and end Asterisk's CEL records,
    its agent released, while the survivor goes on dialing."""
    audio = carrier_audio(asterisk, tmp_path / "audio")
    _, cel_path = record_files(asterisk)
    since = file_size(cel_path)
    floor = await RealFloor.open(ami, engine, redis_url, tmp_path, cel_path, size=30, agents=5,
                                 name="floor-heartbeat")  # fmt: skip
    hour = 3600.0
    hopper = Hopper(aioredis.Redis.from_url(redis_url), floor.campaign.name)

    def recorded() -> dict[int, pbx_records.PbxCall]:
        rows = pbx_records.read_records(cel_path, pbx_records.CEL_FIELDS, start=since)
        return pbx_records.calls_from_cel(rows)

    try:
        async with sipp_carrier(audio, tmp_path):
            doomed = await floor.start_dialer(0, lease_seconds=hour)

            def busy_floor() -> bool:
                live = [c for c in recorded().values() if c.ended_at is None]
                return len(live) >= 3 and any(c.bridged_at is not None for c in live)

            await wait_until(busy_floor, within=60, what="calls live, one bridged")
            await floor.start_dialer(1, lease_seconds=hour, orphan_grace_seconds=hour,
                                     reconcile_every_seconds=hour)  # fmt: skip
            holders = await hopper.lease_holders(floor.clock())
            await floor.kill(doomed)
            killed_at = time.time()
            # The victim's calls that passed the final check (its leases name them).
            in_flight = {a.id for a in attempts(engine, floor.campaign_id)
                         if a.result is None and a.decision_id is not None
                         and holders.get(a.account_id) == doomed.owner}  # fmt: skip
            assert in_flight

            def closed_by_survivor() -> bool:
                rows = {a.id: a for a in attempts(engine, floor.campaign_id)}
                return all(rows[i].result is not None for i in in_flight)

            await wait_until(closed_by_survivor, within=90, what="the victim's calls closed")
            # Their agents released (the survivor's own calls go on).
            client = aioredis.Redis.from_url(redis_url)
            try:
                states = AgentStates(client, clock=floor.clock)
                on_victims = [a for a in floor.agent_ids
                              if (s := await states.get(a)).attempt_id in in_flight
                              and s.state in (AgentState.reserved, AgentState.talking)]  # fmt: skip
            finally:
                await client.aclose()
            assert on_victims == []
    finally:
        await hopper.redis.aclose()
        await floor.close()

    calls = recorded()
    by_number = {d.number: d for d in floor.people}
    closed = {a.id: a for a in attempts(engine, floor.campaign_id) if a.id in in_flight}
    for attempt_id in in_flight:
        attempt, call = closed[attempt_id], calls[attempt_id]
        bridged = call.bridged_at is not None and call.bridged_at < killed_at
        expected = expected_orphan_result(by_number[attempt.phone_e164].behaviour, bridged)
        assert (attempt_id, attempt.result) == (attempt_id, expected)
        assert call.ended_at is not None and attempt.ended_at is not None
        ended = attempt.ended_at.replace(tzinfo=UTC).timestamp()
        assert abs(ended - (call.ended_at + floor.clock.offset)) < 0.01
