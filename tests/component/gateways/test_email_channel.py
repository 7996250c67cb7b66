"""The e-mail channel over real SMTP (aiosmtplib to an aiosmtpd sink) and real SQL:
text and HTML in one message, bounces (RFC 3464) failing the attempt and marking the
address, replies reaching the opt-out, and every malformed or hostile input refused."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlalchemy import Engine, select
from support.messaging import Note, attempt_row, message_attempt
from support.polling import until
from support.ports import free_port

from dialer.channels import OutcomeKind
from gateways.smtp import (
    MAX_INBOUND_BYTES,
    SmtpListener,
    SmtpSettings,
    build_dsn,
    parse_inbound,
)
from gateways.smtp_sink import SmtpSink
from metrics.definitions import REGISTRY
from outreach.channels import BadAddress, MessageNotSent, MessageRefused, Reply
from outreach.channels.delivery import DeliveryBook
from outreach.channels.email import SmtpTransport, email_channel, html_from_text, reply_words
from outreach.channels.message_channel import MessageChannel
from store.db import transaction
from store.models import AuditEntry, ContactChannel, UnprovenReplyText

DEBTOR = "deudor@correo.example"
MTA = "mx.cobranza.example"  # our receiving mail server's authserv-id
BOUNCING = "noexiste@rebota.example"
REFUSED = "bloqueado@correo.example"


def refused_count(reason: str) -> float:
    return REGISTRY.get_sample_value("cobrador_message_reports_refused_total",
                                     {"channel": "email", "reason": reason}) or 0.0  # fmt: skip


@dataclass
class Mailbox:
    replies: list[Reply] = field(default_factory=list)
    bad: list[BadAddress] = field(default_factory=list)
    fail_next: int = 0

    async def opt_out(self, reply: Reply) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("opt-out store down")
        self.replies.append(reply)

    async def bad_address(self, bad: BadAddress) -> None:
        self.bad.append(bad)


@dataclass
class Rig:
    sink: SmtpSink
    inbox: SmtpListener
    channel: MessageChannel
    mailbox: Mailbox
    outcomes: list[object]


@pytest.fixture
async def rig(engine: Engine) -> AsyncIterator[Rig]:
    async with running_rig(engine) as running:
        yield running


@pytest.fixture
async def proving_rig(engine: Engine) -> AsyncIterator[Rig]:
    """A rig whose replies count as their From address's only when our receiving MTA
    (authserv-id MTA) proves it (inbound_email_authserv_id)."""
    async with running_rig(engine, authserv_id=MTA) as running:
        yield running


@contextlib.asynccontextmanager
async def running_rig(engine: Engine, authserv_id: str = "") -> AsyncIterator[Rig]:
    mailbox, outcomes = Mailbox(), []
    inbox_port = free_port()
    sink = SmtpSink(fate=lambda r: ("5.1.1", "550 5.1.1 user unknown") if "rebota" in r else None,
                    bounce_to=("127.0.0.1", inbox_port),
                    refuse=lambda r: "550 5.7.1 Relaying denied" if r == REFUSED else None)  # fmt: skip
    await sink.start()
    channel = email_channel(
        SmtpSettings("127.0.0.1", sink.port, tls="none", timeout_seconds=5), DeliveryBook(engine),
        from_address="avisos@cobranza.example", bounce_address="rebotes@cobranza.example",
        reply_to="respuestas@cobranza.example", opt_out=mailbox.opt_out,
        on_bad_address=mailbox.bad_address, on_outcome=outcomes.append, authserv_id=authserv_id,
    )  # fmt: skip
    transport = channel.transport
    assert isinstance(transport, SmtpTransport)
    inbox = SmtpListener(transport.on_mail)
    await inbox.start(port=inbox_port)
    try:
        yield Rig(sink, inbox, channel, mailbox, outcomes)
    finally:
        await inbox.stop()
        await sink.stop()


async def mail_to_inbox(rig: Rig, message: EmailMessage | bytes, sender: str = DEBTOR) -> None:
    raw = message if isinstance(message, bytes) else message.as_bytes()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=rig.inbox.port, start_tls=False) as smtp:
        await smtp.sendmail(sender, ["respuestas@cobranza.example"], raw)


def reply_mail(text: str, in_reply_to: str | None, subject: str = "Re: Aviso") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Deudor <{DEBTOR}>"
    message["To"] = "respuestas@cobranza.example"
    message["Subject"] = subject
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    message.set_content(text)
    return message


async def test_given_an_email_when_sent_then_one_message_with_text_and_html_and_the_attempt_sent(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.email, DEBTOR, sender="Cobranza Ejemplo")
    provider_id = await rig.channel.send(Note(attempt, "Hola.\n\nTiene un aviso <pendiente>.",
                                              subject="Aviso de su cuenta"))  # fmt: skip
    [received] = rig.sink.received
    assert received.mail_from == "rebotes@cobranza.example" and received.rcpt_tos == [DEBTOR]
    mail = received.message
    assert mail["Message-ID"] == f"<{provider_id}@cobranza.example>"
    assert (mail["Subject"], mail["Reply-To"]) == (
        "Aviso de su cuenta",
        "respuestas@cobranza.example",
    )
    assert mail["From"] == "Cobranza Ejemplo <avisos@cobranza.example>"
    assert isinstance(mail, EmailMessage)
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and "Tiene un aviso <pendiente>." in text.get_content()
    assert html is not None and "<p>Tiene un aviso &lt;pendiente&gt;.</p>" in html.get_content()
    row = attempt_row(engine, attempt.attempt_id)
    assert (row.result, row.uniqueid, row.address) == ("sent", provider_id, DEBTOR)


async def test_given_a_bouncing_address_when_the_dsn_comes_then_failed_and_the_address_marked(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.email, BOUNCING)
    await rig.channel.send(Note(attempt, "Aviso", subject="Aviso"))
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "failed", "bounced")
    row = attempt_row(engine, attempt.attempt_id)
    assert row.details["error"] == "5.1.1 smtp; 550 5.1.1 user unknown"
    assert row.details["address_invalid"] is True
    assert [(b.address, b.account_id, b.attempt_id) for b in rig.mailbox.bad] == [
        (BOUNCING, attempt.account_id, attempt.attempt_id)
    ]
    assert rig.outcomes[-1].kind == OutcomeKind.ended  # type: ignore[attr-defined]


async def test_given_a_refused_recipient_then_message_refused_and_the_attempt_failed(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.email, REFUSED)
    with pytest.raises(MessageRefused, match="550 5.7.1 Relaying denied"):
        await rig.channel.send(Note(attempt, "Aviso"))
    assert attempt_row(engine, attempt.attempt_id).result == "failed"


async def test_given_no_smtp_server_then_not_sent(engine: Engine) -> None:
    channel = email_channel(SmtpSettings("127.0.0.1", free_port(), tls="none", timeout_seconds=2),
                            DeliveryBook(engine), from_address="a@b.example",
                            bounce_address="r@b.example", opt_out=Mailbox().opt_out)  # fmt: skip
    attempt = message_attempt(engine, ContactChannel.email, DEBTOR)
    with pytest.raises(MessageNotSent, match="unreachable"):
        await channel.send(Note(attempt, "Aviso"))


async def test_given_a_baja_reply_then_the_opt_out_gets_it_for_the_message_it_answers(
    rig: Rig, engine: Engine
) -> None:
    older = message_attempt(engine, ContactChannel.email, DEBTOR)
    older_id = await rig.channel.send(Note(older, "Primer aviso"))
    newer = message_attempt(engine, ContactChannel.email, DEBTOR, account_id=older.account_id)
    await rig.channel.send(Note(newer, "Segundo aviso"))
    quoted = "BAJA\n\nEl lun, 5 dic 2026, Cobranza escribió:\n> Primer aviso\n"
    await mail_to_inbox(rig, reply_mail(quoted, f"<{older_id}@cobranza.example>"))
    [reply] = rig.mailbox.replies
    assert (reply.text, reply.attempt_id, reply.address) == ("BAJA", older.attempt_id, DEBTOR)
    assert attempt_row(engine, older.attempt_id).result == "replied"
    assert attempt_row(engine, newer.attempt_id).result == "sent"


async def test_given_a_reply_from_another_address_naming_our_message_then_not_that_debtors(
    rig: Rig, engine: Engine
) -> None:
    """In-Reply-To is the sender's to write: a mail from another address naming the
    debtor's message (forwarded, or a forged header) was taken as the debtor's reply:
    their attempt marked replied and the reply (to the chat: a conversation) given
    their account. Now only its own sender's attempts can be answered by it."""
    attempt = message_attempt(engine, ContactChannel.email, DEBTOR)
    message_id = await rig.channel.send(Note(attempt, "Aviso"))
    forged = reply_mail("BAJA", f"<{message_id}@cobranza.example>")
    forged.replace_header("From", "Otro <otro@correo.example>")
    await mail_to_inbox(rig, forged, sender="otro@correo.example")
    [reply] = rig.mailbox.replies
    assert (reply.address, reply.attempt_id, reply.account_id) == (
        "otro@correo.example",
        None,
        None,
    )
    assert attempt_row(engine, attempt.attempt_id).result == "sent"
    # The debtor's own reply, the address written in another case, still answers it.
    own = reply_mail("BAJA", f"<{message_id}@cobranza.example>")
    own.replace_header("From", f"Deudor <{DEBTOR.upper()}>")
    await mail_to_inbox(rig, own)
    assert rig.mailbox.replies[-1].attempt_id == attempt.attempt_id
    assert attempt_row(engine, attempt.attempt_id).result == "replied"


