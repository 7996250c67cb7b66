"""Read-only queries of the auditor pages: attempts and decisions with filters.

Attempts are every call, outbound and inbound: an inbound call from a caller who
matched no account (or withheld the number) has no account, and still belongs in
every search and export that its filters select.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, String, cast, select
from sqlalchemy.orm import Session

from console.i18n import N_
from console.params import plausible_year
from store.audit import append as audit_append
from store.db import transaction
from store.models import (
    Account,
    AttemptResult,
    CallAttempt,
    Decision,
    Disposition,
    Recording,
    User,
)
from store.text_fold import fold, folded

PAGE_LIMIT = 200
DIRECTIONS = ("inbound", "outbound")
EXPORT_LIMIT = 100_000
# The address filter (an e-mail or a postal address, decisions.address and
# call_attempts.address: 320 characters): a part of it, at least 3 characters.
ADDRESS_MIN = 3
ADDRESS_MAX = 320


class FilterError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(str(errors))
        self.errors = errors


@dataclass(frozen=True)
class Filters:
    account_ref: str = ""
    phone: str = ""
    # Case- and accent-insensitive, anywhere in the e-mail or postal address
    # (store/text_fold.py): "juarez" finds "Av. Juárez 12", "@EXAMPLE.MX" an e-mail.
    address: str = ""
    agent: str = ""
    date_from: date | None = None
    date_to: date | None = None
    result: str = ""
    reason: str = ""
    allowed: str = ""  # "", "allowed", "blocked"
    direction: str = ""  # "", "inbound", "outbound" (attempts only)
    recording: str = ""  # "", "with": only attempts that have a recording row (attempts only)

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.account_ref,
                self.phone,
                self.address,
                self.agent,
                self.date_from,
                self.date_to,
                self.result,
                self.reason,
                self.allowed,
                self.direction,
                self.recording,
            )
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "account_ref": self.account_ref,
            "phone": self.phone,
            "address": self.address,
            "agent": self.agent,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "result": self.result,
            "reason": self.reason,
            "allowed": self.allowed,
            "direction": self.direction,
            "recording": self.recording,
        }


def parse_filters(query: dict[str, str]) -> Filters:
    errors: dict[str, str] = {}

    def day(name: str) -> date | None:
        raw = query.get(name, "").strip()
        if not raw:
            return None
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            errors[name] = N_("Fecha no válida; use AAAA-MM-DD.")
            return None
        if not plausible_year(value):
            errors[name] = N_("Fecha fuera de rango (años 1900 a 2999).")
            return None
        return value

    date_from, date_to = day("date_from"), day("date_to")
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = N_("La fecha final es anterior a la inicial.")
    result = query.get("result", "").strip()
    if result and result not in {r.value for r in AttemptResult}:
        errors["result"] = N_("Resultado desconocido.")
    allowed = query.get("allowed", "").strip()
    if allowed not in ("", "allowed", "blocked"):
        errors["allowed"] = N_("Valor no válido.")
    direction = query.get("direction", "").strip()
    if direction not in ("", *DIRECTIONS):
        errors["direction"] = N_("Valor no válido.")
    recording = query.get("recording", "").strip()
    if recording not in ("", "with"):
        errors["recording"] = N_("Valor no válido.")
    phone = "".join(ch for ch in query.get("phone", "") if ch.isdigit() or ch == "+")
    address, address_error = _address(query.get("address", ""))
    if address_error:
        errors["address"] = address_error
    reason = query.get("reason", "").strip()
    if reason and not reason.replace("_", "").isalnum():
        errors["reason"] = N_("Código de motivo no válido.")
    if errors:
        raise FilterError(errors)
    return Filters(
        account_ref=query.get("account_ref", "").strip()[:64],
        phone=phone[:20],
        address=address,
        agent=query.get("agent", "").strip()[:64],
        date_from=date_from,
        date_to=date_to,
        result=result,
        reason=reason,
        allowed=allowed,
        direction=direction,
        recording=recording,
    )


def _address(raw: str) -> tuple[str, str]:
    """The address searched for, or the reason it cannot be: a space of any kind (a
    non-breaking one pasted from a document) is a space; a line break, a tab, a
    control or invisible formatting character is refused, never dropped unseen."""
    stripped = raw.strip()
    if not stripped:
        return "", ""
    if len(stripped) > ADDRESS_MAX:
        return "", N_("La dirección buscada pasa de 320 caracteres.")
    text = "".join(" " if unicodedata.category(c) == "Zs" else c for c in stripped)
    if not text.isprintable():
        return "", N_(
            "La dirección buscada lleva saltos de línea, tabuladores o caracteres de control."
        )
    if len(text) < ADDRESS_MIN:
        return "", N_("Escriba al menos 3 caracteres de la dirección.")
    return text, ""


def _address_match(column: Any, address: str) -> Any:
    return folded(column).contains(fold(address), autoescape=True)


def _range(f: Filters) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(f.date_from, time(), UTC) if f.date_from else None
    end = datetime.combine(f.date_to + timedelta(days=1), time(), UTC) if f.date_to else None
    return start, end


def _phone_match(column: Any, phone: str) -> Any:
    digits = phone.lstrip("+")
    return column.like(f"%{digits}")


def search_attempts(engine: Engine, f: Filters, limit: int = PAGE_LIMIT) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        return _attempts(session, f, limit)


def _attempts(session: Session, f: Filters, limit: int) -> list[dict[str, Any]]:
    q = (
        select(
            CallAttempt,
            Account.external_ref,
            Account.debtor_name,
            User.username,
            Disposition,
            Recording.status,
            Recording.purged_at,
        )  # fmt: skip
        .outerjoin(Account, Account.id == CallAttempt.account_id)
        .outerjoin(Recording, Recording.attempt_id == CallAttempt.id)
        .outerjoin(User, User.id == CallAttempt.agent_id)
        .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
    )
    start, end = _range(f)
    if f.account_ref:
        q = q.where(Account.external_ref == f.account_ref)
    if f.phone:
        q = q.where(_phone_match(CallAttempt.phone_e164, f.phone))
    if f.address:
        q = q.where(_address_match(CallAttempt.address, f.address))
    if f.agent:
        q = q.where(User.username == f.agent)
    if start:
        q = q.where(CallAttempt.started_at >= start)
    if end:
        q = q.where(CallAttempt.started_at < end)
    if f.result:
        q = q.where(CallAttempt.result == f.result)
    if f.direction:
        q = q.where(CallAttempt.direction == f.direction)
    if f.recording:
        q = q.where(Recording.id.is_not(None))
    if f.reason:
        q = q.join(Decision, Decision.id == CallAttempt.decision_id).where(
            cast(Decision.reasons, String).like(f'%"{f.reason}"%')
        )
    rows = session.execute(
        q.order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc()).limit(limit)
    ).all()
    return [
        {
            "id": a.id,
            "account_id": a.account_id,
            "account_ref": ref or "",
            "debtor_name": name or "",
            "direction": a.direction,
            "channel": a.channel or "call",
            # Inbound: the caller's number, '' when withheld or unusable.
            "phone": a.phone_e164 or "",
            "campaign_id": a.campaign_id,
            "agent": username or "",
            "started_at": a.started_at.isoformat(),
            "ended_at": a.ended_at.isoformat() if a.ended_at else "",
            "duration_seconds": int((a.ended_at - a.started_at).total_seconds())
            if a.ended_at
            else "",
            # Asterisk's (Q.850) cause of the hang-up, when it reported one.
            "hangup_cause": a.hangup_cause if a.hangup_cause is not None else "",
            "result": a.result or "",
            "right_party_contact": a.right_party_contact,
            "decision_id": a.decision_id,
            "caller_id": a.caller_id or "",
            "party": d.party if d else "",
            "outcome": d.outcome if d else "",
            # "" no recording, "purged" past its retention, else the row's status (ok, ...).
            "recording": "purged" if purged_at else (rec_status or ""),
        }
        for a, ref, name, username, d, rec_status, purged_at in rows
    ]


def search_decisions(engine: Engine, f: Filters, limit: int = PAGE_LIMIT) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        q = select(Decision, Account.external_ref).outerjoin(
            Account, Account.id == Decision.account_id
        )
        start, end = _range(f)
        if f.account_ref:
            q = q.where(Account.external_ref == f.account_ref)
        if f.phone:
            q = q.where(_phone_match(Decision.phone_e164, f.phone))
        if f.address:
            q = q.where(_address_match(Decision.address, f.address))
        if start:
            q = q.where(Decision.evaluated_at >= start)
        if end:
            q = q.where(Decision.evaluated_at < end)
        if f.allowed:
            q = q.where(Decision.allowed.is_(f.allowed == "allowed"))
        if f.reason:
            q = q.where(cast(Decision.reasons, String).like(f'%"{f.reason}"%'))
        if f.agent:
            q = q.where(
                Decision.id.in_(
                    select(CallAttempt.decision_id)
                    .join(User, User.id == CallAttempt.agent_id)
                    .where(User.username == f.agent)
                )
            )
        rows = session.execute(
            q.order_by(Decision.evaluated_at.desc(), Decision.id.desc()).limit(limit)
        ).all()
        return [_decision(d, ref) for d, ref in rows]


def _decision(d: Decision, ref: str | None) -> dict[str, Any]:
    return {
        "id": d.id,
        "account_id": d.account_id,
        "account_ref": ref or "",
        "phone": d.phone_e164 or "",
        "channel": d.channel or "call",
        # Where a message that reaches no phone was allowed or refused to go: the e-mail,
        # or a letter's postal address.
        "address": d.address or "",
        "campaign_id": d.campaign_id,
        "stage": d.stage,
        "allowed": d.allowed,
        "reasons": list(d.reasons or []),
        "profile_version": d.profile_version,
        "registry_versions": dict(d.registry_versions or {}),
        "local_time": d.local_time or "",
        "timezone": d.timezone or "",
        "evaluated_at": d.evaluated_at.isoformat(),
    }


def get_decision(engine: Engine, decision_id: int) -> dict[str, Any] | None:
    with transaction(engine) as session:
        row = session.execute(
            select(Decision, Account.external_ref)
            .outerjoin(Account, Account.id == Decision.account_id)
            .where(Decision.id == decision_id)
        ).first()
        return _decision(row[0], row[1]) if row else None


def record_view(
    engine: Engine,
    actor: str,
    page: str,
    filters: dict[str, str],
    account_ids: list[int],
    kind: str = "pii_view",
) -> None:
    """Evidence that a person saw (or exported) debtors' personal data."""
    with transaction(engine) as session:
        audit_append(
            session,
            kind,
            {
                "page": page,
                "filters": filters,
                "account_ids": sorted(set(account_ids))[:1000],
                "rows": len(account_ids),
            },
            actor=actor,
        )
