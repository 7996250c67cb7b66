"""A message checked in the allowed window must not reach the debtor hours later: the
e-mail asks the relay to deliver within MESSAGE_REACH or return it (RFC 2852
DELIVERBY) when the relay offers it; every message records how its delivery is
bounded; a delivery reported after its span is recorded as late (evidence)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from support.messaging import Note, attempt_row, message_attempt

from compliance.reach import MESSAGE_REACH
from gateways.smtp import SmtpSettings, build_message, send
from outreach.channels import MessageStatus, StatusReport
from outreach.channels.delivery import DeliveryBook
from outreach.channels.email import email_channel
from store.db import transaction
from store.models import AuditEntry, ContactChannel


class DeliverByRelay:
    """A minimal SMTP server that offers DELIVERBY (with `minimum`, when given) and
    keeps every MAIL FROM line it is sent: the relays that can bound delivery."""

    def __init__(self, offer: str | None = "DELIVERBY") -> None:
        self.offer = offer
        self.mail_from: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 relay.example ESMTP")
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                extensions = ["8BITMIME", *([self.offer] if self.offer else [])]
                for n, ext in enumerate(["relay.example", *extensions]):
                    say(("250 " if n == len(extensions) else "250-") + ext)
            elif verb == "MAIL":
                self.mail_from.append(line)
                say("250 OK")
            elif verb == "RCPT":
                say("250 OK")
            elif verb == "DATA":
                say("354 go on")
                while (await reader.readline()) not in (b".\r\n", b""):
                    pass
                say("250 2.0.0 queued")
            elif verb == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:
                say("250 OK")
            await writer.drain()
        writer.close()


@pytest.fixture
async def relay(request: pytest.FixtureRequest) -> AsyncIterator[DeliverByRelay]:
    server = DeliverByRelay(getattr(request, "param", "DELIVERBY"))
    await server.start()
    yield server
    await server.stop()


def mail() -> object:
    return build_message(sender_name="Cobranza", sender="avisos@cobrador.example",
                         to="deudor@correo.example", subject="Aviso", text="Hola", html=None,
                         message_id="<1@cobrador.example>")  # fmt: skip


@pytest.mark.parametrize(
    ("relay", "asked"),
    [("DELIVERBY", True), ("DELIVERBY 600", True), ("DELIVERBY 3600", False), (None, False)],
    indirect=["relay"],
)
async def test_given_a_relay_when_sending_with_a_deadline_then_by_asked_only_when_it_can(
    relay: DeliverByRelay, asked: bool
) -> None:
    settings = SmtpSettings("127.0.0.1", relay.port, tls="none", timeout_seconds=5)
    bounded = await send(settings, mail(), envelope_from="rebotes@cobrador.example",  # type: ignore[arg-type]
                         recipients=["deudor@correo.example"], deliver_within_seconds=900)  # fmt: skip
    assert bounded is asked
    [line] = relay.mail_from
    assert (" BY=900;R" in line) is asked, line
    # Without a deadline nothing is asked, whatever the relay offers.
    assert await send(settings, mail(), envelope_from="r@cobrador.example",  # type: ignore[arg-type]
                      recipients=["deudor@correo.example"]) is False  # fmt: skip
    assert "BY=" not in relay.mail_from[-1]


async def test_given_the_email_channel_when_sent_then_the_attempt_says_how_delivery_is_bounded(
    relay: DeliverByRelay, engine: Engine
) -> None:
    async def opt_out(_reply: object) -> None:
        return None

    settings = SmtpSettings("127.0.0.1", relay.port, tls="none", timeout_seconds=5)
    channel = email_channel(settings, DeliveryBook(engine), from_address="avisos@cobrador.example",
                            bounce_address="rebotes@cobrador.example", opt_out=opt_out)  # fmt: skip
    attempt = message_attempt(engine, ContactChannel.email, "deudor@correo.example")
    await channel.send(Note(attempt, "Hola", subject="Aviso"))
    reach = int(MESSAGE_REACH.total_seconds())
    assert f" BY={reach};R" in relay.mail_from[-1]
    assert attempt_row(engine, attempt.attempt_id).details["delivery_bound"] == "smtp deliverby"


async def test_given_a_whatsapp_delivery_after_its_span_then_recorded_late_with_evidence(
    engine: Engine,
) -> None:
    book = DeliveryBook(engine)
    late = message_attempt(engine, ContactChannel.whatsapp, "+525512345678")
    on_time = message_attempt(engine, ContactChannel.whatsapp, "+525512345679")
    started = attempt_row(engine, late.attempt_id).started_at
    assert started is not None
    book.sent(late, "wamid.late", started)
    book.sent(on_time, "wamid.on-time", started, bound=None)
    assert attempt_row(engine, late.attempt_id).details["delivery_bound"] == "none"
    # Meta retried for 20 minutes (a phone off): it arrived 5 minutes past its span.
    book.report(StatusReport(ContactChannel.whatsapp, "wamid.late", MessageStatus.delivered,
                             started + MESSAGE_REACH + timedelta(minutes=5)))  # fmt: skip
    book.report(StatusReport(ContactChannel.whatsapp, "wamid.on-time", MessageStatus.delivered,
                             started + timedelta(seconds=3)))  # fmt: skip
    assert attempt_row(engine, late.attempt_id).details["late_seconds"] == 300
    assert "late_seconds" not in attempt_row(engine, on_time.attempt_id).details
    with transaction(engine) as s:
        payloads = [json.loads(e.payload) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "message"))]  # fmt: skip
    delivered = {p["attempt_id"]: p for p in payloads if p["status"] == "delivered"}
    assert delivered[late.attempt_id]["late_seconds"] == 300
    assert "late_seconds" not in delivered[on_time.attempt_id]
    sent = [p for p in payloads if p["status"] == "sent"]
    assert {p["delivery_bound"] for p in sent} == {"none"}