async def test_given_a_reply_without_in_reply_to_then_the_latest_email_to_that_address(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.email, DEBTOR)
    await rig.channel.send(Note(attempt, "Aviso"))
    await mail_to_inbox(rig, reply_mail("", None, subject="RE: STOP"))
    [reply] = rig.mailbox.replies
    assert (reply.text, reply.attempt_id) == ("STOP", attempt.attempt_id)


async def test_given_the_opt_out_fails_then_the_reply_is_refused_451_and_taken_when_sent_again(
    rig: Rig, engine: Engine
) -> None:
    message_attempt(engine, ContactChannel.email, DEBTOR)
    rig.mailbox.fail_next = 1
    with pytest.raises(aiosmtplib.SMTPDataError) as caught:
        await mail_to_inbox(rig, reply_mail("Baja", None))
    assert caught.value.code == 451
    await mail_to_inbox(rig, reply_mail("Baja", None))
    assert [r.text for r in rig.mailbox.replies] == ["Baja"]


async def test_given_mail_without_a_sender_then_dropped_and_counted(rig: Rig) -> None:
    before = refused_count("malformed")
    await mail_to_inbox(rig, b"Subject: hola\r\n\r\nBAJA\r\n")
    assert rig.mailbox.replies == [] and refused_count("malformed") == before + 1


