"""Whatever a real carrier answers, the dial loop does the right thing: the real
Asterisk 22 dials every debtor through its PJSIP trunk and sipp plays the carrier
(sipp/carrier_answers.xml: 404, 484, 410, 480 (also with a Q.850 Reason header), 408,
486, 600, 603, 401, 407, 403, 503, 502, rings past the ring timeout, 183 early media then 404 or then 200 and a BYE in the agent's
bridge, 200 and a BYE at once). One dial loop, one sipp, one pass: each attempt gets
the cause Asterisk gives and the result tests/support/carrier_answers.py says, and
nothing leaks (docs/real-floor.md, "What a carrier answers")."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from asterisk_harness import CallWatcher, ChrootAsterisk, sipp_uas
from dial_floor import DialFloor, attempts
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.carrier_answers import CARRIER_ANSWERS, CarrierAnswer

from compliance.ledger import load_history
from compliance.transparency.verify import verify
from dialer.agent_state import AgentState
from dialer.ami import AMIClient
from dialer.attempt_store import epoch
from dialer.recycle import DEFAULT_RULES
from store.models import Account, AuditEntry, Phone

CARRIER_PORT = 5070  # pjsip.conf: the test carrier's contact
RING_TIMEOUT = 3.0  # the 40 number rings past it: our CANCEL
DEBTOR_CHANNEL = re.compile(r"^cobrador-\d+(;2)?$")  # not the agents' cobrador-agent-<n>


def number(answer: CarrierAnswer) -> str:
    """A valid Mexico City mobile number whose last two digits choose sipp's answer."""
    return f"+5255100020{answer.suffix}"


@pytest.fixture
async def trunk_route(ami: AMIClient) -> AsyncIterator[None]:
    """Debtor calls leave through the carrier trunk (sipp), not sim-customers."""
    await ami.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_OUTBOUND_ROUTE", "Value": "trunk"}
    )
    yield
    await ami.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_OUTBOUND_ROUTE", "Value": "sim"}
    )


async def debtor_channels(ami: AMIClient) -> list[str]:
    _, items = await ami.send_list_action({"Action": "CoreShowChannels"})
    return [u for i in items if DEBTOR_CHANNEL.match(u := i.get("Uniqueid") or "")]


async def test_given_every_carrier_answer_when_dialed_then_result_recycle_figures_and_no_leak(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    trunk_route: None,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    by_number = {number(a): a for a in CARRIER_ANSWERS}
    async with sipp_uas("carrier_answers.xml", CARRIER_PORT, calls=None, log_dir=tmp_path):
        floor = await DialFloor.open(ami, engine, redis_url, tmp_path, list(by_number),
                                     agents=3, ring_timeout=RING_TIMEOUT)  # fmt: skip
        try:
            await floor.run_until(lambda: floor.finished(len(by_number)), what="every call")
            now = floor.dialer.clock()
            left_in_asterisk = await debtor_channels(ami)
            leases = await floor.dialer.hopper.lease_holders(now)
            agents = {a: (await floor.agents.get(a)).state for a in floor.agent_ids}
            [hour] = [w for w in await floor.dialer.stats.windows(now) if w.seconds == 3600]
        finally:
            await floor.close()

    with Session(engine) as s:
        phones = {p.account_id: p.number_e164 for p in s.scalars(select(Phone))}
        accounts = {a.id: a for a in s.scalars(select(Account))}
        audited = [json.loads(e.payload) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "attempt"))]  # fmt: skip
    rows = attempts(engine, floor.campaign_id)
    seen = {phones[a.account_id]: (a.result, a.hangup_cause) for a in rows}
    # 1. Each answer: the cause Asterisk 22 gives and the result the dialer writes.
    assert seen == {n: (a.result, a.cause) for n, a in by_number.items()}, (
        (tmp_path / "sipp_errors.log").read_text()[-3000:]
        if (tmp_path / "sipp_errors.log").exists() else "")  # fmt: skip

    for attempt in rows:
        answer = by_number[phones[attempt.account_id]]
        channel = f"cobrador-{attempt.id}"
        assert attempt.decision_id is not None  # passed the final check: a placed call
        assert (attempt.answered_at is not None) == answer.answered, answer.answer
        if answer.result == "contact":
            # 183 then 200: answered once, bridged to an agent; the debtor's BYE ended it.
            assert attempt.agent_id in floor.agent_ids and attempt.bridged_at is not None
            assert watcher.has(channel, "ConfbridgeJoin", Conference=f"agent-{attempt.agent_id}")
        else:
            assert attempt.agent_id is None and attempt.bridged_at is None, answer.answer
        if answer.result == "early_hangup":
            # The BYE came while AMD listened (AMDSTATUS=HANGUP; on a loaded machine it
            # may even come before AMD starts): the answer route never ran.
            assert not watcher.has(channel, "Newexten", Application="AGI")
            assert not watcher.has(channel, "VarSet", Variable="AMDSTATUS", Value="NOTSURE")
        if answer.suffix == "40":
            assert watcher.has(channel, "OriginateResponse", Response="Failure", Reason="3")
        # 2. When the number is dialed again: the campaign's (default) recycle rule.
        ended = epoch(attempt.ended_at)
        again = epoch(accounts[attempt.account_id].next_attempt_at)
        assert ended is not None and again is not None
        assert again - ended == pytest.approx(DEFAULT_RULES[answer.result].delay_seconds, abs=0.01)

    # 3. Evidence: every attempt's end audited with its result and cause; the chain holds.
    ended_in_audit = {e["attempt_id"]: (e["result"], e["hangup_cause"]) for e in audited
                      if "result" in e}  # fmt: skip
    assert ended_in_audit == {a.id: (a.result, a.hangup_cause) for a in rows}
    assert verify(engine).ok
    # 4. The caps' ledger: every placed call is one attempt of its debtor, none an abandon.
    since = min(a.started_at for a in rows) - timedelta(seconds=1)
    history = load_history(engine, [a.account_id for a in rows], since)
    assert {account: len(h.attempts) for account, h in history.items()} == {
        a.account_id: 1 for a in rows
    }
    assert not any(h.abandons for h in history.values())
    # 5. The abandonment figures: one person (the contact), no abandon, one early
    # hang-up; none of the carrier's refusals is an answer or an abandon.
    assert (hour.humans, hour.abandoned, hour.machine_drops, hour.early_hangups) == (1, 0, 0, 1)
    # 6. Nothing leaks: no debtor channel up, no lease, no agent held by a call.
    assert left_in_asterisk == []
    assert leases == {}
    assert all(state in (AgentState.ready, AgentState.wrap_up) for state in agents.values())
