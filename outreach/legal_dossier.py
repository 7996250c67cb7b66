"""The hand-off to legal (seed 003: documentation decides the legal stage). A person moves
an account to `legal` (never a strategy); at that moment one dossier is written, JSON
for systems and PDF for people: the debt, every contact on every channel with the
decision that allowed or refused it, the strategy messages not sent and why, promises
and their fate, payments, formal notices with their receipts, recordings with their
hashes. Both files' SHA-256 go into the audit log with the move, so the dossier handed
over can be shown to be the one the system wrote."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from cobrador.ground.code_words import (
    ACCOUNT_STATUS_LABELS,
    CHANNEL_LABELS,
    N_,
    OTHER_CHANNEL,
    OTHER_STAGE,
    OTHER_STATE,
    PARTY_LABELS,
    PROMISE_STATUS_LABELS,
    STAGE_LABELS,
    STEP_STATUS_LABELS,
    Translate,
    outcome_word,
    reasons_words,
    result_word,
    template_word,
    word,
)
from cobrador.ground.money_words import money_format
from cobrador.ground.shown_time import clock, day_and_clock, in_zone, shown_time
from cobrador.ground.zone_names import zone_city
from compliance.debtor_time import debtor_zones
from store import audit
from store.db import transaction
from store.models import (
    Account,
    CallAttempt,
    Campaign,
    Decision,
    Disposition,
    OutreachStep,
    Payment,
    Promise,
    Recording,
)

DOSSIER_VERSION = 1
LEGAL = "legal"
UTC_ZONE = ZoneInfo("UTC")


class DossierError(ValueError):
    """The account cannot be handed over as asked (said to the operator, in English)."""


@dataclass(frozen=True)
class Dossier:
    account_ref: str
    data: dict[str, Any]
    json_bytes: bytes
    pdf_bytes: bytes

    @property
    def json_sha256(self) -> str:
        return hashlib.sha256(self.json_bytes).hexdigest()

    @property
    def pdf_sha256(self) -> str:
        return hashlib.sha256(self.pdf_bytes).hexdigest()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def collect(session: Session, account: Account, now: datetime) -> dict[str, Any]:
    """Everything the dossier says, as plain data (the JSON)."""
    campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
    decisions = {d.id: d for d in session.scalars(
        select(Decision).where(Decision.account_id == account.id).order_by(Decision.id))}  # fmt: skip
    attempts = session.execute(
        select(CallAttempt, Disposition)
        .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
        .where(CallAttempt.account_id == account.id)
        .order_by(CallAttempt.started_at, CallAttempt.id)
    ).all()
    recordings = {r.attempt_id: r for r in session.scalars(
        select(Recording).where(Recording.attempt_id.in_([a.id for a, _ in attempts] or [0])))}  # fmt: skip
    contacts: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    used: set[int] = set()
    for attempt, disposition in attempts:
        decision = decisions.get(attempt.decision_id) if attempt.decision_id else None
        if decision is not None:
            used.add(decision.id)
        details = dict(attempt.details or {})
        entry = {
            "attempt_id": attempt.id, "channel": attempt.channel, "direction": attempt.direction,
            "source": attempt.source, "started_at": _iso(attempt.started_at),
            "ended_at": _iso(attempt.ended_at), "result": attempt.result,
            "phone": attempt.phone_e164, "address": attempt.address,
            "debtor_local_time": attempt.debtor_local_time,
            "right_party_contact": attempt.right_party_contact,
            "template": details.get("template"), "stage": details.get("stage"),
            "text": details.get("text"), "provider_id": attempt.uniqueid,
            "decision": _decision(decision),
            "disposition": None if disposition is None else {
                "party": disposition.party, "outcome": disposition.outcome,
                "notes": disposition.notes, "at": _iso(disposition.created_at)},
            "recording": _recording(recordings.get(attempt.id)),
        }  # fmt: skip
        contacts.append(entry)
        if attempt.channel == "letter":
            # The letter channel's own record (outreach/channels/letter.py): the rendered
            # PDF's hash, the carrier's tracking number, the acknowledgement of receipt.
            notices.append({**entry, "pdf_sha256": details.get("pdf_sha256"),
                            "tracking": details.get("tracking_number"),
                            "receipt": {"acknowledged_at": details.get("acknowledged_at"),
                                        "received_by": details.get("received_by")}
                            if details.get("acknowledged_at") else None,
                            "history": details.get("history")})  # fmt: skip
    unsent: list[dict[str, Any]] = [
        {"step": s.key, "stage": s.stage, "channel": s.channel, "template": s.template,
         "status": s.status, "reasons": list(s.reasons or []), "decided_at": _iso(s.decided_at),
         "decision": _decision(decisions.get(s.decision_id) if s.decision_id else None)}
        for s in session.scalars(select(OutreachStep).where(
            OutreachStep.account_id == account.id, OutreachStep.attempt_id.is_(None),
            OutreachStep.status.in_(("blocked", "waiting", "failed", "uncertain")))
            .order_by(OutreachStep.decided_at))
    ]  # fmt: skip
    used |= {int(d["decision"]["id"]) for d in unsent if d["decision"]}
    promises = [
        {"id": p.id, "amount": _money(p.amount), "currency": p.currency,
         "due_date": p.due_date.isoformat(), "status": p.status, "paid_amount": _money(p.paid_amount),
         "created_at": _iso(p.created_at), "resolved_at": _iso(p.resolved_at),
         "plan_id": p.plan_id, "instalment": p.instalment, "attempt_id": p.attempt_id}
        for p in session.scalars(select(Promise).where(Promise.account_id == account.id)
                                 .order_by(Promise.created_at, Promise.id))
    ]  # fmt: skip
    payments = [
        {"amount": _money(p.amount), "paid_at": _iso(p.paid_at), "source": p.source}
        for p in session.scalars(select(Payment).where(Payment.account_id == account.id)
                                 .order_by(Payment.paid_at))
    ]  # fmt: skip
    other_decisions = [_decision(d) for i, d in decisions.items() if i not in used]
    return {
        "dossier_version": DOSSIER_VERSION,
        "generated_at": _iso(now),
        "account": {
            "id": account.id,
            "external_ref": account.external_ref,
            "debtor_name": account.debtor_name,
            "country": account.country,
            "region": account.region,
            "currency": account.currency,
            "balance": _money(account.balance),
            "due_date": _iso_date(account),
            "status": account.status,
            "stage": account.stage,
            "stage_entered_at": _iso(account.stage_entered_at),
            "campaign": campaign.name if campaign else None,
            "creditor": (campaign.config or {}).get("creditor") if campaign else None,
            "phones": [
                {
                    "number": ph.number_e164,
                    "type": ph.phone_type,
                    "status": ph.status,
                    "consent": ph.consent,
                    "consent_ref": ph.consent_ref,
                }
                for ph in account.phones
            ],
        },  # fmt: skip
        "contacts": contacts,
        "messages_not_sent": unsent,
        "other_decisions": other_decisions,  # checks with no attempt (hopper, plans, visits)
        "promises": promises,
        "payments": payments,
        "notices": notices,
        "recordings": [c["recording"] for c in contacts if c["recording"]],
    }


def _iso_date(account: Account) -> str | None:
    return account.due_date.isoformat() if account.due_date else None


def _decision(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"id": d.id, "stage": d.stage, "allowed": d.allowed, "reasons": list(d.reasons or []),
            "profile_version": d.profile_version, "registry_versions": dict(d.registry_versions or {}),
            "local_time": d.local_time, "timezone": d.timezone,
            "evaluated_at": _iso(d.evaluated_at)}  # fmt: skip


def _recording(r: Recording | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"attempt_id": r.attempt_id, "storage_key": r.storage_key, "status": r.status,
            "sha256": r.sha256, "size_bytes": r.size_bytes,
            "duration_s": _money(r.duration_s), "legal_hold": r.legal_hold,
            "purged_at": _iso(r.purged_at)}  # fmt: skip


def render_json(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


# The dossier's own words (Spanish msgids; English in the console's catalog).
TITLE = N_("Expediente para cobranza judicial: cuenta {ref}")
GENERATED = N_("Generado {fecha} · versión {version} · horas en la zona del deudor ({zona})")
HANDOFF = N_("Pasada a etapa legal por {quien} el {fecha} (antes: {etapa}). Motivo: {motivo}")
ALLOWED, REFUSED = N_("permitida"), N_("bloqueada")
PROFILE = N_("perfil {version}")
RECEIPT = N_("Recibió {quien}, {fecha}")
PAYMENT_SOURCES = {"import": N_("Archivo de pagos importado")}
ACCOUNT_HEADER = (N_("Deudor"), N_("País / región"), N_("Saldo"), N_("Vencimiento"),
                  N_("Estado"), N_("Etapa"), N_("Campaña"), N_("Acreedor"))  # fmt: skip
SECTIONS = {
    "contacts": (N_("Contactos en todos los canales"),
                 (N_("Fecha"), N_("Canal"), N_("Destino"), N_("Resultado"), N_("Mensaje"),
                  N_("Decisión"), N_("Tipificación"), N_("Grabación (SHA-256)"))),
    "unsent": (N_("Mensajes no enviados y por qué"),
               (N_("Fecha"), N_("Canal"), N_("Mensaje"), N_("Estado"), N_("Motivos"))),
    "promises": (N_("Promesas y su resultado"),
                 (N_("Creada"), N_("Monto"), N_("Fecha comprometida"), N_("Estado"),
                  N_("Pagado"), N_("Resuelta"))),
    "payments": (N_("Pagos"), (N_("Fecha"), N_("Monto"), N_("Origen"))),
    "notices": (N_("Notificaciones formales y acuses"),
                (N_("Fecha"), N_("Resultado"), N_("Guía"), N_("Acuse de recibo"),
                 N_("Carta (SHA-256)"))),
}  # fmt: skip
LOCALES = {"es": "es_MX", "en": "en"}
LANGUAGES = tuple(LOCALES)


def check_language(lang: str) -> str:
    """``lang`` when the dossier can be written in it; DossierError otherwise."""
    if lang not in LOCALES:
        raise DossierError(f"no dossier in {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


def _spanish(message: str) -> str:
    return message


@dataclass(frozen=True)
class Readable:
    """The words the PDF prints, in the reader's language, before any layout: its
    title, the lines under it, the account's row, then each section's heading,
    header and rows. Times are said in the debtor's zone with its city, and in UTC
    beside them where they are evidence."""

    title: str
    lines: tuple[str, ...]
    account_header: tuple[str, ...]
    account_row: tuple[str, ...]
    sections: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]], ...]

    def text(self) -> str:
        rows = [
            self.title,
            *self.lines,
            " | ".join(self.account_header),
            " | ".join(self.account_row),
        ]
        for heading, header, body in self.sections:
            rows += [heading, " | ".join(header), *(" | ".join(r) for r in body)]
        return "\n".join(rows)


def readable(data: Mapping[str, Any], zone: ZoneInfo, tr: Translate = _spanish,
             lang: str = "es") -> Readable:  # fmt: skip
    """The dossier's data in words: codes as their labels (cobrador/ground/code_words.py),
    times as "6 dic 2026, 14:05 (Ciudad de México) · 20:05 UTC", amounts in the account's
    locale and currency as the console shows them ("$12.500,00 COP"), whatever the
    reader's language. Pure."""
    locale = LOCALES[check_language(lang)]
    a = data["account"]

    def money(value: Any, currency: Any = None) -> str:
        if value in (None, ""):
            return ""
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        return money_format(a["country"], currency or a["currency"]).show(amount)

    def when(iso: Any) -> str:
        at = _parse(iso)
        if at is None:
            return "" if iso in (None, "") else str(iso)
        utc = at.astimezone(UTC)
        said = shown_time(at, zone, locale)
        if zone.key in ("UTC", "Etc/UTC"):
            return said
        same_day = in_zone(at, zone).date() == utc.date()
        return f"{said} · {clock(utc, UTC_ZONE, locale) if same_day else day_and_clock(utc, UTC_ZONE, locale)} UTC"

    def day(iso: Any) -> str:
        try:
            return (
                str(format_date(date.fromisoformat(str(iso)), "medium", locale=locale))
                if iso
                else ""
            )
        except ValueError:
            return str(iso)

    def fill(msgid: str, **values: Any) -> str:
        text = tr(msgid)
        for key, value in values.items():
            text = text.replace("{" + key + "}", "" if value is None else str(value))
        return text

    def decision(d: Mapping[str, Any] | None) -> str:
        if not d:
            return ""
        words = f"#{d['id']} {tr(ALLOWED if d['allowed'] else REFUSED)}"
        if d["reasons"]:
            words += f": {reasons_words(d['reasons'], tr)}"
        return f"{words} · {fill(PROFILE, version=d['profile_version'])}"

    def receipt(r: Mapping[str, Any] | None) -> str:
        if not r:
            return ""
        return fill(
            RECEIPT, quien=r.get("received_by") or "—", fecha=when(r.get("acknowledged_at"))
        )

    lines = [fill(GENERATED, fecha=when(data["generated_at"]), version=data["dossier_version"],
                  zona=zone_city(zone, locale))]  # fmt: skip
    handoff = data.get("handoff")
    if handoff:
        lines.append(fill(HANDOFF, quien=handoff["by"], fecha=when(handoff["at"]),
                          etapa=word(STAGE_LABELS, handoff["from_stage"], tr, OTHER_STAGE),
                          motivo=handoff["reason"]))  # fmt: skip
    contacts = tuple(
        (when(c["started_at"]), word(CHANNEL_LABELS, c["channel"], tr, OTHER_CHANNEL), c["phone"] or c["address"] or "",
         result_word(c["channel"], c["result"], tr), template_word(c["template"], tr),
         decision(c["decision"]),
         f"{word(PARTY_LABELS, c['disposition']['party'], tr)}: "
         f"{outcome_word(c['channel'], c['disposition']['outcome'], tr)}" if c["disposition"] else "",
         (c["recording"] or {}).get("sha256") or "")
        for c in data["contacts"])  # fmt: skip
    unsent = tuple(
        (when(m["decided_at"]), word(CHANNEL_LABELS, m["channel"], tr, OTHER_CHANNEL), template_word(m["template"], tr),
         word(STEP_STATUS_LABELS, m["status"], tr, OTHER_STATE), reasons_words(m["reasons"], tr))
        for m in data["messages_not_sent"])  # fmt: skip
    promises = tuple(
        (when(x["created_at"]), money(x["amount"], x["currency"]), day(x["due_date"]),
         word(PROMISE_STATUS_LABELS, x["status"], tr, OTHER_STATE),
         money(x["paid_amount"], x["currency"]),
         when(x["resolved_at"]))
        for x in data["promises"])  # fmt: skip
    payments = tuple(
        (when(x["paid_at"]), money(x["amount"]),
         tr(PAYMENT_SOURCES[x["source"]]) if x["source"] in PAYMENT_SOURCES else str(x["source"] or ""))
        for x in data["payments"])  # fmt: skip
    notices = tuple(
        (when(n["started_at"]), result_word(n["channel"], n["result"], tr), str(n.get("tracking") or ""),
         receipt(n.get("receipt")), str(n.get("pdf_sha256") or ""))
        for n in data["notices"])  # fmt: skip
    bodies = {"contacts": contacts, "unsent": unsent, "promises": promises, "payments": payments,
              "notices": notices}  # fmt: skip
    return Readable(
        title=fill(TITLE, ref=a["external_ref"]),
        lines=tuple(lines),
        account_header=tuple(tr(h) for h in ACCOUNT_HEADER),
        account_row=(a["debtor_name"] or "", f"{a['country']} {a['region'] or ''}".strip(),
                     money(a["balance"]), day(a["due_date"]),
                     word(ACCOUNT_STATUS_LABELS, a["status"], tr, OTHER_STATE),
                     word(STAGE_LABELS, a["stage"], tr, OTHER_STAGE), a["campaign"] or "", a["creditor"] or ""),
        sections=tuple((tr(heading), tuple(tr(h) for h in header),
                        bodies[key] or (("—",) * len(header),))
                       for key, (heading, header) in SECTIONS.items()),
    )  # fmt: skip


