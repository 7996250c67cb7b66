"""The SMS channel over SMPP against our SMSC and real SQL: the attempt row follows
the message (sent, delivered, failed, replied), "BAJA" reaches the opt-out, and
reports about no message of ours are refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from support.messaging import Note, attempt_row, message_attempt
from support.polling import until

from dialer.channels import Outcome, OutcomeKind, WithdrawFailed
from gateways.smpp.client import SmppSettings
from gateways.smpp.codec import Status
from gateways.smpp.smsc import SmscSimulator
from metrics.definitions import MESSAGE_REPORTS_REFUSED, MESSAGES, REGISTRY
from outreach.channels import MessageNotSent, MessageRefused, MessageStatus, Reply, StatusReport
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import MessageChannel
from outreach.channels.sms import SmppTransport, sms_channel
from outreach.outgoing import MessageSender, SendRefused
from store.db import transaction
from store.models import AuditEntry, ContactChannel

PHONE = "+525512345678"
FAILING = "+525500000000"


def count(channel: str, result: str) -> float:
    return (
        REGISTRY.get_sample_value("cobrador_messages_total", {"channel": channel, "result": result})
        or 0.0
    )


@dataclass
class OptOuts:
    replies: list[Reply] = field(default_factory=list)
    fail_next: int = 0

    async def __call__(self, reply: Reply) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("opt-out store down")
        self.replies.append(reply)


@dataclass
class Rig:
    smsc: SmscSimulator
    channel: MessageChannel
    opt_outs: OptOuts
    outcomes: list[Outcome]


@pytest.fixture
async def rig(engine: Engine) -> AsyncIterator[Rig]:
    smsc = SmscSimulator({"cobrador": "secret"},
                         fate=lambda dest: ("UNDELIV", "011") if dest.endswith("0000") else ("DELIVRD", "000"))  # fmt: skip
    await smsc.start()
    opt_outs = OptOuts()
    outcomes: list[Outcome] = []
    channel = sms_channel(SmppSettings("127.0.0.1", smsc.port, "cobrador", "secret"),
                          DeliveryBook(engine), opt_out=opt_outs, on_outcome=outcomes.append)  # fmt: skip
    transport = channel.transport
    assert isinstance(transport, SmppTransport)
    transport.start()
    await transport.client.wait_bound(10)
    yield Rig(smsc, channel, opt_outs, outcomes)
    await transport.close()
    await smsc.stop()


async def test_given_an_sms_when_sent_and_delivered_then_the_attempt_says_delivered(
    rig: Rig, engine: Engine
) -> None:
    sent_before, delivered_before = count("sms", "sent"), count("sms", "delivered")
    attempt = message_attempt(engine, ContactChannel.sms, PHONE, sender="COBRANZA")
    provider_id = await rig.channel.send(Note(attempt, "Tiene un aviso pendiente."))
    assert provider_id == rig.smsc.submitted[0].message_id
    submitted = rig.smsc.submitted[0].message
    assert (submitted.source, submitted.destination, submitted.text) == (
        "COBRANZA",
        "525512345678",
        "Tiene un aviso pendiente.",
    )
    # The SMSC gives up after the message's reach (15 min): a handset that is off at
    # 21:50 never gets the reminder at 06:00 when it comes back on.
    assert submitted.validity_period == "000000001500000R"
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "delivered", "delivered")
    row = attempt_row(engine, attempt.attempt_id)
    assert row.uniqueid == provider_id and row.ended_at is not None and row.channel == "sms"
    assert [h["status"] for h in row.details["history"]] == ["sent", "delivered"]
    assert [(o.kind, o.detail) for o in rig.outcomes] == [
        (OutcomeKind.ringing, "sent"),
        (OutcomeKind.ringing, "delivered"),
    ]
    assert count("sms", "sent") == sent_before + 1
    assert count("sms", "delivered") == delivered_before + 1
    with transaction(engine) as s:
        statuses = [
            json.loads(e.payload)["status"]
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.kind == "message").order_by(AuditEntry.id)
            )
        ]
    assert statuses == ["sent", "delivered"]


async def test_given_an_undeliverable_number_when_the_receipt_comes_then_failed_with_the_error(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.sms, FAILING)
    await rig.channel.send(Note(attempt, "Aviso"))
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "failed", "failed")
    assert attempt_row(engine, attempt.attempt_id).details["error"] == "UNDELIV err:011"
    assert rig.outcomes[-1] == Outcome(attempt.attempt_id, OutcomeKind.ended,
                                       detail="failed: UNDELIV err:011")  # fmt: skip


async def test_given_a_baja_reply_when_it_comes_then_opt_out_gets_it_and_the_attempt_is_replied(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.sms, PHONE)
    await rig.channel.send(Note(attempt, "Aviso"))
    assert await rig.smsc.reply("525512345678", "COBRADOR", "Gracias") == Status.ok
    assert rig.opt_outs.replies == []
    assert await rig.smsc.reply("525512345678", "COBRADOR", " baja. ") == Status.ok
    [reply] = rig.opt_outs.replies
    assert (reply.channel, reply.address, reply.text) == (ContactChannel.sms, PHONE, " baja. ")
    assert (reply.attempt_id, reply.account_id) == (attempt.attempt_id, attempt.account_id)
    assert attempt_row(engine, attempt.attempt_id).result == "replied"


async def test_given_the_opt_out_fails_when_baja_comes_then_the_smsc_delivers_it_again(
    rig: Rig, engine: Engine
) -> None:
    message_attempt(engine, ContactChannel.sms, PHONE)
    rig.opt_outs.fail_next = 2
    assert await rig.smsc.reply("525512345678", "COBRADOR", "STOP") == Status.ok
    assert [r.text for r in rig.opt_outs.replies] == ["STOP"]


async def test_given_a_reply_from_a_number_we_never_wrote_then_no_attempt_but_opt_out_still_called(
    rig: Rig,
) -> None:
    assert await rig.smsc.reply("573001234567", "COBRADOR", "BAJA") == Status.ok
    [reply] = rig.opt_outs.replies
    assert reply.attempt_id is None and reply.address == "+573001234567"


async def test_given_a_report_about_an_unknown_message_id_then_refused_and_counted(
    rig: Rig,
) -> None:
    before = REGISTRY.get_sample_value("cobrador_message_reports_refused_total",
                                       {"channel": "sms", "reason": "unknown_message"}) or 0.0  # fmt: skip
    report = StatusReport(ContactChannel.sms, "999999", MessageStatus.delivered, datetime.now(UTC))
    assert await rig.channel.on_report(report) is False
    assert rig.channel.outcomes(report) == []
    after = MESSAGE_REPORTS_REFUSED.labels("sms", "unknown_message")._value.get()
    assert after == before + 1


async def test_given_a_late_sent_report_after_delivered_then_nothing_moves_back(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.sms, PHONE)
    provider_id = await rig.channel.send(Note(attempt, "Aviso"))
    assert provider_id
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "delivered", "delivered")
    late = StatusReport(ContactChannel.sms, provider_id, MessageStatus.sent, datetime.now(UTC))
    assert await rig.channel.on_report(late) is False
    again = StatusReport(
        ContactChannel.sms, provider_id, MessageStatus.delivered, datetime.now(UTC)
    )
    assert await rig.channel.on_report(again) is False
    assert attempt_row(engine, attempt.attempt_id).result == "delivered"
    assert rig.channel.outcomes(again) == [
        Outcome(attempt.attempt_id, OutcomeKind.ringing, detail="delivered")
    ]


async def test_given_no_link_when_sending_then_the_attempt_failed_and_place_failed(
    rig: Rig, engine: Engine
) -> None:
    failed_before = count("sms", "failed")
    transport = rig.channel.transport
    assert isinstance(transport, SmppTransport)
    await transport.close()
    attempt = message_attempt(engine, ContactChannel.sms, PHONE)
    with pytest.raises(MessageNotSent, match="not sent"):
        await rig.channel.send(Note(attempt, "Aviso"))
    row = attempt_row(engine, attempt.attempt_id)
    assert row.result == "failed" and "not sent" in row.details["error"]
    assert rig.outcomes[-1].kind == OutcomeKind.place_failed
    assert count("sms", "failed") == failed_before + 1
    assert rig.smsc.submitted == []


async def test_given_a_sender_no_phone_can_show_when_sending_then_refused_and_nothing_submitted(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.sms, PHONE, sender="Despacho Ejemplo, S.C.")
    with pytest.raises(MessageRefused, match="sms_sender"):
        await rig.channel.send(Note(attempt, "Aviso"))
    assert rig.smsc.submitted == []


async def test_given_a_sent_sms_when_withdrawn_then_withdraw_failed(rig: Rig) -> None:
    with pytest.raises(WithdrawFailed):
        await rig.channel.withdraw(1, None)


async def test_given_an_email_attempt_on_the_sms_channel_then_refused(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.email, "a@example.com")
    with pytest.raises(ValueError, match="email attempt on the sms channel"):
        await rig.channel.send(Note(attempt, "Aviso"))


def test_metrics_used_here_are_registered() -> None:
    assert MESSAGES.labels("sms", "sent") is not None


def test_given_the_scheduler_port_then_a_message_channel_is_its_message_sender(rig: Rig) -> None:
    sender: MessageSender = rig.channel  # mypy checks the port; the scheduler calls send()
    assert sender.kind == "sms" and issubclass(MessageRefused, SendRefused)


async def test_given_a_long_spanish_sms_then_concatenated_parts_and_the_last_parts_receipt_delivers(
    rig: Rig, engine: Engine
) -> None:
    text = "Estimado Señor Pérez, le recordamos que tiene un aviso pendiente. " * 2
    attempt = message_attempt(engine, ContactChannel.sms, PHONE)
    provider_id = await rig.channel.send(Note(attempt, text))
    parts = [s.message for s in rig.smsc.submitted]
    assert len(parts) == 2 and "".join(p.text for p in parts) == text
    assert [p.registered_delivery for p in parts] == [0, 1]
    assert provider_id == rig.smsc.submitted[-1].message_id
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "delivered", "delivered")
