"""Formal notices by post ("notificaciones formales por correo certificado o mensajería
con acuse de recibo", seed 001): each letter is rendered to PDF (reportlab) when its
step is sent and kept with its SHA-256 as evidence; the day's letters are batched into
one PDF and a manifest for the mail room; the carrier's tracking numbers and
acknowledgements of receipt are imported back into each letter's attempt.

The attempt's status: `sent` once rendered and queued for the mail room, `delivered`
when the acknowledgement of receipt comes back, `failed` when the letter is returned.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer
from sqlalchemy import Engine, select

from cobrador.ground.errors import UserError
from compliance.debtor_time import account_day, local_days
from compliance.timezones import country_zones
from outreach.channels import MessageNotSent, MessageStatus, OptOut, Outgoing, StatusReport
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import Listener, MessageChannel, OnOutcome
from store import audit
from store.db import transaction
from store.models import Account, CallAttempt, ContactChannel
from store.spreadsheet import SafeWriter

MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
          "septiembre", "octubre", "noviembre", "diciembre")  # fmt: skip
RECEIPT_COLUMNS = ("referencia", "guia", "evento", "fecha", "recibio")
EVENTS = {"entregado": MessageStatus.delivered, "devuelto": MessageStatus.failed,
          "en_transito": None}  # fmt: skip
MAX_RECEIPT_ROWS = 100_000
MAX_REPORTED = 50  # bad rows printed, as the imports print them


@dataclass(frozen=True)
class Letter:
    reference: str
    day: str  # ISO date of the batch it belongs to
    sender: str
    recipient: str
    address: str
    subject: str
    text: str


def _spanish_date(day: date) -> str:
    return f"{day.day} de {MONTHS[day.month - 1]} de {day.year}"


def _story(letter: Letter, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    body = styles["BodyText"]
    story: list[Flowable] = [
        Paragraph(escape(letter.sender), styles["Heading2"]),
        Paragraph(_spanish_date(date.fromisoformat(letter.day)), body),
        Spacer(1, 0.6 * cm),
        Paragraph(escape(letter.recipient), body),
        Paragraph(escape(letter.address).replace("\n", "<br/>"), body),
        Spacer(1, 0.6 * cm),
        Paragraph(f"<b>Asunto:</b> {escape(letter.subject)}", body),
        Spacer(1, 0.4 * cm),
    ]  # fmt: skip
    for paragraph in letter.text.split("\n\n"):
        if paragraph.strip():
            story.append(Paragraph(escape(paragraph.strip()).replace("\n", "<br/>"), body))
            story.append(Spacer(1, 0.3 * cm))
    story.append(Spacer(1, 1 * cm))
    story.append(Paragraph(f"Referencia: {escape(letter.reference)}", styles["Italic"]))
    return story


def render(letters: Sequence[Letter]) -> bytes:
    """One PDF: each letter from a new page."""
    if not letters:
        raise ValueError("no letters to render")
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=LETTER, leftMargin=2.5 * cm, rightMargin=2.5 * cm,
                            topMargin=2.5 * cm, bottomMargin=2.5 * cm,
                            title="Notificaciones", author=letters[0].sender)  # fmt: skip
    styles = getSampleStyleSheet()
    story: list[Flowable] = []
    for index, letter in enumerate(letters):
        if index:
            story.append(PageBreak())
        story.extend(_story(letter, styles))  # type: ignore[arg-type]
    doc.build(story)
    return out.getvalue()


def _letter_of(details: dict[str, object]) -> Letter:
    return Letter(**{k: str(details[f"letter_{k}"]) for k in Letter.__dataclass_fields__})


class MailRoomTransport:
    """Renders each letter into `directory/<day>/<reference>.pdf`."""

    def __init__(self, engine: Engine, book: DeliveryBook, directory: Path,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.engine = engine
        self.book = book
        self.directory = directory
        self.clock = clock
        self._listener: Listener | None = None

    def listen(self, listener: Listener) -> None:
        self._listener = listener

    async def send(self, message: Outgoing) -> str:
        return await asyncio.to_thread(self._render, message)

    def _render(self, message: Outgoing) -> str:
        attempt = message.attempt
        if not attempt.address.strip():
            raise MessageNotSent("a letter needs a postal address")
        with transaction(self.engine) as s:
            account = s.get(Account, attempt.account_id)
            recipient = account.debtor_name if account is not None else ""
            # Dated and filed on the debtor's date (the earliest of their zones'), not
            # UTC's: at 19:30 in Mexico City UTC's date is already tomorrow.
            now = self.clock()
            day = (account_day(now, account) if account is not None else now.date()).isoformat()
        letter = Letter(f"L{attempt.attempt_id}-{secrets.token_hex(4)}", day, attempt.sender,
                        recipient, attempt.address, message.subject or "Notificación formal",
                        message.text)  # fmt: skip
        pdf = render([letter])
        folder = self.directory / day
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{letter.reference}.pdf"
        path.write_bytes(pdf)
        self.book.annotate(attempt.attempt_id, {
            "pdf": str(path), "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
            **{f"letter_{k}": v for k, v in letter.__dict__.items()},
        })  # fmt: skip
        return letter.reference


def letter_channel(engine: Engine, book: DeliveryBook, directory: Path, *, opt_out: OptOut,
                   on_outcome: OnOutcome | None = None) -> MessageChannel:  # fmt: skip
    return MessageChannel(ContactChannel.letter, MailRoomTransport(engine, book, directory), book,
                          opt_out=opt_out, on_outcome=on_outcome)  # fmt: skip


# --- the mail room -----------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    day: str
    pdf: Path
    manifest: Path
    letters: int


def batch_today(now: datetime, countries: Iterable[str]) -> date:
    """The mail room's "today" (`letters batch` without --day): the earliest date in the
    zones of `countries` (the campaigns'), the day every debtor of them is on at least;
    a letter is filed on its debtor's date (the earliest of their zones'), so a batch
    of this day never waits for a day not yet begun anywhere. UTC's date for no
    country we know zones of; never UTC's otherwise: 00:00 UTC is 18:00 of the day
    before in Mexico City."""
    zones = tuple(dict.fromkeys(z for c in sorted(set(countries)) for z in country_zones(c)))
    return local_days(now, zones)[0]


def batch_day(engine: Engine, directory: Path, day: date, *, actor: str = "mailroom") -> Batch:
    """The day's letters not batched yet, as one PDF and a manifest (CSV) for the mail
    room; each letter's attempt notes its batch. UserError when there are none."""
    iso = day.isoformat()
    with transaction(engine) as s:
        rows = [r for r in s.scalars(
            select(CallAttempt).where(CallAttempt.channel == ContactChannel.letter.value,
                                      CallAttempt.result == MessageStatus.sent.value)
            .order_by(CallAttempt.id)
        ) if (r.details or {}).get("letter_day") == iso and not (r.details or {}).get("batch")]  # fmt: skip
        if not rows:
            raise UserError(f"no letters to batch for {iso}")
        letters = [_letter_of(dict(r.details or {})) for r in rows]
        folder = directory / iso
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%H%M%S")
        pdf_path = folder / f"lote-{iso}-{stamp}.pdf"
        pdf_path.write_bytes(render(letters))
        manifest = folder / f"manifiesto-{iso}-{stamp}.csv"
        with manifest.open("w", newline="", encoding="utf-8") as fh:
            out = SafeWriter(fh)  # addresses and names are the debtor's: never a formula
            out.writerow(["referencia", "cuenta", "destinatario", "direccion", "pdf_sha256"])
            for row, letter in zip(rows, letters, strict=True):
                out.writerow([letter.reference, row.account_id, letter.recipient,
                              letter.address.replace("\n", ", "), (row.details or {})["pdf_sha256"]])  # fmt: skip
        for row in rows:
            row.details = {**(row.details or {}), "batch": pdf_path.name}
        audit.append(s, "letter_batch", {
            "day": iso, "file": pdf_path.name, "letters": [r.id for r in rows],
            "sha256": hashlib.sha256(pdf_path.read_bytes()).hexdigest(),
        }, actor=actor)  # fmt: skip
    return Batch(iso, pdf_path, manifest, len(rows))


