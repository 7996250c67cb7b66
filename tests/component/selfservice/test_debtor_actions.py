"""The debtor's actions on real SQL: what each writes (promises, plans, callbacks,
disputes, opt-outs), the debtor-initiated ledger entry and audit it leaves, and every
bad input refused with nothing written."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from support.selfservice_seed import NOW, PortalSeed, seed_portal

from compliance.callback_window import compliance_callback_checker
from compliance.ledger import load_history
from compliance.profile import load_profiles
from dialer.hopper import Hopper, HopperEntry
from dialer.messages import COMMANDS_CHANNEL
from selfservice import debtor_actions as da
from selfservice.chat_assistant import ChatAssistant
from store.models import (
    Account,
    AccountDocument,
    AuditEntry,
    CallAttempt,
    Callback,
    ContactOptOut,
    Dispute,
    PaymentPlan,
    Promise,
    SupervisorTask,
)


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    return seed_portal(engine)


def debtor(seed: PortalSeed, **kw: Any) -> da.Debtor:
    return da.Debtor(seed.account_id, session="s-1", client="203.0.113.9", **kw)


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def ledger(engine: Engine, account_id: int) -> list[CallAttempt]:
    with Session(engine) as s:
        return list(s.scalars(select(CallAttempt).where(CallAttempt.account_id == account_id)
                              .order_by(CallAttempt.id)))  # fmt: skip


def account(engine: Engine, account_id: int) -> Account:
    with Session(engine) as s:
        row = s.get(Account, account_id)
        assert row is not None
        return row


CHECKER = compliance_callback_checker(load_profiles())


# ---- promises ----------------------------------------------------------------------


def test_given_a_verified_debtor_when_promising_then_promise_hold_ledger_and_audit(
    engine: Engine, seeded: PortalSeed
) -> None:
    result = da.make_promise(engine, debtor(seeded), "1500.00", date(2026, 11, 30), NOW)
    with Session(engine) as s:
        promise = s.get(Promise, result.ids[0])
        assert promise is not None and promise.amount == Decimal("1500.00")
        assert promise.agent_id is None and promise.status == "open"
        audit = s.scalars(select(AuditEntry).where(AuditEntry.kind == "debtor_action")).one()
    [row] = ledger(engine, seeded.account_id)
    assert (row.channel, row.direction, row.result, row.right_party_contact) == (
        "portal", "inbound", "self_service", False)  # fmt: skip
    assert row.details == {"debtor_action": "promise", "promise_id": promise.id,
                           "amount": "1500.00", "due_date": "2026-11-30"}  # fmt: skip
    assert json.loads(audit.payload)["ledger_id"] == row.id
    # Held like an agent's promise: not dialed before the day after its date has begun
    # for the debtor (Mexico City's midnight, 06:00 UTC; UTC's was 18:00 of the 30th).
    assert account(engine, seeded.account_id).next_attempt_at == result.hold_until
    assert result.hold_until == datetime(2026, 12, 1, 6, tzinfo=UTC)


def test_given_a_debtor_action_when_the_caps_read_the_ledger_then_no_attempt_no_contact(
    engine: Engine, seeded: PortalSeed
) -> None:
    da.make_promise(engine, debtor(seeded), "100", date(2026, 11, 30), NOW)
    history = load_history(engine, [seeded.account_id], NOW - timedelta(days=7))
    assert history[seeded.account_id].attempts == []
    assert history[seeded.account_id].contacts == []


@pytest.mark.parametrize(
    ("amount", "due", "field"),
    [
        ("0", date(2026, 11, 30), "promise_amount"),
        ("-5", date(2026, 11, 30), "promise_amount"),
        ("abc", date(2026, 11, 30), "promise_amount"),
        ("10.001", date(2026, 11, 30), "promise_amount"),
        ("NaN", date(2026, 11, 30), "promise_amount"),
        ("1" * 40, date(2026, 11, 30), "promise_amount"),
        ("6000.01", date(2026, 11, 30), "promise_amount"),  # more than the balance
        ("100", date(2026, 11, 23), "promise_date"),  # yesterday in Mexico City
        ("100", date(2026, 12, 10), "promise_date"),  # past the 15-day horizon
    ],
)
def test_given_a_bad_promise_when_made_then_refused_and_nothing_written(
    engine: Engine, seeded: PortalSeed, amount: str, due: date, field: str
) -> None:
    with pytest.raises(da.ActionError) as err:
        da.make_promise(engine, debtor(seeded), amount, due, NOW)
    assert err.value.field == field
    assert count(engine, Promise) == 0 and count(engine, CallAttempt) == 0


def place(engine: Engine, account_id: int, **where: str | None) -> None:
    """Move the account: country, region, timezone (None: unknown)."""
    with Session(engine) as s:
        row = s.get(Account, account_id)
        assert row is not None
        for name, value in where.items():
            setattr(row, name, value)
        s.commit()


# 06:30 UTC on Wednesday 25 November: 00:30 of the 25th in Chihuahua city, still 23:30
# of the 24th in Ciudad Juárez. Region CHH gives both zones (Chihuahua's first).
CHIHUAHUA_MIDNIGHT = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)


def test_given_zones_on_two_dates_when_the_debtor_promises_for_the_earlier_today_then_taken(
    engine: Engine, seeded: PortalSeed
) -> None:
    place(engine, seeded.account_id, region="CHH", timezone=None)
    # The Juárez debtor's today; the first zone's date alone refused it as past.
    da.make_promise(engine, debtor(seeded), "100", date(2026, 11, 24), CHIHUAHUA_MIDNIGHT)
    assert da.summary(engine, seeded.account_id, CHIHUAHUA_MIDNIGHT).today == date(2026, 11, 24)
    with pytest.raises(da.ActionError) as err:  # before every zone's today: past
        da.make_promise(engine, debtor(seeded), "100", date(2026, 11, 23), CHIHUAHUA_MIDNIGHT)
    assert err.value.field == "promise_date"


def test_given_a_mexican_account_of_no_known_zone_in_the_evening_then_today_is_still_today(
    engine: Engine, seeded: PortalSeed
) -> None:
    place(engine, seeded.account_id, region=None, timezone=None)
    evening = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 19:00 of the 24th in Mexico City
    # UTC's date (the 25th) refused the debtor's "today" from 18:00 on.
    assert da.summary(engine, seeded.account_id, evening).today == date(2026, 11, 24)
    da.make_promise(engine, debtor(seeded), "100", date(2026, 11, 24), evening)


def test_given_a_colombian_account_of_an_unusable_zone_then_the_assistant_reads_bogota(
    engine: Engine, seeded: PortalSeed
) -> None:
    place(engine, seeded.account_id, country="CO", region=None, timezone="GMT-5")
    assert da.summary(engine, seeded.account_id, NOW).zones == ("America/Bogota",)
    facts = ChatAssistant(None).facts(engine, seeded.account_id, NOW)
    # Its callback replies and dates were Mexico City's.
    assert facts is not None and facts.timezone == "America/Bogota"
    assert facts.zones == ("America/Bogota",)


def test_given_an_unknown_or_disputed_account_when_promising_then_refused(
    engine: Engine, seeded: PortalSeed
) -> None:
    with pytest.raises(da.ActionError):
        da.make_promise(engine, da.Debtor(999_999), "100", date(2026, 11, 30), NOW)
    da.open_dispute(engine, debtor(seeded), "denies", "No reconozco esta deuda", NOW)
    with pytest.raises(da.ActionError) as err:
        da.make_promise(engine, debtor(seeded), "100", date(2026, 11, 30), NOW)
    assert err.value.field == "account"


def test_given_an_unknown_channel_when_acting_then_a_programming_error(
    engine: Engine, seeded: PortalSeed
) -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        da.make_promise(
            engine, da.Debtor(seeded.account_id, via="fax"), "1", date(2026, 11, 30), NOW
        )
    with pytest.raises(ValueError, match="number it came from"):
        da.make_promise(
            engine, da.Debtor(seeded.account_id, via="sms"), "1", date(2026, 11, 30), NOW
        )
    assert count(engine, Promise) == 0


# ---- plans -------------------------------------------------------------------------


def test_given_a_plan_within_the_rules_when_chosen_then_active_with_a_promise_each(
    engine: Engine, seeded: PortalSeed
) -> None:
    result = da.choose_plan(engine, debtor(seeded), instalments=4, interval="monthly",
                            first_date=date(2026, 12, 1), now=NOW)  # fmt: skip
    assert result.status == "active"
    with Session(engine) as s:
        promises = s.scalars(select(Promise).order_by(Promise.due_date)).all()
    assert [(p.amount, p.due_date) for p in promises] == [
        (Decimal("1500.00"), date(2026, 12, 1)), (Decimal("1500.00"), date(2027, 1, 1)),
        (Decimal("1500.00"), date(2027, 2, 1)), (Decimal("1500.00"), date(2027, 3, 1))]  # fmt: skip
    assert all(p.plan_id == result.ids[0] for p in promises)


def test_given_a_plan_above_the_automatic_limit_when_chosen_then_a_supervisor_request(
    engine: Engine, seeded: PortalSeed
) -> None:
    result = da.choose_plan(engine, debtor(seeded), instalments=10, interval="monthly",
                            first_date=date(2026, 12, 1), now=NOW)  # fmt: skip
    assert result.status == "pending"
    assert count(engine, Promise) == 0
    with Session(engine) as s:
        plan = s.get(PaymentPlan, result.ids[0])
        assert plan is not None and plan.approval_reasons and plan.agent_id is None


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"instalments": 13, "interval": "monthly", "first_date": date(2026, 12, 1)},
         "plan_instalments"),
        ({"instalments": 0, "interval": "monthly", "first_date": date(2026, 12, 1)},
         "plan_instalments"),
        ({"instalments": 12, "interval": "weekly", "first_date": date(2026, 12, 1)},
         "plan_instalments"),  # 12 x 500 = 6000 fits; weekly is not allowed, both named
        ({"instalments": 3, "interval": "weekly", "first_date": date(2026, 12, 1)},
         "plan_interval"),
        ({"instalments": 3, "interval": "monthly", "first_date": date(2026, 11, 20)},
         "plan_first_date"),
        ({"instalments": 3, "interval": "monthly", "first_date": date(2027, 1, 30)},
         "plan_first_date"),
        ({"instalments": "3", "interval": "monthly", "first_date": date(2026, 12, 1)},
         "plan_instalments"),
        ({"instalments": 3, "interval": "monthly", "first_date": date(2026, 12, 1),
          "discount": Decimal("0.5")}, "plan_discount"),
    ],
)  # fmt: skip
def test_given_a_plan_outside_the_rules_when_chosen_then_refused_and_nothing_written(
    engine: Engine, seeded: PortalSeed, terms: dict[str, Any], field: str
) -> None:
    with pytest.raises(da.ActionError) as err:
        da.choose_plan(engine, debtor(seeded), now=NOW, **terms)
    if field != "plan_instalments" or terms["interval"] != "weekly":
        assert err.value.field == field
    assert count(engine, PaymentPlan) == 0 and count(engine, CallAttempt) == 0


def test_given_the_offer_when_an_option_is_chosen_then_the_same_plan(
    engine: Engine, seeded: PortalSeed
) -> None:
    offer = da.summary(engine, seeded.account_id, NOW).plan_options
    assert {o.interval for o in offer} == {"biweekly", "monthly"}
    assert max(o.instalments for o in offer) == 12  # 6000 / 500
    assert {o.id for o in offer if o.needs_supervisor} == {"biweekly-12", "monthly-12"}
    result = da.choose_plan_option(engine, debtor(seeded), "monthly-3", NOW)
    assert result.status == "active"
    for bad in ("monthly-x", "monthly-13", "daily-3", "", "monthly-" + "9" * 500):
        with pytest.raises(da.ActionError):
            da.choose_plan_option(engine, debtor(seeded), bad, NOW)


# ---- callbacks ---------------------------------------------------------------------


def test_given_a_time_inside_the_window_when_a_callback_is_asked_then_it_is_queued_for_anyone(
    engine: Engine, seeded: PortalSeed
) -> None:
    when = datetime.fromisoformat("2026-11-24T14:00:00-06:00")
    result = da.request_callback(engine, debtor(seeded), when, NOW, CHECKER)
    with Session(engine) as s:
        row = s.get(Callback, result.ids[0])
        assert row is not None and row.status == "pending" and row.agent_id is None
        assert row.due_at == when and row.campaign_id == seeded.campaign_id
    assert account(engine, seeded.account_id).next_attempt_at == when


@pytest.mark.parametrize(
    "when",
    [
        datetime.fromisoformat("2026-11-25T03:00:00-06:00"),  # night in Mexico City
        datetime.fromisoformat("2026-11-24T10:00:00-06:00"),  # an hour ago
        datetime.fromisoformat("2026-11-24T11:05:00-06:00"),  # too soon
        datetime.fromisoformat("2026-12-15T12:00:00-06:00"),  # more than 14 days ahead
        datetime(2026, 11, 24, 20, 0),  # no zone
    ],
)
def test_given_a_time_outside_the_window_when_a_callback_is_asked_then_refused(
    engine: Engine, seeded: PortalSeed, when: datetime
) -> None:
    with pytest.raises(da.ActionError) as err:
        da.request_callback(engine, debtor(seeded), when, NOW, CHECKER)
    assert err.value.field == "callback_at"
    assert count(engine, Callback) == 0 and count(engine, CallAttempt) == 0


def test_given_a_number_not_the_accounts_when_a_callback_is_asked_then_refused(
    engine: Engine, seeded: PortalSeed
) -> None:
    when = datetime.fromisoformat("2026-11-24T14:00:00-06:00")
    with pytest.raises(da.ActionError) as err:
        da.request_callback(engine, debtor(seeded), when, NOW, CHECKER, phone_e164="+525512340002")
    assert err.value.field == "callback_phone"


def test_given_the_window_when_slots_are_offered_then_inside_it_and_one_can_be_taken(
    engine: Engine, seeded: PortalSeed
) -> None:
    slots = da.callback_slots(engine, seeded.account_id, NOW, CHECKER)
    assert slots and all(s >= NOW + da.CALLBACK_LEAD for s in slots)
    assert all(7 <= s.astimezone(ZoneInfo("America/Mexico_City")).hour < 22 for s in slots)
    da.request_callback(engine, debtor(seeded), slots[0], NOW, CHECKER)


# ---- disputes ----------------------------------------------------------------------


async def test_given_a_dispute_when_opened_then_disputed_task_stop_and_the_hopper_drops_it(
    engine: Engine, seeded: PortalSeed, aredis: aioredis.Redis
) -> None:
    hopper = Hopper(aredis, seeded.campaign)
    await hopper.add([HopperEntry(seeded.account_id, 0, 0.0, {"phone_id": 1})], NOW.timestamp())
    assert await hopper.contains([seeded.account_id]) == {seeded.account_id}
    pubsub = aredis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(COMMANDS_CHANNEL)
    result = da.open_dispute(engine, debtor(seeded), "paid", "Ya pagué en octubre", NOW)
    assert result.stop_dialing
    await da.notify_dialer(aredis, result)
    assert await hopper.contains([seeded.account_id]) == set()
    message = None
    for _ in range(50):
        message = await pubsub.get_message(timeout=0.1)
        if message:
            break
    await pubsub.aclose()
    assert message is not None
    assert json.loads(message["data"])["account_id"] == seeded.account_id
    assert account(engine, seeded.account_id).status == "disputed"
    with Session(engine) as s:
        dispute = s.scalars(select(Dispute)).one()
        task = s.scalars(select(SupervisorTask)).one()
        change = s.scalars(select(AuditEntry).where(AuditEntry.kind == "account_change")).one()
    assert (dispute.kind, dispute.text, dispute.source) == ("paid", "Ya pagué en octubre", "portal")
    assert (task.kind, task.ref_id, task.status) == ("dispute", dispute.id, "open")
    assert json.loads(change.payload)["status"] == "disputed"
    # A second request adds the dispute, not a second task.
    da.open_dispute(engine, debtor(seeded), "proof", "", NOW)
    assert count(engine, Dispute) == 2 and count(engine, SupervisorTask) == 1
    assert [t["ref"] for t in da.open_tasks(engine, None)] == [seeded.ref]
    assert da.open_tasks(engine, set()) == []


@pytest.mark.parametrize(("kind", "text"), [("other", "x"), ("", "x"), ("denies", "x" * 2001),
                                            ("denies", None)])  # fmt: skip
def test_given_a_bad_dispute_when_opened_then_refused_and_nothing_written(
    engine: Engine, seeded: PortalSeed, kind: str, text: Any
) -> None:
    with pytest.raises(da.ActionError):
        da.open_dispute(engine, debtor(seeded), kind, text, NOW)
    assert count(engine, Dispute) == 0 and account(engine, seeded.account_id).status == "active"


def test_given_documents_when_read_then_only_the_accounts_own(
    engine: Engine, seeded: PortalSeed
) -> None:
    doc = da.attach_document(engine, seeded.ref, "Contrato", "contrato.pdf", "application/pdf",
                             b"%PDF-1.4 test", "operator", NOW)  # fmt: skip
    other = da.attach_document(engine, "MX-P002", "Otro", "../../etc/passwd", "text/plain",
                               b"x", "operator", NOW)  # fmt: skip
    assert not da.documents_open(engine, seeded.account_id)
    da.open_dispute(engine, debtor(seeded), "proof", "", NOW)
    assert da.documents_open(engine, seeded.account_id)
    assert [d.title for d in da.documents(engine, seeded.account_id)] == ["Contrato"]
    info, data = da.document(engine, seeded.account_id, doc)
    assert (info.filename, data) == ("contrato.pdf", b"%PDF-1.4 test")
    with pytest.raises(LookupError):
        da.document(engine, seeded.account_id, other)
    with Session(engine) as s:
        assert "/" not in s.get(AccountDocument, other).filename  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ref", "ctype", "data"),
    [("MX-P001", "text/html", b"<script>"), ("MX-P001", "application/pdf", b""),
     ("MX-P001", "application/pdf", b"x" * (da.MAX_DOCUMENT_BYTES + 1)),
     ("NOPE", "application/pdf", b"x"),
     ("MX-P001", "application/pdf", b"<html><script>alert(1)</script>"),
     ("MX-P001", "image/png", b"%PDF-1.4"), ("MX-P001", "image/jpeg", b"GIF89a"),
     ("MX-P001", "text/plain", b"\xff\xfe t\x00e\x00x\x00t"), ("MX-P001", "text/plain", b"a\x00b")],
)  # fmt: skip
def test_given_a_bad_document_when_attached_then_refused(
    engine: Engine, seeded: PortalSeed, ref: str, ctype: str, data: bytes
) -> None:
    with pytest.raises(ValueError):
        da.attach_document(engine, ref, "t", "f", ctype, data, "operator", NOW)
    assert count(engine, AccountDocument) == 0


# ---- opt-outs ----------------------------------------------------------------------


def test_given_an_sms_opt_out_when_asked_then_the_account_stops_sms_with_evidence(
    engine: Engine, seeded: PortalSeed
) -> None:
    result = da.opt_out(engine, debtor(seeded), "sms", NOW, "ya no quiero mensajes")
    assert not result.stop_dialing
    assert account(engine, seeded.account_id).opted_out == "sms"
    with Session(engine) as s:
        row = s.scalars(select(ContactOptOut)).one()
    assert (row.channel, row.address, row.source, row.actor) == (
        "sms", None, "portal", "debtor:portal")  # fmt: skip
    assert row.evidence["ledger_id"] == result.ledger_id
    assert row.evidence["text"] == "ya no quiero mensajes"


def test_given_an_opt_out_of_everything_when_asked_then_every_channel_and_dialing_stops(
    engine: Engine, seeded: PortalSeed
) -> None:
    result = da.opt_out(engine, debtor(seeded), None, NOW)
    assert result.stop_dialing
    assert account(engine, seeded.account_id).opted_out == "call,sms,whatsapp,email,visit,letter"


@pytest.mark.parametrize("channel", ["fax", "chat", "SMS ; DROP", "x" * 100])
def test_given_an_unknown_channel_when_opting_out_then_refused(
    engine: Engine, seeded: PortalSeed, channel: str
) -> None:
    with pytest.raises(da.ActionError):
        da.opt_out(engine, debtor(seeded), channel, NOW)
    assert count(engine, ContactOptOut) == 0


def test_given_a_reply_channel_when_opting_out_then_the_source_is_the_reply(
    engine: Engine, seeded: PortalSeed
) -> None:
    who = da.Debtor(seeded.account_id, via="whatsapp", address="+525512340001")
    da.opt_out(engine, who, "whatsapp", NOW, "no me escriban")
    with Session(engine) as s:
        row = s.scalars(select(ContactOptOut)).one()
        [entry] = s.scalars(select(CallAttempt)).all()
    assert row.source == "reply" and entry.channel == "whatsapp"
    assert entry.phone_e164 == "+525512340001"
