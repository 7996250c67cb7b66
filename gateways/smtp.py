"""E-mail over SMTP: building a message (plain text and HTML alternatives, our own
Message-ID), sending it with aiosmtplib, reading delivery status notifications
(RFC 3464 bounces), and an SMTP listener (aiosmtpd) for the mailbox bounces and
replies come back to. Errors say whether anything left: refused and unreachable
mean nothing did; uncertain means it may have."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
import secrets
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import formatdate, parseaddr

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateways import mail_auth

log = logging.getLogger(__name__)
# aiosmtpd logs every command it reads at INFO on "mail.log", MAIL FROM and RCPT TO with
# their addresses: a debtor's e-mail address in every operator's log. Its warnings
# (protocol errors, with no address) are kept.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# What the listener accepts in one message: a bounce carries the original's headers
# (or the whole original); a reply quotes ours.
MAX_INBOUND_BYTES = 1024 * 1024
MAX_TEXT_CHARS = 4000
# Bounds on a message's shape, checked on the raw bytes before the e-mail parser
# sees them: its header parsing is quadratic in a field's encoded words (a 1 MiB
# Subject took gigabytes), it recurses on nested multiparts, and 20,000 parts in
# 1 MiB took 8 s of the loop. A reply or a bounce needs a few parts and short fields.
MAX_HEADER_SECTION_BYTES = 64 * 1024
MAX_FIELD_BYTES = 16 * 1024
MAX_PARTS = 64
MAX_BOUNCES = 100  # recipient lines read from one delivery report
# The listener's own bounds, whatever a client sends: connections served at once (past
# it a new one is answered 421 and closed), recipients of one message (RFC 5321 asks a
# server to take 100 at least), and the bytes of one line: aiosmtpd keeps every piece
# of a DATA line too long for it until the line ends, so a client streaming bytes
# without a line break grew the process without end; past MAX_LINE_BYTES the
# connection is closed (no line of a message we accept is anywhere near it).
MAX_CONNECTIONS = 50
MAX_RECIPIENTS = 100
MAX_LINE_BYTES = 64 * 1024
_CONTENT_TYPE = re.compile(rb"^content-type[ \t]*:", re.IGNORECASE | re.MULTILINE)


class SmtpRefused(Exception):
    """The server refused the message (a 4xx or 5xx answer): nothing left."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmtpUnreachable(SmtpRefused):
    """No connection to the server: nothing left."""


