"""The acceptance story of staged strategies (issue 24), run by the component test on
our SMSC simulator and by the integration test through a real Kannel: day-0 SMS, a
message due at 21:59 in Lima waiting for 07:00, a promise confirmed in writing, a
broken promise running the day-3 e-mail at once, the day-5 call handed to the hopper,
a "BAJA" reply stopping SMS to that number at once."""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.service import ComplianceService
from outreach.checks import ConsentedAddresses, EngineCheck
from outreach.outgoing import MessageSender
from outreach.scheduler import Scheduler
from store.db import transaction
from store.models import Account, CallAttempt, Campaign, OutreachStep, Phone, Promise
from support.polling import until

RULES = """
[messages]
sender = "Despacho Ejemplo"
sms_sender = "DESPACHO"
phone = "+51 1 500 1000"
portal_url = "https://pagos.example.pe/p"

[strategy.stages.friendly]
steps = [
  { day = 0, channel = "sms", template = "recordatorio" },
  { day = 3, channel = "email", template = "recordatorio" },
  { day = 5, channel = "call" },
  { day = 6, channel = "sms", template = "recordatorio" },
  { event = "promise_made", channel = "sms", template = "confirmacion_promesa" },
  { event = "promise_broken", channel = "whatsapp", template = "promesa_incumplida" },
]
"""
# Tuesday 1 December 2026, 10:00 in Lima (UTC-5; Peru: Monday-Friday 07:00-20:00).
T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
PHONE = "+51987654321"
LATE_PHONE = "+51987650000"  # ends 0000: the simulated SMSC fails it


def seed(engine: Engine) -> tuple[int, int]:
    with transaction(engine) as s:
        campaign = Campaign(name="peru", country="PE", profile="PE", status="running",
                            config=tomllib.loads(RULES))  # fmt: skip
        s.add(campaign)
        s.flush()
        ids = []
        for ref, number, entered in (("PE-1", PHONE, T0),
                                     ("PE-2", LATE_PHONE, T0 + timedelta(hours=11, minutes=59))):  # fmt: skip
            account = Account(
                external_ref=ref, debtor_name="Rosa Quispe", country="PE", region="LIM",
                balance=Decimal("850.00"), currency="PEN", due_date=date(2026, 11, 28),
                campaign_id=campaign.id, stage_entered_at=entered, email=f"{ref.lower()}@correo.pe",
                email_consent=True, email_consent_ref="contrato-1",
            )  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=number, consent=True,
                                        consent_ref="contrato-1", phone_type="mobile",
                                        channels="call,sms,whatsapp"))  # fmt: skip
            s.add(account)
            s.flush()
            ids.append(account.id)
        return ids[0], ids[1]


def attempts(engine: Engine, account_id: int) -> list[CallAttempt]:
    with Session(engine) as s:
        return list(s.scalars(select(CallAttempt).where(CallAttempt.account_id == account_id)
                              .order_by(CallAttempt.id)))  # fmt: skip


def step(engine: Engine, account_id: int, template: str, channel: str) -> list[OutreachStep]:
    with Session(engine) as s:
        return list(s.scalars(select(OutreachStep).where(
            OutreachStep.account_id == account_id, OutreachStep.template == template,
            OutreachStep.channel == channel).order_by(OutreachStep.id)))  # fmt: skip


