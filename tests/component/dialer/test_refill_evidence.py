"""What a hopper refill leaves as evidence, and which accounts it reads first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.audit import verify
from dialer.refill import Refiller
from store.models import Account, AuditEntry, Campaign, Decision


async def test_given_refill_when_some_accounts_blocked_then_each_blocked_has_a_row_and_admitted_share_one_entry(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=10, listed_accounts=3)
    listed = set(list(floor.numbers)[:3])
    now = datetime.fromtimestamp(floor.clock(), UTC)
    report = await floor.dialer.refiller.refill(now, 50)
    assert report.considered == 10 and report.added == 7
    with Session(floor.engine) as s:
        rows = s.scalars(select(Decision).where(Decision.stage == "hopper")).all()
        entries = s.scalars(select(AuditEntry).where(AuditEntry.kind == "hopper_admission")).all()
    # Every call not placed: its own decision row with the reason.
    assert {d.account_id for d in rows} == listed
    assert all(not d.allowed and "registry_listed" in d.reasons for d in rows)
    # The admitted ones: one chained entry holding each full decision.
    assert len(entries) == 1
    payload = json.loads(entries[0].payload)
    admitted = {d["account_id"]: d for d in payload["decisions"]}
    assert set(admitted) == set(floor.numbers) - listed
    for account_id, decision in admitted.items():
        assert decision["allowed"] is True and decision["reasons"] == []
        assert decision["phone"] == floor.numbers[account_id]
        assert decision["profile_version"] and decision["registry_versions"]["reus"]
        assert decision["local_time"].startswith(now.strftime("%Y-%m-%d"))
    assert verify(floor.engine).ok


def test_given_due_and_never_dialed_accounts_when_refilled_then_never_dialed_first_then_longest_due(
    engine: Engine,
) -> None:
    now = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign = Campaign(name="order", country="MX", profile="MX", status="running",
                            caller_ids=[], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        accounts = [Account(external_ref=f"O{i}", debtor_name="D", country="MX", currency="MXN",
                            status="active", campaign_id=campaign.id) for i in range(7)]  # fmt: skip
        s.add_all(accounts)
        s.flush()
        ids = [a.id for a in accounts]
        # ids[0..2] due since 3, 1 and 2 hours; ids[3] asleep until tomorrow; ids[6] paid.
        for account, hours in zip(accounts[:4], (-3, -1, -2, 24), strict=True):
            account.next_attempt_at = now + timedelta(hours=hours)
        accounts[6].status = "paid"
    refiller = Refiller(engine, None, None, None, campaign)  # type: ignore[arg-type]
    first = refiller._candidates(now, 3)
    assert [c.account.id for c in first] == [ids[4], ids[5], ids[0]]
    every = refiller._candidates(now, 10)
    assert [c.account.id for c in every] == [ids[4], ids[5], ids[0], ids[2], ids[1]]
