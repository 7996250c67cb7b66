"""A strategy's letter step end to end: the postal address the importer stored, the
same final check as every channel (hours and days in the debtor's time, opt-outs,
account status, the country's channel table), and the mail room's PDF when allowed;
no address is `no_address`, never `no_consent`."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.service import ComplianceService
from outreach.channels import Reply
from outreach.channels.delivery import DeliveryBook
from outreach.channels.letter import letter_channel
from outreach.checks import ConsentedAddresses, EngineCheck
from outreach.scheduler import Scheduler
from outreach.strategy import strategy_for
from store.db import transaction
from store.models import Account, CallAttempt, Campaign, OutreachStep
from store.models import Decision as DecisionRow

RULES = """
[messages]
sender = "Despacho Ejemplo"
phone = "+52 55 5000 1000"
portal_url = "https://pagos.example.mx/p"

[strategy.stages.friendly]
steps = [{ day = 0, channel = "letter", template = "recordatorio" }]
"""
T0 = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Mexico City
ADDRESS = "Av. Reforma 222, piso 3, Col. Juárez, 06600 CDMX"


async def no_replies(reply: Reply) -> None:
    raise AssertionError("letters take no replies")


def seed(engine: Engine, ref: str, *, country: str = "MX", region: str = "CMX",
         address: str | None = ADDRESS, opted_out: str = "", status: str = "active") -> int:  # fmt: skip
    with transaction(engine) as s:
        campaign = s.scalar(select(Campaign).where(Campaign.name == f"cartas-{country}"))
        if campaign is None:
            campaign = Campaign(name=f"cartas-{country}", country=country, profile=country,
                                status="running", config=tomllib.loads(RULES))  # fmt: skip
            s.add(campaign)
            s.flush()
        account = Account(
            external_ref=ref, debtor_name="JUANA PÉREZ", country=country, region=region,
            balance=Decimal("9876.50"), currency="MXN", due_date=date(2026, 11, 25),
            campaign_id=campaign.id, stage="friendly", stage_entered_at=T0, address=address,
            opted_out=opted_out, status=status,
        )  # fmt: skip
        s.add(account)
        s.flush()
        return int(account.id)


def scheduler(engine: Engine, aredis: Any, tmp_path: Path) -> Scheduler:
    letters = letter_channel(engine, DeliveryBook(engine), tmp_path / "letters", opt_out=no_replies)
    return Scheduler(engine, EngineCheck(engine, ComplianceService(engine, aredis)),
                     {"letter": letters}, ConsentedAddresses(), link_secret=b"L" * 32)  # fmt: skip


def letters_written(tmp_path: Path) -> bool:
    return (tmp_path / "letters").exists()


def pdf_head(path: Path) -> bytes:
    return path.read_bytes()[:4]


def step_of(engine: Engine, account_id: int) -> OutreachStep:
    with Session(engine) as s:
        return s.scalars(select(OutreachStep).where(OutreachStep.account_id == account_id)).one()


def test_given_a_letter_step_then_the_strategy_accepts_it() -> None:
    strategy = strategy_for(tomllib.loads(RULES))
    assert [s.channel for s in strategy.stages["friendly"].steps] == ["letter"]


async def test_given_a_postal_address_in_hours_then_the_letter_is_rendered_with_its_decision(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    account_id = seed(engine, "L-1")
    await scheduler(engine, aredis, tmp_path).run_once(T0)
    row = step_of(engine, account_id)
    assert (row.status, row.channel) == ("sent", "letter"), row.reasons
    with Session(engine) as s:
        attempt = s.scalars(select(CallAttempt).where(CallAttempt.account_id == account_id)).one()
        decision = s.get(DecisionRow, attempt.decision_id)
    assert (attempt.channel, attempt.address, attempt.phone_e164) == ("letter", ADDRESS, None)
    assert decision is not None and decision.allowed and decision.channel == "letter"
    assert decision.profile_version.startswith("MX@")
    assert pdf_head(Path(str((attempt.details or {})["pdf"]))) == b"%PDF"
    assert (attempt.details or {})["letter_address"] == ADDRESS


async def test_given_no_postal_address_then_blocked_as_no_address_not_no_consent(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    account_id = seed(engine, "L-2", address="   ")
    await scheduler(engine, aredis, tmp_path).run_once(T0)
    row = step_of(engine, account_id)
    assert row.status == "blocked" and row.reasons == ["no_address"]
    assert not letters_written(tmp_path)


async def test_given_23h_in_the_debtors_zone_then_the_letter_waits_for_the_window(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    account_id = seed(engine, "L-3")
    late = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)  # Tuesday 23:00 in Mexico City
    await scheduler(engine, aredis, tmp_path).run_once(late)
    row = step_of(engine, account_id)
    assert row.status == "waiting" and "outside_hours" in row.reasons
    assert row.not_before == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # Wednesday 07:00
    assert not letters_written(tmp_path)


async def test_given_a_debtor_who_opted_out_of_letters_then_never_sent(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    account_id = seed(engine, "L-4", opted_out="letter")
    sch = scheduler(engine, aredis, tmp_path)
    await sch.run_once(T0)
    row = step_of(engine, account_id)
    assert row.status == "blocked" and "opted_out" in row.reasons
    await sch.run_once(T0 + timedelta(days=1))
    assert step_of(engine, account_id).status == "blocked"
    assert not letters_written(tmp_path)


async def test_given_a_saturday_in_lima_then_the_letter_waits_for_monday(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    account_id = seed(engine, "L-5", country="PE", region="LIM")
    saturday = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)  # 10:00 in Lima
    await scheduler(engine, aredis, tmp_path).run_once(saturday)
    row = step_of(engine, account_id)
    assert row.status == "waiting" and "day_not_allowed" in row.reasons
    assert row.not_before == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # Monday 07:00 Lima


async def test_given_colombia_then_letters_are_not_a_channel_the_debtor_authorised(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    account_id = seed(engine, "L-6", country="CO", region="DC")
    await scheduler(engine, aredis, tmp_path).run_once(T0)
    row = step_of(engine, account_id)
    assert row.status == "blocked" and "channel_not_allowed" in row.reasons


# An account's postal address may be as long as its column (store/importing/account_rows.py).
LONG_ADDRESS = ("Calle de la Reforma Agraria y Ampliación Ejidal " * 7)[:299] + "X"


def decision_payloads(engine: Engine, decision_id: int) -> list[dict[str, Any]]:
    import json

    from store.models import AuditEntry

    with Session(engine) as s:
        payloads = [json.loads(e.payload) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "decision").order_by(AuditEntry.id))]  # fmt: skip
    return [p for p in payloads if p["decision_id"] == decision_id]


async def test_given_the_longest_postal_address_then_its_decision_and_audit_entry_keep_it_whole(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    assert len(LONG_ADDRESS) == 300
    account_id = seed(engine, "L-9", address=LONG_ADDRESS)
    await scheduler(engine, aredis, tmp_path).run_once(T0)
    row = step_of(engine, account_id)
    assert row.status == "sent" and row.decision_id is not None, row.reasons
    with Session(engine) as s:
        decision = s.get(DecisionRow, row.decision_id)
    assert decision is not None and (decision.channel, decision.address) == ("letter", LONG_ADDRESS)
    [payload] = decision_payloads(engine, row.decision_id)
    assert (payload["channel"], payload["address"]) == ("letter", LONG_ADDRESS)


def test_given_a_letter_refused_by_the_count_at_sending_then_its_decision_names_the_address(
    engine: Engine,
) -> None:
    from outreach.step_store import SendResult, finish_sends
    from store.models import OutreachStepStatus

    account_id = seed(engine, "L-10")
    with transaction(engine) as s:
        attempt = CallAttempt(account_id=account_id, channel="letter", address=ADDRESS,
                              direction="outbound", source="outreach", started_at=T0)  # fmt: skip
        s.add(attempt)
        s.flush()
        attempt_id = int(attempt.id)
        s.add(OutreachStep(account_id=account_id, key="friendly:0", stage="friendly",
                           channel="letter", template="recordatorio", status="sending",
                           due_at=T0, decided_at=T0, attempt_id=attempt_id))  # fmt: skip
    finish_sends(engine, [SendResult((account_id, "friendly:0"), attempt_id,
                                     OutreachStepStatus.waiting, "letter",
                                     error="attempt_cap_day")], T0)  # fmt: skip
    row = step_of(engine, account_id)
    assert row.decision_id is not None and row.reasons == ["attempt_cap_day"]
    with Session(engine) as s:
        decision = s.get(DecisionRow, row.decision_id)
    assert decision is not None
    assert (decision.channel, decision.allowed, decision.address, decision.phone_e164) == (
        "letter", False, ADDRESS, None)  # fmt: skip
    [payload] = decision_payloads(engine, row.decision_id)
    assert (payload["address"], payload["reasons"]) == (ADDRESS, ["attempt_cap_day"])