class SmtpUncertain(Exception):
    """The connection broke or timed out during the transaction: it may have left."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    tls: str = "starttls"  # starttls | tls (implicit, port 465) | none
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.tls not in ("starttls", "tls", "none"):
            raise ValueError(f"SMTP tls must be starttls, tls or none, not {self.tls!r}")


def new_message_id(attempt_id: int, domain: str) -> tuple[str, str]:
    """(our id, the Message-ID header): `c<attempt>.<random>` and `<that@domain>`."""
    local = f"c{attempt_id}.{secrets.token_hex(6)}"
    return local, f"<{local}@{domain}>"


def id_of(message_id: str | None) -> str | None:
    """Our id from a Message-ID / In-Reply-To header value (`<c12.ab@dom>` -> c12.ab)."""
    if not message_id:
        return None
    value = message_id.strip().split()[0].strip("<>")
    local = value.partition("@")[0]
    return local[:64] or None


def build_message(*, sender_name: str, sender: str, to: str, subject: str, text: str,
                  html: str | None, message_id: str, reply_to: str | None = None) -> EmailMessage:  # fmt: skip
    message = EmailMessage()
    message["From"] = Address(display_name=sender_name, addr_spec=sender)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send(settings: SmtpSettings, message: EmailMessage, *, envelope_from: str,
               recipients: Sequence[str], deliver_within_seconds: int | None = None) -> bool:  # fmt: skip
    """Hand the message to the server. `deliver_within_seconds`: ask the server to
    deliver it within that long or return it (RFC 2852 DELIVERBY, `BY=<n>;R`), when
    the server offers the extension and accepts that short a time. True when it was
    asked (the delivery is bounded), False when the server cannot bound it."""
    client = aiosmtplib.SMTP(
        hostname=settings.host, port=settings.port,
        username=settings.username or None, password=settings.password or None,
        use_tls=settings.tls == "tls", start_tls=settings.tls == "starttls",
        timeout=settings.timeout_seconds,
    )  # fmt: skip
    bounded = False
    try:
        async with client:
            options: list[str] = []
            if deliver_within_seconds is not None:
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()
                bounded = _deliver_by_allowed(client, deliver_within_seconds)
                if bounded:
                    options.append(f"BY={int(deliver_within_seconds)};R")
            errors, _ = await client.send_message(
                message, sender=envelope_from, recipients=list(recipients), mail_options=options
            )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        raise SmtpRefused(f"recipient refused: {detail}", codes[0] if codes else None) from exc
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as exc:
        raise SmtpUnreachable(f"SMTP server unreachable: {exc}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise SmtpRefused(f"SMTP refused: {exc.code} {exc.message}", exc.code) from exc
    except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as exc:
        raise SmtpUncertain(f"SMTP transaction broke: {exc}") from exc
    except OSError as exc:
        raise SmtpUnreachable(f"SMTP server unreachable: {exc}") from exc
    if errors:
        detail = "; ".join(f"{to}: {code} {text}" for to, (code, text) in errors.items())
        raise SmtpRefused(f"recipient refused: {detail}")
    return bounded


def _deliver_by_allowed(client: aiosmtplib.SMTP, seconds: int) -> bool:
    """The server offers DELIVERBY and its shortest by-time (if it names one) is not
    longer than `seconds` (RFC 2852 section 4: EHLO keyword DELIVERBY [min-by-time])."""
    if not client.supports_extension("deliverby"):
        return False
    minimum = client.esmtp_extensions.get("deliverby", "").strip()
    return not (minimum.isascii() and minimum.isdigit()) or int(minimum) <= seconds


# --- what comes back ---------------------------------------------------------


@dataclass(frozen=True)
class Bounce:
    """One recipient's line of a delivery status notification."""

    message_id: str | None  # our id of the original (from its Message-ID)
    recipient: str  # Final-Recipient (else Original-Recipient)
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # e.g. 5.1.1
    diagnostic: str
    original_recipient: str = ""  # Original-Recipient, when the report gives it

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


@dataclass(frozen=True)
class InboundMail:
    """A message that is no bounce: a reply, as much of it as a person wrote."""

    sender: str
    subject: str
    text: str  # the first text/plain part, bounded
    in_reply_to: str | None  # our id of the message it answers, if it says
    # Whether the receiving MTA proved `sender` (gateways/mail_auth.py); None when no
    # authserv-id is trusted (inbound_email_authserv_id unset: From: is taken as is).
    proven: bool | None = None
    proof: str = ""  # the method that proved it, or why nothing did


class MailInputError(ValueError):
    """A message that cannot be read."""


def check_shape(raw: bytes) -> None:
    """MailInputError for a message the parser must not be given (see the bounds above);
    linear in the message's size."""
    if len(raw) > MAX_INBOUND_BYTES:
        raise MailInputError(f"message over {MAX_INBOUND_BYTES} bytes")
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    header_end = min(ends) if ends else len(raw)
    if header_end > MAX_HEADER_SECTION_BYTES:
        raise MailInputError(f"header section over {MAX_HEADER_SECTION_BYTES} bytes")
    if len(_CONTENT_TYPE.findall(raw)) > MAX_PARTS:
        raise MailInputError(f"over {MAX_PARTS} MIME parts")
    # The compat32 policy keeps header values as they came (no parsing): its walk over
    # the parts is linear, so every part's fields are measured before any is parsed.
    rough = email.message_from_bytes(raw, policy=email.policy.compat32)
    for count, part in enumerate(rough.walk(), start=1):
        if count > MAX_PARTS + MAX_BOUNCES:  # a delivery report's groups are parts too
            raise MailInputError(f"over {MAX_BOUNCES} recipient groups or {MAX_PARTS} parts")
        if any(len(str(value)) > MAX_FIELD_BYTES for value in part.values()):
            raise MailInputError(f"a header field over {MAX_FIELD_BYTES} bytes")


