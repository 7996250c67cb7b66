"""A short campaign through the real Asterisk 22, then the same campaign on
pbxsim with the sim-customers suffix rules: the attempt rows the dial loop
writes must agree account by account (result, hangup cause, answered,
bridged to an agent, decision, caller ID, debtor's local time).

Two agents sit on nailed-up legs (Local/<id>@sim-agents into cobrador-agent,
ConfBridge agent-<id>); three debtors answer in person, so agents take calls
one after another. The asterisk fixture FAILS (never skips) when
COBRADOR_REQUIRE_INTEGRATION=1 and Asterisk cannot start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asterisk_harness import CallWatcher, ChrootAsterisk
from dial_floor import DialFloor, attempts
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.ami import AMIClient
from pbxsim.ami_server import AMIServer
from pbxsim.clock import ScaledClock
from pbxsim.pbx import PBX
from pbxsim.scenario import Scenario
from store.models import Phone

TALK_SECONDS = 3
# The last three digits choose what sim-customers does (asterisk-conf/README.md).
# Ring times stay clear of the dialer's 3 s ring timeout: at exactly 3 s Asterisk
# may still answer where pbxsim counts no answer.
CAMPAIGN = {
    "+525520000101": "contact",  # a person answers after 1 s
    "+525520000102": "contact",  # after 2 s: both agents busy at once
    "+525520001101": "contact",  # after 1 s: waits for an agent to be ready again
    "+525520000202": "machine",  # an answering machine after 2 s
    "+525520000301": "busy",
    "+525520000401": "no_answer",  # rings past the dialer's ring timeout
    "+525520000501": "failed",  # congestion
    "+525520000601": "invalid_number",  # unallocated number (Q.850 1)
}


def another_debtor(number: str) -> str:
    """The same behaviour (sim-customers reads the last three digits) on another person's
    number: the second run's debtors sharing the first run's numbers would be the same
    people, whose caps the first run spent (compliance/debtor_accounts.py)."""
    return number[:5] + "9" + number[6:]


def attempt_records(engine: Engine, campaign_id: int) -> dict[str, dict[str, Any]]:
    """Per dialed number, what the attempt row says (ids and exact times aside)."""
    with Session(engine) as s:
        phones = {p.account_id: p.number_e164 for p in s.scalars(select(Phone))}
    out: dict[str, dict[str, Any]] = {}
    for a in attempts(engine, campaign_id):
        number = phones[a.account_id]
        assert number not in out, f"{number} dialed twice"
        out[number] = {
            "result": a.result,
            "hangup_cause": a.hangup_cause,
            "answered": a.answered_at is not None,
            "bridged": a.bridged_at is not None,
            "agent": a.agent_id is not None,
            "decision": a.decision_id is not None,
            "caller_id": a.caller_id,
            "local_hour": (a.debtor_local_time or "")[:13],
            "ended_after_start": a.ended_at is not None and a.ended_at >= a.started_at,
        }
    return out


async def run_campaign(ami: AMIClient, engine: Engine, redis_url: str, tmp_path: Path,
                       name: str, numbers: list[str] | None = None,
                       ) -> tuple[DialFloor, dict[str, dict[str, Any]]]:  # fmt: skip
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, numbers or list(CAMPAIGN),
                                 agents=2, name=name)  # fmt: skip
    try:
        await floor.run_until(lambda: floor.finished(len(CAMPAIGN)), within=120,
                              what=f"every call of {name} to end")  # fmt: skip
    finally:
        await floor.close()
    return floor, attempt_records(engine, floor.campaign_id)


@pytest.fixture
async def pbxsim_ami() -> AsyncIterator[AMIClient]:
    """pbxsim in real time with asterisk-conf's suffix rules and measured AMD times."""
    scenario = Scenario(suffix_rules=True, suffix_talk_seconds=TALK_SECONDS,
                        amd_human_seconds=1.6, amd_machine_seconds=1.5,
                        safe_harbor_seconds=2.0, seed=1)  # fmt: skip
    pbx = PBX(scenario, clock=ScaledClock(1.0))
    server = AMIServer(pbx, "cobrador", "secret")
    await server.start("127.0.0.1", 0)
    client = AMIClient("127.0.0.1", server.port, "cobrador", "secret", keepalive_interval=None)
    await client.connect()
    yield client
    await client.close()
    await server.stop()
    await pbx.stop()


async def test_given_campaign_with_two_agents_when_run_on_asterisk_and_pbxsim_then_same_attempt_records(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    pbxsim_ami: AMIClient,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    await ami.send_action(
        {"Action": "Setvar", "Variable": "SIM_TALK_SECONDS", "Value": str(TALK_SECONDS)}
    )
    try:
        real_floor, real = await run_campaign(ami, engine, redis_url, tmp_path, "mx-real")
    finally:
        await ami.send_action({"Action": "Setvar", "Variable": "SIM_TALK_SECONDS", "Value": "30"})
    others = [another_debtor(n) for n in CAMPAIGN]
    _, by_other = await run_campaign(pbxsim_ami, engine, redis_url, tmp_path, "mx-sim", others)
    simulated = {n: by_other[another_debtor(n)] for n in CAMPAIGN if another_debtor(n) in by_other}

    assert simulated == real
    assert {number: r["result"] for number, r in real.items()} == CAMPAIGN
    for record in real.values():
        assert record["decision"] and record["caller_id"] == "5215550001000"
        assert record["local_hour"] == "2026-11-25T11" and record["ended_after_start"]
        assert record["agent"] == record["bridged"] == (record["result"] == "contact")
    # On Asterisk each contact really sat in its agent's ConfBridge, and both agents worked.
    contacts = [a for a in attempts(engine, real_floor.campaign_id) if a.result == "contact"]
    for a in contacts:
        assert watcher.has(f"cobrador-{a.id}", "ConfbridgeJoin", Conference=f"agent-{a.agent_id}")
    assert {a.agent_id for a in contacts} == set(real_floor.agent_ids)