async def test_given_an_oversized_message_then_refused_552(rig: Rig) -> None:
    big = reply_mail("x" * (MAX_INBOUND_BYTES + 10), None)
    with pytest.raises(aiosmtplib.SMTPResponseException) as caught:
        await mail_to_inbox(rig, big)
    assert caught.value.code == 552
    assert rig.mailbox.replies == []


async def test_given_a_bounce_for_a_message_of_no_attempt_then_refused_unknown(rig: Rig) -> None:
    before = refused_count("unknown_message")
    original = reply_mail("x", None)
    original["Message-ID"] = "<c999999.deadbeef@cobranza.example>"
    dsn = build_dsn(original, recipient=DEBTOR, status="5.1.1", diagnostic="550 unknown",
                    reporting_mta="mx.example", postmaster="postmaster@mx.example",
                    to="rebotes@cobranza.example")  # fmt: skip
    await mail_to_inbox(rig, dsn, sender="")
    assert refused_count("unknown_message") == before + 1


async def test_given_a_bounce_naming_no_message_then_refused_unknown(rig: Rig) -> None:
    before = refused_count("unknown_message")
    dsn = build_dsn(reply_mail("x", None), recipient=DEBTOR, status="5.1.1", diagnostic="550",
                    reporting_mta="mx.example", postmaster="postmaster@mx.example",
                    to="rebotes@cobranza.example")  # fmt: skip
    await mail_to_inbox(rig, dsn, sender="")
    assert refused_count("unknown_message") == before + 1


def test_given_a_delayed_dsn_then_parsed_but_not_permanent() -> None:
    original = reply_mail("x", None)
    original["Message-ID"] = "<c1.ab@cobranza.example>"
    raw = build_dsn(original, recipient=DEBTOR, status="4.4.1", diagnostic="timeout",
                    reporting_mta="mx", postmaster="p@mx", to="r@x").replace(
        b"Action: failed", b"Action: delayed")  # fmt: skip
    [bounce] = parse_inbound(raw)  # type: ignore[misc]
    assert (bounce.message_id, bounce.action, bounce.permanent) == ("c1.ab", "delayed", False)


def test_given_a_report_without_recipients_then_mail_input_error() -> None:
    raw = (b"From: x@y\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; "
           b"report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n")  # fmt: skip
    with pytest.raises(ValueError, match="recipient"):
        parse_inbound(raw)


def test_given_replies_then_their_own_first_line_or_subject() -> None:
    assert reply_words("Re: Aviso", "\n> citado\nNo más, gracias\n") == "No más, gracias"
    assert reply_words("RE: Fwd: baja", "On Mon, Cobranza wrote:\n> x") == "baja"
    assert html_from_text("a & b\nc\n\nd") == (
        '<!doctype html>\n<html lang="es"><body>\n<p>a &amp; b<br>c</p>\n<p>d</p>\n</body></html>'
    )


def unproven_entries(engine: Engine) -> list[dict]:
    with transaction(engine) as s:
        return [json.loads(p) for p in s.scalars(select(AuditEntry.payload).where(
            AuditEntry.kind == "reply_unproven").order_by(AuditEntry.id))]  # fmt: skip


