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
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

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


def render_pdf(data: Mapping[str, Any]) -> bytes:
    """The same facts for a person, in Spanish: one table per section."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(LETTER), leftMargin=1.5 * cm,
                            rightMargin=1.5 * cm, topMargin=1.5 * cm, bottomMargin=1.5 * cm,
                            title=f"Expediente {data['account']['external_ref']}",
                            invariant=True)  # fmt: skip
    a = data["account"]

    def p(text: Any) -> Paragraph:
        return Paragraph(escape("" if text is None else str(text)), small)

    def table(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
        body = [[p(h) for h in header]] + [[p(c) for c in row] for row in rows]
        t = Table(body, colWidths=[w * cm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))  # fmt: skip
        return t

    story: list[Any] = [
        Paragraph(escape(f"Expediente para cobranza judicial: cuenta {a['external_ref']}"),
                  styles["Title"]),
        p(f"Generado {data['generated_at']} · versión {data['dossier_version']}"),
        Spacer(1, 0.3 * cm),
        table(["Deudor", "País / región", "Saldo", "Vencimiento", "Estado", "Etapa", "Campaña",
               "Acreedor"],
              [[a["debtor_name"], f"{a['country']} {a['region'] or ''}",
                f"{a['currency']} {a['balance']}", a["due_date"], a["status"], a["stage"],
                a["campaign"], a["creditor"]]],
              [4.5, 2.5, 3, 2.5, 2, 2, 3, 5]),
    ]  # fmt: skip
    handoff = data.get("handoff")
    if handoff:
        story += [Spacer(1, 0.2 * cm), p(f"Pasada a etapa legal por {handoff['by']} el "
                                         f"{handoff['at']} (antes: {handoff['from_stage']}). "
                                         f"Motivo: {handoff['reason']}")]  # fmt: skip
    story += [Spacer(1, 0.4 * cm), Paragraph("Contactos en todos los canales", styles["Heading2"]),
              table(["Fecha", "Canal", "Destino", "Resultado", "Mensaje", "Decisión", "Tipificación",
                     "Grabación (SHA-256)"],
                    [[c["started_at"], c["channel"], c["phone"] or c["address"], c["result"],
                      c["template"],
                      (f"#{c['decision']['id']} {'permitida' if c['decision']['allowed'] else 'bloqueada'} "
                       f"{' '.join(c['decision']['reasons'])} {c['decision']['profile_version']}")
                      if c["decision"] else "",
                      f"{c['disposition']['party']} {c['disposition']['outcome']}" if c["disposition"] else "",
                      (c["recording"] or {}).get("sha256") or ""]
                     for c in data["contacts"]] or [["—"] * 8],
                    [3.2, 1.6, 2.8, 1.8, 2.8, 5.2, 2.8, 4.6])]  # fmt: skip
    story += [Spacer(1, 0.4 * cm), Paragraph("Mensajes no enviados y por qué", styles["Heading2"]),
              table(["Fecha", "Canal", "Mensaje", "Estado", "Motivos"],
                    [[m["decided_at"], m["channel"], m["template"], m["status"], " ".join(m["reasons"])]
                     for m in data["messages_not_sent"]] or [["—"] * 5], [4, 2.5, 4, 3, 11])]  # fmt: skip
    story += [Spacer(1, 0.4 * cm), Paragraph("Promesas y su resultado", styles["Heading2"]),
              table(["Creada", "Monto", "Fecha comprometida", "Estado", "Pagado", "Resuelta"],
                    [[x["created_at"], f"{x['currency']} {x['amount']}", x["due_date"], x["status"],
                      x["paid_amount"], x["resolved_at"]] for x in data["promises"]] or [["—"] * 6],
                    [4, 3, 3, 2.5, 3, 4])]  # fmt: skip
    story += [Spacer(1, 0.4 * cm), Paragraph("Pagos", styles["Heading2"]),
              table(["Fecha", "Monto", "Origen"],
                    [[x["paid_at"], x["amount"], x["source"]] for x in data["payments"]] or [["—"] * 3],
                    [5, 4, 4])]  # fmt: skip
    story += [Spacer(1, 0.4 * cm), Paragraph("Notificaciones formales y acuses", styles["Heading2"]),
              table(["Fecha", "Resultado", "Guía", "Acuse de recibo", "Carta (SHA-256)"],
                    [[n["started_at"], n["result"], n.get("tracking"),
                      " ".join(f"{k}: {v}" for k, v in (n.get("receipt") or {}).items()),
                      n.get("pdf_sha256")]
                     for n in data["notices"]] or [["—"] * 5], [4, 2.5, 3.5, 6, 7])]  # fmt: skip
    doc.build(story)
    return buf.getvalue()


def build(engine: Engine, account_ref: str, now: datetime,
          handoff: Mapping[str, Any] | None = None) -> Dossier:  # fmt: skip
    with Session(engine) as s:
        account = s.scalars(select(Account).options(selectinload(Account.phones))
                            .where(Account.external_ref == account_ref)).one_or_none()  # fmt: skip
        if account is None:
            raise DossierError(f"no account {account_ref!r}")
        data = collect(s, account, now)
    if handoff is not None:
        data["handoff"] = dict(handoff)
    return Dossier(account_ref, data, render_json(data), render_pdf(data))


def move_to_legal(engine: Engine, account_ref: str, *, by: str, reason: str, now: datetime,
                  out_dir: Path) -> tuple[Dossier, Path, Path]:  # fmt: skip
    """A person's decision: the account goes to `legal` (it is never contacted again: the
    final check refuses `legal_stage`, strategies stop), and its dossier is written to
    `out_dir` as <ref>-<time>.json and .pdf, both hashed into the audit entry."""
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
    dossier = build(engine, account_ref, now, handoff)
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