def _parse(iso: Any) -> datetime | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


WIDTHS: dict[str, list[float]] = {"contacts": [3.6, 1.6, 2.6, 1.8, 2.6, 5.0, 2.8, 4.6], "unsent": [4.5, 2.5, 4, 3, 10.5],
          "promises": [4.5, 3, 3, 2.5, 3, 4.5], "payments": [5, 4, 4],
          "notices": [4.5, 2.5, 3.5, 6, 7]}  # fmt: skip


def render_pdf(data: Mapping[str, Any], zone: ZoneInfo = UTC_ZONE, tr: Translate = _spanish,
               lang: str = "es") -> bytes:  # fmt: skip
    """The same facts for a person, Spanish first (``tr``/``lang`` for another language):
    one table per section, the words of `readable`."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    words = readable(data, zone, tr, lang)
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(LETTER), leftMargin=1.5 * cm,
                            rightMargin=1.5 * cm, topMargin=1.5 * cm, bottomMargin=1.5 * cm,
                            title=words.title, invariant=True)  # fmt: skip

    def p(text: Any) -> Paragraph:
        return Paragraph(escape("" if text is None else str(text)), small)

    def table(
        header: tuple[str, ...], rows: tuple[tuple[str, ...], ...], widths: list[float]
    ) -> Table:
        body = [[p(h) for h in header]] + [[p(c) for c in row] for row in rows]
        t = Table(body, colWidths=[w * cm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))  # fmt: skip
        return t

    story: list[Any] = [Paragraph(escape(words.title), styles["Title"]), p(words.lines[0]),
                        Spacer(1, 0.3 * cm),
                        table(words.account_header, (words.account_row,), [4.5, 2.5, 3, 2.5, 2, 2, 3, 5])]  # fmt: skip
    for line in words.lines[1:]:
        story += [Spacer(1, 0.2 * cm), p(line)]
    for key, (heading, header, rows) in zip(SECTIONS, words.sections, strict=True):
        story += [Spacer(1, 0.4 * cm), Paragraph(escape(heading), styles["Heading2"]),
                  table(header, rows, WIDTHS[key])]  # fmt: skip
    doc.build(story)
    return buf.getvalue()


def build(engine: Engine, account_ref: str, now: datetime,
          handoff: Mapping[str, Any] | None = None, *, tr: Translate = _spanish,
          lang: str = "es") -> Dossier:  # fmt: skip
    """The dossier of one account; its PDF Spanish unless ``tr``/``lang`` say otherwise
    (the console's catalog translates the Spanish msgids), its times in the debtor's
    zone (compliance/timezones.py's first candidate; UTC when none is known)."""
    check_language(lang)
    with Session(engine) as s:
        account = s.scalars(select(Account).options(selectinload(Account.phones))
                            .where(Account.external_ref == account_ref)).one_or_none()  # fmt: skip
        if account is None:
            raise DossierError(f"no account {account_ref!r}")
        data = collect(s, account, now)
        zone = debtor_zone(account)
    if handoff is not None:
        data["handoff"] = dict(handoff)
    return Dossier(account_ref, data, render_json(data), render_pdf(data, zone, tr, lang))


def debtor_zone(account: Account) -> ZoneInfo:
    phone = account.phones[0].number_e164 if account.phones else None
    zones = debtor_zones(account.timezone, account.country, account.region, phone)
    return zones[0] if zones else UTC_ZONE


def move_to_legal(engine: Engine, account_ref: str, *, by: str, reason: str, now: datetime,
                  out_dir: Path, tr: Translate = _spanish,
                  lang: str = "es") -> tuple[Dossier, Path, Path]:  # fmt: skip
    """A person's decision: the account goes to `legal` (it is never contacted again: the
    final check refuses `legal_stage`, strategies stop), and its dossier is written to
    `out_dir` as <ref>-<time>.json and .pdf (its words in ``lang``), both hashed into the
    audit entry."""
    check_language(lang)
    if not by.strip():
        raise DossierError("say who moves the account to legal (--by): a person decides it")
    if not reason.strip():
        raise DossierError("say why (--reason): the dossier and the audit log keep it")
    with transaction(engine) as s:
        account = s.scalars(select(Account).where(Account.external_ref == account_ref)
                            .with_for_update()).one_or_none()  # fmt: skip
        if account is None:
            raise DossierError(f"no account {account_ref!r}")
        if account.stage == LEGAL:
            raise DossierError(f"account {account_ref} is already in legal")
        before = account.stage
        account.stage, account.stage_explicit, account.stage_entered_at = LEGAL, True, now
        account.next_step_at = None
    handoff = {"by": by, "reason": reason, "at": _iso(now), "from_stage": before}
    dossier = build(engine, account_ref, now, handoff, tr=tr, lang=lang)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{_safe(account_ref)}-{now.strftime('%Y%m%dT%H%M%SZ')}"
    json_path, pdf_path = out_dir / f"{stem}.json", out_dir / f"{stem}.pdf"
    json_path.write_bytes(dossier.json_bytes)
    pdf_path.write_bytes(dossier.pdf_bytes)
    with transaction(engine) as s:
        account_id = dossier.data["account"]["id"]
        audit.append(s, "account_change", {
            "account_id": account_id, "stage": LEGAL, "stage_before": before, "by": by,
            "reason": reason, "at": now, "dossier_json_sha256": dossier.json_sha256,
            "dossier_pdf_sha256": dossier.pdf_sha256, "dossier_files": [json_path.name, pdf_path.name],
        }, actor=by, subject=f"account:{account_id}")  # fmt: skip
    return dossier, json_path, pdf_path


def _safe(ref: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in ref)[:64]