@dataclass(frozen=True)
class Receipt:
    line: int
    reference: str
    tracking: str
    event: str
    at: datetime
    received_by: str


def read_receipts(lines: Iterable[str]) -> list[Receipt]:
    """The carrier's file: referencia, guia, evento (entregado | devuelto | en_transito),
    fecha (ISO 8601), recibio. Every bad row is reported at once (UserError)."""
    reader = csv.DictReader(lines)
    try:
        missing = [c for c in RECEIPT_COLUMNS[:4] if c not in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise UserError(f"receipts file: line 1 is not CSV ({exc})") from exc
    if missing:
        raise UserError(f"receipts file: missing columns {', '.join(missing)}")
    try:
        return _receipts(reader)
    except csv.Error as exc:
        raise UserError(f"receipts file: line {reader.line_num + 1} is not CSV ({exc})") from exc


def _receipts(reader: csv.DictReader[str]) -> list[Receipt]:
    found, errors = [], []
    for number, row in enumerate(reader, start=2):
        if number > MAX_RECEIPT_ROWS + 1:
            raise UserError(f"receipts file: over {MAX_RECEIPT_ROWS} rows")
        problems = []
        reference, tracking = (row.get("referencia") or "").strip(), (row.get("guia") or "").strip()
        event = (row.get("evento") or "").strip().lower()
        if not reference or len(reference) > 64:
            problems.append("referencia missing or too long")
        if not tracking or len(tracking) > 64:
            problems.append("guia missing or too long")
        if event not in EVENTS:
            problems.append(f"evento {event[:20]!r} is not entregado, devuelto or en_transito")
        if any("\x00" in str(value) for value in row.values()):
            problems.append("a NUL character (byte 0x00): save the file as CSV UTF-8")
        try:
            at = datetime.fromisoformat((row.get("fecha") or "").strip())
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
        except ValueError:
            problems.append("fecha is not an ISO 8601 date")
            at = datetime.now(UTC)
        if problems:
            errors.append(f"line {number}: {'; '.join(problems)}")
        else:
            found.append(Receipt(number, reference, tracking, event, at,
                                 (row.get("recibio") or "").strip()[:200]))  # fmt: skip
    if errors:
        more = f"\n... and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
        raise UserError("receipts file refused, nothing imported:\n"
                        + "\n".join(errors[:MAX_REPORTED]) + more)  # fmt: skip
    return found


async def import_receipts(channel: MessageChannel, receipts: Sequence[Receipt]) -> int:
    """Every receipt or none: a reference no letter carries refuses the whole file."""
    book = channel.book
    attempts = {r.reference: book.find(ContactChannel.letter, r.reference) for r in receipts}
    unknown = [
        f"line {r.line}: no letter {r.reference!r}"
        for r in receipts
        if attempts[r.reference] is None
    ]
    if unknown:
        raise UserError("receipts file refused, nothing imported:\n" + "\n".join(unknown))
    for receipt in receipts:
        found = attempts[receipt.reference]
        assert found is not None
        values: dict[str, object] = {"tracking_number": receipt.tracking}
        if receipt.event == "entregado":
            values.update(acknowledged_at=receipt.at.isoformat(), received_by=receipt.received_by)
        book.annotate(found[0], values)
        status = EVENTS[receipt.event]
        if status is not None:
            error = "devuelto al remitente" if status == MessageStatus.failed else None
            await channel.on_report(StatusReport(ContactChannel.letter, receipt.reference, status,
                                                 receipt.at, error))  # fmt: skip
    return len(receipts)
