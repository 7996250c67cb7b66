"""The outreach scheduler on real SQL: what it sends, when, once, and the evidence it
leaves (a decision and an audit entry for every message sent or not sent)."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.engine import Decision
from dialer.channels import PlaceUncertain
from outreach.checks import CheckRequest, ConsentedAddresses, EngineCheck, Verdict
from outreach.outgoing import OutgoingMessage, SendRefused
from outreach.scheduler import SEND_TIMEOUT, Scheduler
from store.db import transaction
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Campaign,
    OutreachStep,
    Phone,
    Promise,
)
from store.models import Decision as DecisionRow

RULES = """
[messages]
sender = "Despacho Ejemplo"
sms_sender = "DESPACHO"
phone = "+52 55 5000 1000"
portal_url = "https://pagos.example.mx/p"
creditor = "Banco Secreto"

[strategy.stages.friendly]
steps = [
  { day = 0, channel = "sms", template = "recordatorio" },
  { day = 3, channel = "email", template = "recordatorio" },
  { day = 5, channel = "call" },
  { event = "promise_made", channel = "sms", template = "confirmacion_promesa" },
]

[strategy.stages.firm]
enter_days_past_due = 30
steps = [{ day = 0, channel = "whatsapp", template = "aviso_firme" }]
"""
SECRET = b"k" * 32
T0 = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Mexico City


class AllowAll:
    """A final check that allows every message (or refuses with `refuse` reasons)."""

    def __init__(self, refuse: Sequence[str] = (), refuse_count: Sequence[str] = ()) -> None:
        self.refuse = tuple(refuse)
        self.refuse_count = tuple(refuse_count)
        self.asked: list[CheckRequest] = []
        self.counted: list[str] = []

    async def count(
        self, request: CheckRequest, attempt_ref: str, now: datetime
    ) -> tuple[str, ...]:
        self.counted.append(attempt_ref)
        refused, self.refuse_count = self.refuse_count, ()
        return refused

    async def check(self, requests: Sequence[CheckRequest], now: datetime) -> list[Verdict]:
        self.asked.extend(requests)
        return [Verdict(Decision(not self.refuse, self.refuse, "TEST@1", {}, "local", "Zone", now))
                for _ in requests]  # fmt: skip


class Outbox:
    def __init__(self, kind: str, fail: Exception | None = None) -> None:
        self.kind = kind
        self.sent: list[OutgoingMessage] = []
        self.fail = fail

    async def send(self, message: OutgoingMessage) -> str | None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)
        return f"{self.kind}-{len(self.sent)}"


def seed(engine: Engine, *, country: str = "MX", region: str | None = "CMX",
         phone: str = "+525512345678", email: str | None = "juana@example.mx",
         due: date = date(2026, 11, 25), stage: str = "friendly",
         status: str = "running") -> tuple[int, int]:  # fmt: skip
    with transaction(engine) as s:
        campaign = Campaign(name=f"c-{country}", country=country, profile=country,
                            status=status, config=tomllib.loads(RULES))  # fmt: skip
        s.add(campaign)
        s.flush()
        account = Account(
            external_ref=f"A-{country}", debtor_name="JUANA PÉREZ", country=country, region=region,
            balance=Decimal("98765.43"), currency="MXN", due_date=due, campaign_id=campaign.id,
            stage=stage, stage_entered_at=T0, email=email, email_consent=email is not None,
            email_consent_ref="form-email-1" if email else None,
        )  # fmt: skip
        account.phones.append(Phone(position=1, number_e164=phone, consent=True,
                                    consent_ref="form-1", phone_type="mobile",
                                    channels="call,sms,whatsapp"))  # fmt: skip
        s.add(account)
        s.flush()
        return campaign.id, account.id


def scheduler(engine: Engine, check: Any = None, **senders: Outbox) -> Scheduler:
    boxes = {"sms": Outbox("sms"), "email": Outbox("email"), "whatsapp": Outbox("whatsapp")}
    boxes.update(senders)
    return Scheduler(engine, check or AllowAll(), boxes, ConsentedAddresses(),
                     link_secret=SECRET, clock=lambda: T0)  # fmt: skip


def steps(engine: Engine) -> list[OutreachStep]:
    with Session(engine) as s:
        return list(s.scalars(select(OutreachStep).order_by(OutreachStep.id)))


def sent(sch: Scheduler, kind: str) -> list[OutgoingMessage]:
    return sch.senders[kind].sent  # type: ignore[attr-defined, no-any-return]


async def test_given_a_strategy_when_days_pass_then_day0_sms_day3_email_day5_call_each_once(
    engine: Engine,
) -> None:
    _, account_id = seed(engine)
    sch = scheduler(engine)
    first = await sch.run_once(T0)
    assert first.submitted == 1
    [sms] = sent(sch, "sms")
    assert sms.attempt.address == "+525512345678" and sms.template == "recordatorio"
    assert "https://pagos.example.mx/p/" in sms.text and "Juana" in sms.text
    # Idempotent: the same instant again, and a restart, send nothing more.
    await sch.run_once(T0)
    await scheduler(engine).run_once(T0 + timedelta(hours=1))
    assert len(sent(sch, "sms")) == 1
    day3 = scheduler(engine)
    await day3.run_once(T0 + timedelta(days=3))
    [mail] = sent(day3, "email")
    assert mail.attempt.address == "juana@example.mx" and mail.subject and mail.html
    day5 = scheduler(engine)
    report = await day5.run_once(T0 + timedelta(days=5))
    assert report.handed_to_dialer == 1 and not sent(day5, "sms") and not sent(day5, "email")
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None and account.next_attempt_at == T0 + timedelta(days=5)
        attempts = s.scalars(select(CallAttempt).order_by(CallAttempt.id)).all()
        decisions = s.scalars(select(DecisionRow).order_by(DecisionRow.id)).all()
    # An attempt row per message (the call is the dialer's to place), each with its decision.
    assert [(a.channel, a.source, a.result) for a in attempts] == [
        ("sms", "outreach", None), ("email", "outreach", None)]  # fmt: skip
    assert [(a.phone_e164, a.address) for a in attempts] == [
        ("+525512345678", None), (None, "juana@example.mx")]  # fmt: skip
    assert [a.decision_id for a in attempts] == [d.id for d in decisions]
    assert attempts[0].details is not None and attempts[0].details["template"] == "recordatorio"
    assert [(st.channel, st.status) for st in steps(engine)] == [
        ("sms", "sent"), ("email", "sent"), ("call", "handed_to_dialer")]  # fmt: skip


async def test_given_messages_when_rendered_then_no_amount_and_no_creditor_unless_the_campaign_says(
    engine: Engine,
) -> None:
    seed(engine)
    sch = scheduler(engine)
    await sch.run_once(T0)
    [sms] = sent(sch, "sms")
    assert "98" not in sms.text.replace("+52 55 5000 1000", "") and "Banco Secreto" not in sms.text
    assert "monto" not in sms.params and "acreedor" not in sms.params


async def test_given_a_promise_when_made_then_a_written_confirmation_is_sent(
    engine: Engine,
) -> None:
    _, account_id = seed(engine)
    sch = scheduler(engine)
    await sch.run_once(T0)
    with transaction(engine) as s:
        s.add(Promise(account_id=account_id, amount=Decimal("777.77"), currency="MXN",
                      due_date=date(2026, 12, 10), status="open",
                      created_at=T0 + timedelta(hours=2)))  # fmt: skip
    await sch.run_once(T0 + timedelta(hours=2, minutes=1))
    confirmations = [m for m in sent(sch, "sms") if m.template == "confirmacion_promesa"]
    assert len(confirmations) == 1
    assert "10 de diciembre de 2026" in confirmations[0].text
    assert "777" not in confirmations[0].text
    # The open promise holds the cadence: no day-3 e-mail.
    await sch.run_once(T0 + timedelta(days=3, minutes=1))
    assert not sent(sch, "email")


async def test_given_a_refusal_for_good_when_run_then_not_sent_with_decision_and_audit_and_never_retried(
    engine: Engine,
) -> None:
    seed(engine)
    check = AllowAll(refuse=("cease_contact",))
    sch = scheduler(engine, check)
    report = await sch.run_once(T0)
    assert report.submitted == 0 and report.outcomes == {"blocked": 1}
    [row] = steps(engine)
    assert row.status == "blocked" and row.reasons == ["cease_contact"]
    with Session(engine) as s:
        [decision] = s.scalars(select(DecisionRow)).all()
        entries = s.scalars(select(AuditEntry).where(AuditEntry.kind == "decision")).all()
    assert not decision.allowed and decision.stage == "send"
    assert [json.loads(e.payload)["decision_id"] for e in entries] == [decision.id]
    await sch.run_once(T0 + timedelta(hours=1))
    assert len(check.asked) == 1


async def test_given_no_authorised_address_when_due_then_not_sent_and_the_decision_says_no_consent(
    engine: Engine,
) -> None:
    seed(engine, email=None)
    sch = scheduler(engine)
    await sch.run_once(T0 + timedelta(days=3))  # the e-mail step, and no address
    [row] = [r for r in steps(engine) if r.channel == "email"]
    assert row.status == "blocked" and row.reasons == ["no_consent"]


@pytest.mark.parametrize(
    ("fail", "status"),
    [(SendRefused("rejected"), "failed"), (PlaceUncertain("timeout"), "uncertain")],
)
async def test_given_a_send_that_fails_when_run_then_the_step_is_never_sent_again(
    engine: Engine, fail: Exception, status: str
) -> None:
    seed(engine)
    sch = scheduler(engine, sms=Outbox("sms", fail=fail))
    await sch.run_once(T0)
    [row] = steps(engine)
    assert row.status == status
    ok = scheduler(engine)
    await ok.run_once(T0 + timedelta(hours=1))
    assert not sent(ok, "sms")


async def test_given_a_crash_after_the_commit_when_restarted_then_the_step_is_uncertain_not_resent(
    engine: Engine,
) -> None:
    seed(engine)

    in_the_air = asyncio.Event()

    class Hangs(Outbox):
        async def send(self, message: OutgoingMessage) -> str | None:
            in_the_air.set()
            await asyncio.Event().wait()
            return None

    crashing = scheduler(engine, sms=Hangs("sms"))
    task = asyncio.create_task(crashing.run_once(T0))
    await asyncio.wait_for(in_the_air.wait(), 30)
    task.cancel()  # the process dies with the send in the air
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [r.status for r in steps(engine)] == ["sending"]
    restarted = scheduler(engine)
    await restarted.run_once(T0 + SEND_TIMEOUT + timedelta(seconds=1))
    assert [r.status for r in steps(engine)] == ["uncertain"]
    assert not sent(restarted, "sms")
    with Session(engine) as s:
        [attempt] = s.scalars(select(CallAttempt)).all()
    assert attempt.result == "lost"  # still an attempt for the caps


async def test_given_a_debt_past_the_firm_threshold_when_run_then_the_stage_moves_with_evidence(
    engine: Engine,
) -> None:
    _, account_id = seed(engine, due=date(2026, 10, 1))
    sch = scheduler(engine)
    report = await sch.run_once(T0)
    assert report.stage_changes == 1
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None and account.stage == "firm" and account.stage_entered_at == T0
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.kind == "stage_change")).all()
    assert json.loads(entry.payload)["to"] == "firm"
    assert [m.template for m in sent(sch, "whatsapp")] == ["aviso_firme"]


async def test_given_a_mexico_city_debt_at_19_30_local_when_run_then_the_stage_waits_for_its_day(
    engine: Engine,
) -> None:
    # Due 1 Nov: 1 Dec is day 30 (firm). 01:30 UTC of 1 Dec is 19:30 of 30 Nov in
    # Mexico City (region CMX): day 29 there, no move until 06:00 UTC.
    _, account_id = seed(engine, due=date(2026, 11, 1))
    evening = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    report = await scheduler(engine).run_once(evening)
    assert report.stage_changes == 0
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None and account.stage == "friendly"
        assert account.next_step_at == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    report = await scheduler(engine).run_once(datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
    assert report.stage_changes == 1


async def test_given_a_legal_account_when_run_then_nothing_is_sent_ever(engine: Engine) -> None:
    seed(engine, stage="legal", due=date(2020, 1, 1))
    sch = scheduler(engine)
    for day in range(8):
        await sch.run_once(T0 + timedelta(days=day))
    assert not steps(engine) and not sent(sch, "sms")


async def test_given_a_stopped_campaign_when_run_then_nothing_is_sent(engine: Engine) -> None:
    seed(engine, status="stopped")
    sch = scheduler(engine)
    await sch.run_once(T0)
    assert not steps(engine)


async def test_given_a_message_due_at_2159_in_lima_when_run_then_it_waits_for_the_next_window(
    engine: Engine, aredis: Any
) -> None:
    from compliance.service import ComplianceService

    _, account_id = seed(engine, country="PE", region="LIM", phone="+51987654321")
    check = EngineCheck(engine, ComplianceService(engine, aredis))
    sch = scheduler(engine, check)
    thursday_2159_lima = datetime(2026, 12, 4, 2, 59, tzinfo=UTC)  # Thu 3 Dec 21:59 in Lima
    report = await sch.run_once(thursday_2159_lima)
    assert report.submitted == 0 and report.outcomes == {"waiting": 1}
    [row] = steps(engine)
    friday_0700_lima = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert row.status == "waiting" and row.not_before == friday_0700_lima
    assert "outside_hours" in row.reasons
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None and account.next_step_at == friday_0700_lima
    # Nothing is tried before the window, then it leaves as the window opens.
    await sch.run_once(friday_0700_lima - timedelta(minutes=5))
    assert not sent(sch, "sms")
    await sch.run_once(friday_0700_lima)
    assert [m.attempt.address for m in sent(sch, "sms")] == ["+51987654321"]
    assert [r.status for r in steps(engine)] == ["sent"]
    with Session(engine) as s:
        decisions = s.scalars(select(DecisionRow).order_by(DecisionRow.id)).all()
    assert [(d.allowed, "outside_hours" in d.reasons) for d in decisions] == [
        (False, True),
        (True, False),
    ]


async def test_given_a_channel_this_process_lacks_when_due_then_nothing_is_decided_and_it_stays_due(
    engine: Engine,
) -> None:
    seed(engine)
    sch = Scheduler(engine, AllowAll(), {"email": Outbox("email")}, ConsentedAddresses(),
                    link_secret=SECRET)  # fmt: skip
    await sch.run_once(T0)
    assert not steps(engine)
    later = scheduler(engine)
    await later.run_once(T0 + timedelta(minutes=20))
    assert len(sent(later, "sms")) == 1


def test_given_the_cli_when_a_rules_file_is_checked_then_problems_are_named(
    tmp_path: Any, capsys: Any
) -> None:
    from cobrador.cli import main

    good = tmp_path / "good.toml"
    good.write_text(RULES, encoding="utf-8")
    assert main(["outreach", "check", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(RULES.replace('portal_url = "https://pagos.example.mx/p"', "")
                   .replace('sms_sender = "DESPACHO"', "")
                   .replace("aviso_firme", "no_such"), encoding="utf-8")  # fmt: skip
    assert main(["outreach", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "no template 'no_such' for stage firm" in err and "portal_url is required" in err
    # SMS steps with a sender no phone can show (16 characters) and no sms_sender
    assert "messages.sms_sender is required" in err
    legal = tmp_path / "legal.toml"
    legal.write_text("[strategy.stages.legal]\nsteps = []\n", encoding="utf-8")
    assert main(["outreach", "check", str(legal)]) == 2
    assert "never contacted" in capsys.readouterr().err


async def test_given_messages_that_failed_when_figures_are_read_then_the_failure_ratio_gauge_follows(
    engine: Engine,
) -> None:
    from sqlalchemy import update

    from metrics.definitions import REGISTRY

    seed(engine)
    sch = scheduler(engine)
    await sch.run_once(T0)
    with transaction(engine) as s:
        s.execute(update(CallAttempt).values(result="failed"))  # the SMSC's receipt: UNDELIV
    await sch.run_once(T0 + timedelta(minutes=1))
    labels = {"campaign": "c-MX", "channel": "sms"}
    assert REGISTRY.get_sample_value("cobrador_outreach_delivery_failure_ratio", labels) == 1.0
    assert (
        REGISTRY.get_sample_value(
            "cobrador_outreach_results_messages", {**labels, "result": "failed"}
        )
        == 1.0
    )


async def test_given_a_bounded_pass_when_run_then_the_rest_stay_due_for_the_next(
    engine: Engine,
) -> None:
    for country in ("MX", "CO"):
        seed(engine, country=country, region=None, phone="+525512345678"
             if country == "MX" else "+573001234567")  # fmt: skip
    sch = Scheduler(engine, AllowAll(), {"sms": Outbox("sms"), "email": Outbox("email")},
                    ConsentedAddresses(), link_secret=SECRET, batch_size=1)  # fmt: skip
    first = await sch.run_once(T0, max_accounts=1)
    assert first.accounts == 1
    second = await sch.run_once(T0, max_accounts=1)
    assert second.accounts == 1 and len(sent(sch, "sms")) == 2


def test_given_campaign_create_when_its_rules_carry_a_bad_strategy_then_refused(
    tmp_path: Any, capsys: Any, monkeypatch: Any, database_url: str
) -> None:
    from cobrador.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path))
    legal = tmp_path / "legal.toml"
    legal.write_text("[strategy.stages.legal]\nsteps = []\n", encoding="utf-8")
    assert main(["campaign", "create", "x", "--country", "MX", "--rules", str(legal)]) == 2
    assert "never contacted" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text(RULES, encoding="utf-8")
    assert main(["campaign", "create", "y", "--country", "MX", "--rules", str(good)]) == 0


async def test_given_a_cap_reached_by_another_sender_when_counting_at_send_then_not_sent_and_waits(
    engine: Engine,
) -> None:
    seed(engine)
    check = AllowAll(refuse_count=("attempt_cap_day",))
    sch = scheduler(engine, check)
    report = await sch.run_once(T0)
    assert report.submitted == 0 and not sent(sch, "sms")
    [row] = steps(engine)
    assert row.status == "waiting" and row.reasons == ["attempt_cap_day"]
    assert row.not_before == T0 + timedelta(hours=1) and row.attempt_id is None
    with Session(engine) as s:
        [attempt] = s.scalars(select(CallAttempt)).all()
        refusal = s.scalars(select(DecisionRow).where(DecisionRow.allowed.is_(False))).one()
    assert attempt.result == "blocked" and refusal.reasons == ["attempt_cap_day"]
    assert check.counted == [f"a:{attempt.id}"]
    # An hour on, counted and sent.
    await sch.run_once(T0 + timedelta(hours=1))
    assert len(sent(sch, "sms")) == 1
    assert [r.status for r in steps(engine)] == ["sent"]


async def test_given_a_message_checked_longer_ago_than_its_reach_when_its_turn_comes_then_not_sent(
    engine: Engine,
) -> None:
    # The sending slots were busy: by the time this message's turn came, the hours were
    # no longer shown to allow it (the check covers MESSAGE_REACH from its instant).
    from outreach.outgoing import MESSAGE_REACH

    seed(engine)
    boxes = {"sms": Outbox("sms"), "email": Outbox("email"), "whatsapp": Outbox("whatsapp")}
    readings = iter([T0])  # the check reads the clock once; every send after finds it late

    def slow_clock() -> datetime:
        return next(readings, T0 + MESSAGE_REACH)

    sch = Scheduler(engine, AllowAll(), boxes, ConsentedAddresses(), link_secret=SECRET,
                    clock=slow_clock)  # fmt: skip
    report = await sch.run_once(T0)
    assert sent(sch, "sms") == [] and report.submitted == 0
    [row] = steps(engine)
    assert row.status == "waiting" and row.reasons == ["outside_hours"]


async def test_given_a_message_due_minutes_before_the_window_closes_when_run_then_it_waits(
    engine: Engine, aredis: Any
) -> None:
    # 19:50 in Lima: inside Monday-Friday 07:00-20:00, but the message may reach the
    # debtor up to 15 minutes later, after 20:00.
    from compliance.service import ComplianceService

    seed(engine, country="PE", region="LIM", phone="+51987654321")
    sch = scheduler(engine, EngineCheck(engine, ComplianceService(engine, aredis)))
    thursday_1950_lima = datetime(2026, 12, 4, 0, 50, tzinfo=UTC)  # Thu 3 Dec 19:50 in Lima
    report = await sch.run_once(thursday_1950_lima)
    assert report.submitted == 0 and not sent(sch, "sms")
    [row] = steps(engine)
    assert row.status == "waiting" and "outside_hours" in row.reasons
    assert row.not_before == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # Friday 07:00


async def test_given_a_stop_between_the_batch_check_and_the_send_then_the_message_does_not_leave(
    engine: Engine, aredis: Any
) -> None:
    # The debtor asks to stop (cease contact) after the batch's decision, while the
    # message waits for its sending slot: the facts read at sending bind it.
    from compliance.service import ComplianceService

    _, account_id = seed(engine, country="PE", region="LIM", phone="+51987654321")

    class StopAfterCheck(EngineCheck):
        async def check(self, requests: Sequence[CheckRequest], now: datetime) -> list[Verdict]:
            verdicts = await super().check(requests, now)
            assert all(v.decision.allowed for v in verdicts)
            with transaction(engine) as s:
                account = s.get(Account, account_id)
                assert account is not None
                account.status = "cease_contact"
            return verdicts

    sch = scheduler(engine, StopAfterCheck(engine, ComplianceService(engine, aredis)))
    report = await sch.run_once(T0)  # Tuesday 12:00 in Lima
    assert not sent(sch, "sms") and report.submitted == 0
    [row] = steps(engine)
    assert row.status == "waiting" and "cease_contact" in row.reasons