async def run_story(engine: Engine, aredis: Any, senders: Mapping[str, MessageSender],
                    submitted: Callable[[], Sequence[str]], mails: Callable[[], Sequence[list[str]]],
                    baja: Callable[[], Awaitable[object]]) -> None:  # fmt: skip
    """`submitted()`: what the SMSC got (one entry per PDU: a long text is several);
    `mails()`: each e-mail's recipients; `baja()`: the debtor's phone answers "BAJA"."""
    account_id, late_id = seed(engine)
    check = EngineCheck(engine, ComplianceService(engine, aredis))
    sch = Scheduler(engine, check, senders, ConsentedAddresses(), link_secret=b"L" * 32)

    # Day 0: the SMS reaches the SMSC and its receipt flows into the attempt.
    await sch.run_once(T0)
    await until(lambda: [a.result for a in attempts(engine, account_id)] == ["delivered"],
                "day-0 SMS delivered")  # fmt: skip
    assert submitted(), "the SMSC got nothing"
    [day0] = attempts(engine, account_id)
    text = str((day0.details or {}).get("text"))
    assert "pagos.example.pe/p/" in text and "850" not in text

    # 21:59 in Lima, the other account's day 0: it waits for Wednesday 07:00.
    await sch.run_once(T0 + timedelta(hours=11, minutes=59))
    [waiting] = step(engine, late_id, "recordatorio", "sms")
    assert waiting.status == "waiting" and "outside_hours" in waiting.reasons
    wednesday_0700 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert waiting.not_before == wednesday_0700
    assert not attempts(engine, late_id)
    await sch.run_once(wednesday_0700)
    assert [r.status for r in step(engine, late_id, "recordatorio", "sms")] == ["sent"]

    # A promise (past the day-0 SMS's 24 h: PE allows one SMS a day): confirmed in
    # writing at once.
    promised_at = T0 + timedelta(days=1, hours=1)  # Wednesday 11:00 Lima
    with transaction(engine) as s:
        s.add(Promise(account_id=account_id, amount=Decimal("300"), currency="PEN",
                      due_date=date(2026, 12, 3), status="open", created_at=promised_at))  # fmt: skip
    await sch.run_once(promised_at + timedelta(minutes=1))
    [confirmation] = step(engine, account_id, "confirmacion_promesa", "sms")
    assert confirmation.status == "sent", (confirmation.status, confirmation.reasons)
    await until(lambda: _result(engine, confirmation.attempt_id) == "delivered",
                "the confirmation delivered")  # fmt: skip
    assert "3 de diciembre de 2026" in _text(engine, confirmation.attempt_id)

    # The promise breaks: the cadence runs its next step (the day-3 e-mail) at once.
    with transaction(engine) as s:
        promise = s.scalars(select(Promise).where(Promise.account_id == account_id)).one()
        promise.status, promise.resolved_at = "broken", T0 + timedelta(days=3)
    await sch.run_once(T0 + timedelta(days=3, minutes=5))  # Friday 10:05 Lima
    await until(lambda: len(mails()) == 1, "the e-mail reaches the SMTP server")
    assert mails()[0] == ["pe-1@correo.pe"]
    assert [r.status for r in step(engine, account_id, "recordatorio", "email")] == ["sent"]

    # Day 5: a call step hands the account to the hopper; nothing is sent.
    day5 = T0 + timedelta(days=5)
    await sch.run_once(day5)
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None and account.next_attempt_at == day5

    # "BAJA" from the debtor's phone: the next SMS to that number is refused at once.
    await baja()
    await until(lambda: opted_out(engine, account_id) == "sms", "the opt-out is recorded")
    sent_before = len(submitted())
    sms_before = len([a for a in attempts(engine, account_id) if a.channel == "sms"])
    await sch.run_once(T0 + timedelta(days=6))  # Monday 10:00 Lima
    steps = step(engine, account_id, "recordatorio", "sms")
    assert steps[-1].status == "blocked" and "opted_out" in steps[-1].reasons
    assert len(submitted()) == sent_before
    assert len([a for a in attempts(engine, account_id) if a.channel == "sms"]) == sms_before


def _result(engine: Engine, attempt_id: int | None) -> str | None:
    with Session(engine) as s:
        row = s.get(CallAttempt, attempt_id)
        return None if row is None else row.result


def _text(engine: Engine, attempt_id: int | None) -> str:
    with Session(engine) as s:
        row = s.get(CallAttempt, attempt_id)
        return "" if row is None else str((row.details or {}).get("text"))


def opted_out(engine: Engine, account_id: int) -> str:
    with Session(engine) as s:
        phone = s.scalars(select(Phone).where(Phone.account_id == account_id)).one()
        return phone.opted_out
