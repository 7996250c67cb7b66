"""E-mail over SMTP: one message with a plain-text and an HTML part (the scheduler's
rendering of one template; HTML made from the text when it has none), our own
Message-ID as the provider id, the bounce mailbox as the envelope sender. What comes
back to our SMTP listener (`gateways.smtp.SmtpListener(transport.on_mail)`) is a
bounce (the attempt `failed`; a permanent one marks the address) or a reply."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import jinja2

from compliance.reach import MESSAGE_REACH
from dialer.channels import PlaceUncertain
from gateways.smtp import (
    Bounce,
    MailInputError,
    SmtpRefused,
    SmtpSettings,
    SmtpUncertain,
    SmtpUnreachable,
    build_message,
    new_message_id,
    parse_inbound,
    send,
)
from outreach.channels import (
    Handed,
    MessageNotSent,
    MessageRefused,
    MessageStatus,
    OnBadAddress,
    OptOut,
    Outgoing,
    StatusReport,
)
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import Listener, MessageChannel, OnOutcome, refused
from store.models import ContactChannel

log = logging.getLogger(__name__)

DEFAULT_SUBJECT = "Aviso importante sobre su cuenta"
REACH_SECONDS = int(MESSAGE_REACH.total_seconds())
# The HTML part when the message brings none: the text's paragraphs, escaped.
_HTML = jinja2.Environment(autoescape=True).from_string(
    '<!doctype html>\n<html lang="es"><body>\n'
    "{% for paragraph in paragraphs %}<p>{{ paragraph | replace('\\n', '<br>'|safe) }}</p>\n"
    "{% endfor %}</body></html>\n"
)


def html_from_text(text: str) -> str:
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return _HTML.render(paragraphs=paragraphs)


def reply_words(subject: str, text: str) -> str:
    """What the debtor wrote, for the opt-out check: the reply's first own line (not
    quoted, not the "On ... wrote:" line), or its subject without Re:/RE:/RV:."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(">"):
            continue
        if line.endswith(":") and ("escribió" in line or "wrote" in line):
            break
        return line[:200]
    subject = subject.strip()
    while subject[:3].lower() in ("re:", "rv:") or subject[:4].lower() == "fwd:":
        subject = subject.split(":", 1)[1].strip()
    return subject[:200]


class SmtpTransport:
    def __init__(self, settings: SmtpSettings, *, from_address: str, bounce_address: str,
                 reply_to: str | None = None, authserv_id: str = "") -> None:  # fmt: skip
        if "@" not in from_address:
            raise ValueError(f"e-mail sender {from_address!r} is not an address")
        self.settings = settings
        self.from_address = from_address
        self.bounce_address = bounce_address
        self.reply_to = reply_to
        # The receiving MTA whose Authentication-Results prove a reply's From address
        # (gateways/mail_auth.py); "": From: is taken as written.
        self.authserv_id = authserv_id
        self.domain = from_address.rpartition("@")[2]
        self._listener: Listener | None = None

    def listen(self, listener: Listener) -> None:
        self._listener = listener

    async def send(self, message: Outgoing) -> Handed:
        attempt = message.attempt
        provider_id, header = new_message_id(attempt.attempt_id, self.domain)
        mail = build_message(
            sender_name=attempt.sender, sender=self.from_address, to=attempt.address,
            subject=message.subject or DEFAULT_SUBJECT, text=message.text,
            html=message.html if message.html is not None else html_from_text(message.text),
            message_id=header, reply_to=self.reply_to,
        )  # fmt: skip
        try:
            # Returned, not delivered late, when the relay can bound it (RFC 2852).
            bounded = await send(self.settings, mail, envelope_from=self.bounce_address,
                                 recipients=[attempt.address],
                                 deliver_within_seconds=REACH_SECONDS)  # fmt: skip
        except SmtpUnreachable as exc:
            raise MessageNotSent(str(exc)) from exc
        except SmtpRefused as exc:
            raise MessageRefused(str(exc)) from exc
        except SmtpUncertain as exc:
            raise PlaceUncertain(str(exc)) from exc
        return Handed(provider_id, "smtp deliverby" if bounded else None)

    async def on_mail(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        """A message to our mailbox. One that cannot be read is dropped (logged, counted);
        an error recording it propagates (the listener answers 451: sent again)."""
        listener = self._listener
        if listener is None:
            raise RuntimeError("e-mail transport has no listener yet")
        try:
            # Off the loop: a message of 1 MiB takes the parser a while even in shape.
            parsed = await asyncio.to_thread(parse_inbound, raw, self.authserv_id)
        except (MailInputError, ValueError) as exc:
            log.warning("inbound e-mail dropped: %s", exc)
            refused(ContactChannel.email, "malformed")
            return
        now = datetime.now(UTC)
        if isinstance(parsed, list):
            for bounce in parsed:
                await self._bounce(listener, bounce, now)
            return
        if parsed.proven is False:
            # Anyone can write any From:: a reply, a "BAJA" or a chat message acts on the
            # account of that address only when the receiving MTA proved it.
            await listener.on_unproven(parsed.sender, parsed.subject, parsed.text, now,
                                       parsed.proof)  # fmt: skip
            return
        await listener.on_reply(parsed.sender, reply_words(parsed.subject, parsed.text),
                                in_reply_to=parsed.in_reply_to, at=now)  # fmt: skip

    async def _bounce(self, listener: Listener, bounce: Bounce, now: datetime) -> None:
        if bounce.action != "failed":
            return  # delayed: the MTA still tries; delivered/relayed: nothing to change
        if not bounce.message_id:
            log.warning("a bounce for a message it does not name")
            refused(ContactChannel.email, "unknown_message")
            return
        # The bounce names the address that failed: it must be the one the message it
        # names went to (DeliveryBook.report), or a forged bounce naming any Message-ID
        # of ours would fail that attempt and mark the debtor's address bad.
        recipients = tuple(r for r in (bounce.recipient, bounce.original_recipient) if r)
        await listener.on_report(StatusReport(
            ContactChannel.email, bounce.message_id, MessageStatus.failed, now,
            error=f"{bounce.status} {bounce.diagnostic}".strip(),
            address_invalid=bounce.permanent, recipients=recipients,
        ))  # fmt: skip


def email_channel(settings: SmtpSettings, book: DeliveryBook, *, from_address: str,
                  bounce_address: str, opt_out: OptOut, reply_to: str | None = None,
                  on_bad_address: OnBadAddress | None = None,
                  on_outcome: OnOutcome | None = None,
                  authserv_id: str = "") -> MessageChannel:  # fmt: skip
    transport = SmtpTransport(settings, from_address=from_address, bounce_address=bounce_address,
                              reply_to=reply_to, authserv_id=authserv_id)  # fmt: skip
    return MessageChannel(ContactChannel.email, transport, book, opt_out=opt_out,
                          on_bad_address=on_bad_address, on_outcome=on_outcome)  # fmt: skip
