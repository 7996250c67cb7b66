"""What a hopper refill leaves as evidence, and which accounts it reads first."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, select, text, update
from sqlalchemy.orm import Session
from support.polling import until

from compliance.transparency.verify import verify
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


async def test_given_mx_campaign_holding_colombian_debtor_when_refilled_friday_2010_bogota_then_blocked_by_co_hours(
    engine: Engine, redis_url: str
) -> None:
    import redis.asyncio as aioredis

    from compliance.service import ComplianceService
    from dialer.hopper import Hopper
    from store.models import Phone

    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign = Campaign(name="mx-pred", country="MX", profile="MX", status="running",
                            caller_ids=[], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        account = Account(external_ref="MCO-0211", debtor_name="D", country="CO", region="DC",
                          currency="COP", balance=100, status="active", campaign_id=campaign.id)  # fmt: skip
        account.phones.append(Phone(position=1, number_e164="+573001234567", phone_type="mobile",
                                    consent=True, consent_ref="f-1"))  # fmt: skip
        s.add(account)
    client = aioredis.Redis.from_url(redis_url)
    try:
        refiller = Refiller(engine, client, Hopper(client, campaign.name),
                            ComplianceService(engine, client), campaign)  # fmt: skip
        # Friday 20:10 in Bogotá, 19:10 in Mexico City: MX's hours would allow it.
        report = await refiller.refill(datetime(2026, 1, 17, 1, 10, tzinfo=UTC), 10)
    finally:
        await client.aclose()
    assert report.added == 0 and dict(report.blocked) == {"outside_hours": 1}
    with Session(engine) as s:
        row = s.scalars(select(Decision).where(Decision.stage == "hopper")).one()
    assert row.profile_version.startswith("CO@") and row.reasons == ["outside_hours"]


async def test_given_accounts_without_a_usable_number_when_refilled_each_day_then_one_decision_row_per_reason_change(
    engine: Engine, redis_url: str
) -> None:
    """An auditor asking why an account was never called finds the decision: one row,
    not one a day, and a new one when what blocks it changes."""
    import redis.asyncio as aioredis

    from compliance.service import ComplianceService
    from dialer.hopper import Hopper
    from store.models import Phone

    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign = Campaign(name="dead-nums", country="MX", profile="MX", status="running",
                            caller_ids=[], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        dead = Account(external_ref="DN-1", debtor_name="D", country="MX", region="CMX",
                       currency="MXN", balance=100, status="active", campaign_id=campaign.id)  # fmt: skip
        dead.phones.append(Phone(position=1, number_e164="+525512345678", status="invalid"))
        dead.phones.append(Phone(position=2, number_e164="+525512345679", status="stopped"))
        bare = Account(external_ref="DN-2", debtor_name="D", country="MX", region="CMX",
                       currency="MXN", balance=100, status="active", campaign_id=campaign.id)  # fmt: skip
        s.add_all([dead, bare])
    client = aioredis.Redis.from_url(redis_url)
    # Tuesday 11:00 in Mexico City; the accounts come due again every day.
    first = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)

    async def refill(at: datetime) -> dict[str, int]:
        refiller = Refiller(engine, client, Hopper(client, campaign.name),
                            ComplianceService(engine, client), campaign)  # fmt: skip
        report = await refiller.refill(at, 10)
        assert report.considered == 2 and report.added == 0
        return dict(report.blocked)

    def rows() -> dict[int, list[list[str]]]:
        with Session(engine) as s:
            found = s.scalars(select(Decision).order_by(Decision.id)).all()
        assert all(d.stage == "hopper" and not d.allowed and d.phone_e164 is None for d in found)
        out: dict[int, list[list[str]]] = {}
        for d in found:
            out.setdefault(d.account_id or 0, []).append(list(d.reasons))
        return out

    try:
        blocked = await refill(first)
        assert rows() == {
            dead.id: [["cease_contact", "invalid_number"]],
            bare.id: [["invalid_number"]],
        }
        assert blocked == {"cease_contact": 1, "invalid_number": 2}
        # A day later, and the day after: still blocked, nothing new to say.
        for day in (1, 2):
            await refill(first + timedelta(days=day, minutes=1))
        assert rows() == {
            dead.id: [["cease_contact", "invalid_number"]],
            bare.id: [["invalid_number"]],
        }
        # The stopped number turns out to be someone else's: what blocks it changed.
        with Session(engine) as s, s.begin():
            s.execute(update(Phone).where(Phone.number_e164 == "+525512345679")
                      .values(status="third_party"))  # fmt: skip
        await refill(first + timedelta(days=3, minutes=2))
        await refill(first + timedelta(days=4, minutes=3))
    finally:
        await client.aclose()
    assert rows() == {
        dead.id: [["cease_contact", "invalid_number"], ["invalid_number", "third_party"]],
        bare.id: [["invalid_number"]],
    }
    with Session(engine) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.kind == "decision")).all()
    assert sorted(json.loads(e.payload)["account_id"] for e in entries) == sorted(
        [dead.id, dead.id, bare.id]
    )
    assert verify(engine).ok


async def test_given_a_lima_debtor_at_19_30_local_when_refilled_then_ranked_by_days_past_due_on_their_date(
    engine: Engine, redis_url: str
) -> None:
    """00:30 UTC of Tuesday 1 Dec is 19:30 of Monday 30 Nov in Lima: due on 30 Oct,
    the debt is 31 days past due there, not UTC's 32."""
    from datetime import date
    from decimal import Decimal

    import redis.asyncio as aioredis

    from compliance.service import ComplianceService
    from dialer.hopper import Hopper
    from dialer.priority import DEFAULT_WEIGHTS, account_priority
    from store.models import Phone

    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign = Campaign(name="pe-rank", country="PE", profile="PE", status="running",
                            caller_ids=[], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        account = Account(external_ref="PE-31", debtor_name="D", country="PE", currency="PEN",
                          balance=Decimal("999"), status="active", stage="firm",
                          due_date=date(2026, 10, 30), campaign_id=campaign.id)  # fmt: skip
        account.phones.append(Phone(position=1, number_e164="+51912345678", phone_type="mobile",
                                    consent=True, consent_ref="f-1"))  # fmt: skip
        s.add(account)
    now = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    client = aioredis.Redis.from_url(redis_url)
    try:
        hopper = Hopper(client, campaign.name)
        refiller = Refiller(engine, client, hopper, ComplianceService(engine, client), campaign)
        report = await refiller.refill(now, 10)
        assert report.added == 1, report
        [claim], _ = await hopper.claim(1, "test", now.timestamp(), 60)
    finally:
        await client.aclose()

    def rank(today: date) -> int:
        return account_priority(stage="firm", due_date=date(2026, 10, 30), balance=Decimal("999"),
                                today=today, weights=DEFAULT_WEIGHTS)  # fmt: skip

    assert rank(date(2026, 11, 30)) != rank(date(2026, 12, 1))
    assert claim.priority == rank(date(2026, 11, 30))


@contextmanager
def writes_held(engine: Engine, account_id: int) -> Iterator[None]:
    """Every write to the account waits until the block ends: its row locked on
    PostgreSQL, the one writer's lock held on SQLite."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            tx = conn.begin()
            conn.execute(
                text("SELECT id FROM accounts WHERE id = :id FOR UPDATE"), {"id": account_id}
            )
            try:
                yield
            finally:
                tx.rollback()
        return
    raw = sqlite3.connect(str(engine.url.database), isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        yield
    finally:
        raw.execute("ROLLBACK")
        raw.close()


async def test_given_two_dialers_refilling_an_account_without_a_usable_number_at_once_then_one_decision_row(
    engine: Engine, redis_url: str
) -> None:
    """Two dialers' refills of one campaign can overlap (its refill lock expires before
    a slow refill ends, or Redis lost it): both read the account's last decision before
    either wrote, and each wrote its own "no usable number". Now the second reads it
    after the first committed. Both are held at their first write until both are there."""
    import redis.asyncio as aioredis

    from compliance.service import ComplianceService
    from dialer.hopper import Hopper

    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign = Campaign(name="no-nums", country="MX", profile="MX", status="running",
                            caller_ids=[], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        bare = Account(external_ref="NN-1", debtor_name="D", country="MX", region="CMX",
                       currency="MXN", balance=100, status="active", campaign_id=campaign.id)  # fmt: skip
        s.add(bare)
    client = aioredis.Redis.from_url(redis_url)
    at = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday 11:00 in Mexico City
    writing: set[int] = set()  # threads that reached the refill's first write (or lock)

    def first_write(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        head = " ".join(statement.split()).upper()
        if (head.startswith(("INSERT INTO DECISIONS", "UPDATE ACCOUNTS"))
                or head.endswith("FOR NO KEY UPDATE")):  # fmt: skip
            writing.add(threading.get_ident())

    event.listen(engine, "before_cursor_execute", first_write)
    try:
        with writes_held(engine, bare.id):
            refills = [
                asyncio.create_task(
                    Refiller(
                        engine,
                        client,
                        Hopper(client, campaign.name),
                        ComplianceService(engine, client),
                        campaign,
                    ).refill(at, 10)
                )  # fmt: skip
                for _ in range(2)
            ]
            await until(lambda: len(writing) == 2, "both refills at their first write")
        reports = await asyncio.gather(*refills)
    finally:
        event.remove(engine, "before_cursor_execute", first_write)
        await client.aclose()
    assert [dict(r.blocked) for r in reports] == [{"invalid_number": 1}] * 2
    with Session(engine) as s:
        rows = s.scalars(select(Decision).where(Decision.account_id == bare.id)).all()
    assert [(r.phone_e164, list(r.reasons)) for r in rows] == [(None, ["invalid_number"])]
    assert verify(engine).ok