def parse_inbound(raw: bytes, authserv_id: str = "") -> list[Bounce] | InboundMail:
    """A DSN (multipart/report; report-type=delivery-status) as its recipients' lines,
    anything else as a reply; with `authserv_id`, the reply says whether that MTA's
    Authentication-Results proved its From address (`InboundMail.proven`).
    MailInputError for anything that cannot be read: the listener drops it (an
    exception would be answered 451 and sent again forever)."""
    check_shape(raw)
    try:
        return _parse(raw, authserv_id)
    except MailInputError:
        raise
    except (LookupError, RecursionError, ValueError, TypeError, AttributeError) as exc:
        raise MailInputError(f"unreadable message ({type(exc).__name__}: {exc})") from exc


def _parse(raw: bytes, authserv_id: str) -> list[Bounce] | InboundMail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if (message.get_content_type() == "multipart/report"
            and str(message.get_param("report-type", "")).lower() == "delivery-status"):  # fmt: skip
        return _bounces(message)
    sender = parseaddr(str(message.get("From", "")))[1]
    if not sender or "@" not in sender or len(sender) > 254 or not sender.isprintable():
        raise MailInputError("a message without a From address")
    body = (
        message.get_body(preferencelist=("plain",)) if isinstance(message, EmailMessage) else None
    )
    verdict = mail_auth.from_proven(message, authserv_id) if authserv_id else None
    return InboundMail(sender, _clean(str(message.get("Subject", "")), 300),
                       _clean(_text_of(body), MAX_TEXT_CHARS),
                       id_of(str(message.get("In-Reply-To", "")) or None),
                       verdict.proven if verdict else None,
                       verdict.why if verdict else "")  # fmt: skip


def _text_of(body: Message | None) -> str:
    """The part's text; in a charset Python does not know, read as UTF-8 with the
    bad bytes replaced (the debtor's words are kept, an odd label does not lose them)."""
    if body is None:
        return ""
    try:
        return str(body.get_content())  # type: ignore[attr-defined]
    except LookupError:
        payload = body.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _clean(text: str, limit: int) -> str:
    """Text as it is stored: no NUL (PostgreSQL refuses it), at most `limit` characters."""
    return text.replace("\x00", "")[:limit]