@pytest.mark.parametrize("results", [
    None,  # no verdict at all
    f"{MTA}; dmarc=fail header.from=correo.example",
    f"{MTA}; dkim=pass header.d=otro.example; spf=softfail smtp.mailfrom=correo.example",
    "mx.falso.example; dmarc=pass header.from=correo.example",  # another server's word
])  # fmt: skip
async def test_given_a_trusted_mta_when_a_baja_is_not_proven_then_it_acts_on_no_account_and_waits_for_a_person(
    proving_rig: Rig, engine: Engine, results: str | None
) -> None:
    """Anyone can write any From:: a mail naming the debtor's address was the debtor's
    reply (the attempt answered), their "BAJA" (e-mail stopped for every account with
    that address) and their chat. With inbound_email_authserv_id set, only our MTA's
    Authentication-Results proving the From address make it so; any other mail answers
    nothing, stops nothing, and is kept for a person with why."""
    attempt = message_attempt(engine, ContactChannel.email, DEBTOR)
    message_id = await proving_rig.channel.send(Note(attempt, "Aviso"))
    before = refused_count("unproven_sender")
    forged = reply_mail("BAJA", f"<{message_id}@cobranza.example>")
    if results is not None:
        forged["Authentication-Results"] = results
    await mail_to_inbox(proving_rig, forged)
    assert proving_rig.mailbox.replies == []  # no opt-out
    assert attempt_row(engine, attempt.attempt_id).result == "sent"
    [kept] = unproven_entries(engine)
    assert kept["channel"] == "email" and kept["why"] and "address" not in kept
    # Who sent it and what it said are kept where retention applies; the audit entry
    # proves them by digest.
    with transaction(engine) as s:
        [said] = s.scalars(select(UnprovenReplyText))
        assert said.text.strip() == "BAJA" and "text" not in kept and said.address == DEBTOR
        assert kept["text_sha256"] == hashlib.sha256(said.text.encode()).hexdigest()
        assert kept["address_sha256"] == hashlib.sha256(DEBTOR.encode()).hexdigest()
    assert refused_count("unproven_sender") == before + 1


@pytest.mark.parametrize("results", [
    f"{MTA}; dmarc=pass (p=reject) header.from=correo.example",
    f"{MTA.upper()}; dkim=pass header.d=Correo.Example header.s=s1",
    f"{MTA} 1; spf=pass smtp.mailfrom=deudor@correo.example",
])  # fmt: skip
async def test_given_a_trusted_mta_when_it_proves_the_from_address_then_the_reply_is_the_debtors(
    proving_rig: Rig, engine: Engine, results: str
) -> None:
    attempt = message_attempt(engine, ContactChannel.email, DEBTOR)
    message_id = await proving_rig.channel.send(Note(attempt, "Aviso"))
    own = reply_mail("BAJA", f"<{message_id}@cobranza.example>")
    own["Authentication-Results"] = results
    await mail_to_inbox(proving_rig, own)
    [reply] = proving_rig.mailbox.replies
    assert (reply.text, reply.attempt_id) == ("BAJA", attempt.attempt_id)
    assert attempt_row(engine, attempt.attempt_id).result == "replied"
    assert unproven_entries(engine) == []


async def test_given_a_bounce_naming_our_message_but_another_recipient_then_nothing_is_marked(
    rig: Rig, engine: Engine
) -> None:
    """A bounce names the address that failed, and the Message-ID of ours it bounced:
    a forged one naming a message of ours failed that attempt and marked the debtor's
    address bad whatever recipient it named. The recipient must be the one the message
    went to; a bounce of the message to its own address still marks it."""
    attempt = message_attempt(engine, ContactChannel.email, DEBTOR)
    await rig.channel.send(Note(attempt, "Aviso"))
    [sent] = rig.sink.received
    before = refused_count("foreign_recipient")

    def bounce(recipient: str) -> bytes:
        return build_dsn(sent.message, recipient=recipient, status="5.1.1",
                         diagnostic="550 5.1.1 user unknown", reporting_mta="mx.example",
                         postmaster="postmaster@mx.example", to="rebotes@cobranza.example")  # fmt: skip

    await mail_to_inbox(rig, bounce("otro@correo.example"), sender="")
    assert refused_count("foreign_recipient") == before + 1
    assert attempt_row(engine, attempt.attempt_id).result == "sent"
    assert rig.mailbox.bad == []
    await mail_to_inbox(rig, bounce(f"<{DEBTOR.upper()}>"), sender="")
    assert attempt_row(engine, attempt.attempt_id).result == "failed"
    assert [b.address for b in rig.mailbox.bad] == [DEBTOR]