def _bounces(report: Message) -> list[Bounce]:
    original_id: str | None = None
    groups: list[Message] = []
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            payload = part.get_payload()
            groups = (
                [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
            )
        elif kind == "text/rfc822-headers":
            raw_headers = part.get_payload(decode=True)
            text = (raw_headers.decode("utf-8", "replace") if isinstance(raw_headers, bytes)
                    else str(part.get_payload()))  # fmt: skip
            original_id = original_id or id_of(email.message_from_string(text).get("Message-ID"))
        elif kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original_id = original_id or id_of(inner[0].get("Message-ID"))
    found = []
    # The first group is about the message, the rest one per recipient (we send to one).
    for group in groups[1 : MAX_BOUNCES + 1]:
        recipient = str(group.get("Final-Recipient", "") or group.get("Original-Recipient", ""))
        if not recipient:
            continue
        original = str(group.get("Original-Recipient", ""))
        found.append(Bounce(
            message_id=original_id,
            recipient=recipient.split(";", 1)[-1].strip().strip("<>"),
            original_recipient=original.split(";", 1)[-1].strip().strip("<>") if original else "",
            action=str(group.get("Action", "")).strip().lower(),
            status=str(group.get("Status", "")).strip(),
            diagnostic=" ".join(str(group.get("Diagnostic-Code", "")).split())[:300],
        ))  # fmt: skip
    if not found:
        raise MailInputError("a delivery report without a recipient line")
    return found


def build_dsn(original: Message, *, recipient: str, status: str, diagnostic: str,
              reporting_mta: str, postmaster: str, to: str) -> bytes:  # fmt: skip
    """The bounce an MTA sends back (RFC 3464): for the SMTP sink of tests and the demo."""
    boundary = f"=_dsn_{secrets.token_hex(8)}"
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
    lines = [
        f"From: Mail Delivery System <{postmaster}>", f"To: {to}",
        "Subject: Undelivered Mail Returned to Sender", f"Date: {formatdate(localtime=False)}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "", f"--{boundary}", "Content-Type: text/plain; charset=utf-8", "",
        f"Your message to {recipient} could not be delivered.", "",
        f"--{boundary}", "Content-Type: message/delivery-status", "",
        f"Reporting-MTA: dns; {reporting_mta}", "",
        f"Final-Recipient: rfc822; {recipient}", "Action: failed", f"Status: {status}",
        f"Diagnostic-Code: smtp; {diagnostic}", "",
        f"--{boundary}", "Content-Type: text/rfc822-headers", "", headers,
        f"--{boundary}--", "",
    ]  # fmt: skip
    return "\r\n".join(lines).encode("utf-8")


# --- the listener ------------------------------------------------------------

OnMail = Callable[[str, list[str], bytes], Awaitable[None]]
# A recipient's refusal: None to accept it, else the SMTP reply ("550 5.1.1 No such user").
RcptCheck = Callable[[str], str | None]


class _Handler:
    def __init__(self, on_mail: OnMail, rcpt_check: RcptCheck | None) -> None:
        self.on_mail = on_mail
        self.rcpt_check = rcpt_check

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:  # fmt: skip
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        refusal = self.rcpt_check(address) if self.rcpt_check is not None else None
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        try:
            await self.on_mail(envelope.mail_from or "", list(envelope.rcpt_tos), content)
        except Exception:
            log.exception("inbound mail not recorded; the sender will try again")
            return "451 4.3.0 Not recorded, try again later"
        return "250 2.0.0 OK"


class _BoundedSMTP(SMTP):
    """aiosmtpd's protocol, counted among the listener's connections and closed when
    one line passes MAX_LINE_BYTES (see there)."""

    def __init__(self, listener: SmtpListener) -> None:
        super().__init__(listener.handler, data_size_limit=listener.max_bytes,
                         hostname=listener.hostname, enable_SMTPUTF8=True)  # fmt: skip
        self._listener = listener
        self._line_bytes = 0  # bytes since the last line break
        # Counted from here, not from connection_made: a burst of connections accepted
        # in one turn of the loop is made before any of them is connected.
        listener.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._listener.connections.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        end = data.rfind(b"\n")
        self._line_bytes = len(data) - end - 1 if end >= 0 else self._line_bytes + len(data)
        if self._line_bytes > MAX_LINE_BYTES:
            log.warning("inbound mail: a line over %d bytes, connection closed", MAX_LINE_BYTES)
            if self.transport is not None:
                self.transport.close()
            return
        super().data_received(data)


class _Busy(asyncio.Protocol):
    """The answer past the listener's connection limit: 421, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"421 4.3.2 Too many connections, try again later\r\n")
        transport.close()


class SmtpListener:
    """An SMTP server on our loop (aiosmtpd's protocol): every message accepted is
    handed to `on_mail(mail_from, rcpt_tos, raw)`; one it raises on is answered 451
    (the sender tries again). Messages over `max_bytes` are refused with 552; at most
    `max_connections` clients are served at once (the next is answered 421: a mail
    server tries again later)."""

    def __init__(self, on_mail: OnMail, *, max_bytes: int = MAX_INBOUND_BYTES,
                 hostname: str = "cobrador.invalid", rcpt_check: RcptCheck | None = None,
                 max_connections: int = MAX_CONNECTIONS) -> None:  # fmt: skip
        self.handler = _Handler(on_mail, rcpt_check)
        self.max_bytes = max_bytes
        self.hostname = hostname
        self.max_connections = max_connections
        # Weak: a protocol whose transport never came up leaves by itself.
        self.connections: weakref.WeakSet[_BoundedSMTP] = weakref.WeakSet()
        self.refused = 0  # connections answered 421 since start
        self._server: asyncio.Server | None = None
        self.port = 0

    def _protocol(self) -> asyncio.Protocol:
        if len(self.connections) >= self.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning("inbound mail: %d connections open, new ones refused (%d so far)",
                            len(self.connections), self.refused)  # fmt: skip
            return _Busy()
        return _BoundedSMTP(self)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
