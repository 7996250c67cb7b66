"""The visit questionnaires (one per collection stage) and the validation of a
visit's answers into a result. Pure: the account's facts and today come as arguments.

The outcome codes are the call dispositions' (console/dispositions.py) where they
mean the same thing, so a visit's result reads like a call's in every report;
`domicilio_incorrecto` is the visit's own; their words are cobrador/ground/code_words.py's
VISIT_OUTCOME_LABELS, the ones the supervisor's map shows. Messages are Spanish (the
field app's language).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from cobrador.ground.code_words import N_, VISIT_OUTCOME_LABELS
from store.importing.fields import FieldError, parse_phone

PARTIES = {
    "titular": N_("Titular"),
    "aval": N_("Aval / obligado solidario"),
    "tercero": N_("Otra persona (tercero)"),
    "nadie": N_("Nadie atendió"),
}
DEBTOR = frozenset({"titular", "aval"})


@dataclass(frozen=True)
class VisitOutcome:
    code: str
    parties: frozenset[str]
    right_party_contact: bool
    needs_promise: bool = False
    account_status: str | None = None  # the status the account takes at once
    stop_account: bool = False  # rests like a call's "Pagó" until payments confirm it

    @property
    def label(self) -> str:
        """What the field agent picks (Spanish) and the supervisor's map shows."""
        return VISIT_OUTCOME_LABELS[self.code]


OUTCOMES: dict[str, VisitOutcome] = {
    o.code: o
    for o in (
        VisitOutcome("promesa_pago", DEBTOR, True, needs_promise=True),
        VisitOutcome("pago", DEBTOR, True, stop_account=True),
        VisitOutcome("rehusa", DEBTOR, True),
        VisitOutcome("disputa", DEBTOR, True, account_status="disputed"),
        VisitOutcome("no_contactar", DEBTOR, True, account_status="cease_contact"),
        VisitOutcome("recado", frozenset({"tercero"}), False),
        VisitOutcome("sin_contacto", frozenset({"nadie"}), False),
        VisitOutcome("domicilio_incorrecto", frozenset({"tercero", "nadie"}), False),
    )
}

REASONS_NOT_PAYING = {
    "desempleo": N_("Desempleo"),
    "enfermedad": N_("Enfermedad"),
    "sobreendeudamiento": N_("Otras deudas"),
    "olvido": N_("Olvido"),
    "desacuerdo": N_("No está de acuerdo con el monto"),
    "otro": N_("Otro"),
}

# The questions each stage asks, in order (the app draws them; the server checks them).
COMMON = ("party", "outcome", "promise_amount", "promise_date", "address_verified",
          "new_phone", "photo", "notes")  # fmt: skip
STAGE_QUESTIONS: dict[str, tuple[str, ...]] = {
    "friendly": COMMON,
    "firm": (*COMMON[:4], "reason_not_paying", *COMMON[4:]),
    "prelegal": (*COMMON[:4], "reason_not_paying", "notice_delivered", *COMMON[4:]),
}

MAX_NOTES = 2000
MAX_PHOTO_BYTES = 512 * 1024
PHOTO_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
DEFAULT_PROMISE_MAX_DAYS = 30


def questionnaire(stage: str) -> list[dict[str, Any]]:
    """The questions of a stage as the app draws them (cached with the day's route)."""
    defs: dict[str, dict[str, Any]] = {
        "party": {"label": N_("¿Quién atendió?"), "type": "choice", "required": True,
                  "options": PARTIES},
        "outcome": {"label": N_("Resultado"), "type": "choice", "required": True,
                    "options": {c: o.label for c, o in OUTCOMES.items()},
                    "parties": {c: sorted(o.parties) for c, o in OUTCOMES.items()}},
        "promise_amount": {"label": N_("Monto prometido"), "type": "money",
                           "when": {"outcome": "promesa_pago"}},
        "promise_date": {"label": N_("Fecha de pago"), "type": "date",
                         "when": {"outcome": "promesa_pago"}},
        "reason_not_paying": {"label": N_("Motivo de no pago"), "type": "choice",
                              "options": REASONS_NOT_PAYING, "when": {"party": sorted(DEBTOR)}},
        "notice_delivered": {"label": N_("¿Se entregó el aviso prejudicial?"), "type": "yesno",
                             "required": True},
        "address_verified": {"label": N_("¿Domicilio verificado?"), "type": "yesno",
                             "required": True},
        "new_phone": {"label": N_("Teléfono nuevo (opcional)"), "type": "phone"},
        "photo": {"label": N_("Foto de la puerta (opcional)"), "type": "photo",
                  "max_bytes": MAX_PHOTO_BYTES},
        "notes": {"label": N_("Notas"), "type": "text", "max": MAX_NOTES},
    }  # fmt: skip
    return [{"key": key, **defs[key]} for key in STAGE_QUESTIONS.get(stage, COMMON)]


@dataclass(frozen=True)
class AccountTerms:
    """What a promise on this account may be."""

    country: str
    currency: str
    balance: Decimal
    stage: str
    today: date  # the debtor's local date
    promise_max_days: int = DEFAULT_PROMISE_MAX_DAYS


@dataclass(frozen=True)
class VisitResult:
    party: str
    outcome: VisitOutcome
    address_verified: bool
    answers: dict[str, Any]  # what is kept as the visit's answers (JSON; no photo)
    notes: str = ""
    promise_amount: Decimal | None = None
    promise_date: date | None = None
    new_phone: str | None = None  # E.164
    photo: bytes | None = None
    photo_type: str | None = None

    @property
    def right_party_contact(self) -> bool:
        return self.outcome.right_party_contact and self.party in DEBTOR


class AnswerErrors(ValueError):
    """Field -> message (Spanish); nothing is saved when raised."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_answers(data: object, terms: AccountTerms) -> VisitResult:
    """Check every answer of the stage's questionnaire; AnswerErrors lists every problem."""
    if not isinstance(data, dict):
        raise AnswerErrors({"answers": "Las respuestas deben ser un objeto."})
    errors: dict[str, str] = {}
    asked = set(STAGE_QUESTIONS.get(terms.stage, COMMON))
    unknown = sorted(k for k in data if k not in asked)
    if unknown:
        errors["answers"] = f"Preguntas que este cuestionario no hace: {', '.join(unknown[:5])}."

    party = _text(data, "party")
    if party not in PARTIES:
        errors["party"] = "Indique quién atendió."
    outcome = OUTCOMES.get(_text(data, "outcome"))
    if outcome is None:
        errors["outcome"] = "Indique el resultado de la visita."
    elif party in PARTIES and party not in outcome.parties:
        errors["outcome"] = "Ese resultado no corresponde a la persona que atendió."

    verified = _yes_no(data, "address_verified", errors)
    amount = promise_day = None
    if outcome is not None and outcome.needs_promise:
        amount = _amount(data, terms, errors)
        promise_day = _promise_date(data, terms, errors)
    new_phone = None
    if _text(data, "new_phone"):
        try:
            new_phone, _ = parse_phone(_text(data, "new_phone"), terms.country, "new_phone")
        except FieldError:
            errors["new_phone"] = f"El teléfono nuevo no es un número válido de {terms.country}."
    notes = _text(data, "notes")
    if len(notes) > MAX_NOTES:
        errors["notes"] = f"La nota es demasiado larga (máximo {MAX_NOTES} caracteres)."
    reason = _text(data, "reason_not_paying")
    if reason and ("reason_not_paying" not in asked or reason not in REASONS_NOT_PAYING):
        errors["reason_not_paying"] = "Elija un motivo de la lista."
    notice = None
    if "notice_delivered" in asked:
        notice = _yes_no(data, "notice_delivered", errors)
    photo, photo_type = _photo(data.get("photo"), errors)

    if errors or outcome is None or verified is None:
        raise AnswerErrors(errors)
    answers: dict[str, Any] = {"party": party, "outcome": outcome.code,
                               "address_verified": verified}  # fmt: skip
    if amount is not None:
        answers["promise_amount"] = str(amount)
        answers["promise_date"] = promise_day.isoformat() if promise_day else None
    if reason:
        answers["reason_not_paying"] = reason
    if notice is not None:
        answers["notice_delivered"] = notice
    if new_phone:
        answers["new_phone"] = new_phone
    if photo is not None:
        answers["photo_bytes"] = len(photo)
    return VisitResult(party, outcome, verified, answers, notes, amount, promise_day,
                       new_phone, photo, photo_type)  # fmt: skip


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _yes_no(data: dict[str, Any], key: str, errors: dict[str, str]) -> bool | None:
    value = data.get(key)
    if isinstance(value, bool):
        return value
    errors[key] = "Responda sí o no."
    return None


def _amount(data: dict[str, Any], terms: AccountTerms, errors: dict[str, str]) -> Decimal | None:
    raw = data.get("promise_amount")
    try:
        amount = Decimal(str(raw).strip()) if isinstance(raw, (str, int)) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        errors["promise_amount"] = "Escriba el monto con punto decimal, por ejemplo 2450.00."
        return None
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        errors["promise_amount"] = "El monto tiene más de dos decimales."
    elif amount <= 0:
        errors["promise_amount"] = "El monto debe ser mayor que cero."
    elif amount > terms.balance:
        errors["promise_amount"] = f"El monto no puede ser mayor que el saldo ({terms.balance})."
    else:
        return amount
    return None


def _promise_date(data: dict[str, Any], terms: AccountTerms, errors: dict[str, str]) -> date | None:
    try:
        day = date.fromisoformat(_text(data, "promise_date"))
    except ValueError:
        errors["promise_date"] = "Indique la fecha de pago."
        return None
    if day < terms.today:
        errors["promise_date"] = "La fecha de pago no puede estar en el pasado."
    elif day > terms.today + timedelta(days=terms.promise_max_days):
        errors["promise_date"] = "La fecha de pago pasa del máximo que permite la campaña."
    else:
        return day
    return None


def _photo(value: object, errors: dict[str, str]) -> tuple[bytes | None, str | None]:
    """An optional data URL (JPEG or PNG, at most MAX_PHOTO_BYTES once decoded)."""
    if value in (None, ""):
        return None, None
    if not isinstance(value, str) or not value.startswith("data:") or ";base64," not in value:
        errors["photo"] = "La foto debe ser una imagen JPEG o PNG."
        return None, None
    head, _, body = value.partition(";base64,")
    kind = head.removeprefix("data:")
    if kind not in PHOTO_TYPES:
        errors["photo"] = "La foto debe ser una imagen JPEG o PNG."
        return None, None
    if len(body) > (MAX_PHOTO_BYTES * 4) // 3 + 4:
        errors["photo"] = f"La foto pasa de {MAX_PHOTO_BYTES // 1024} KB; tómela de nuevo."
        return None, None
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        errors["photo"] = "La foto está dañada (base64 no válido)."
        return None, None
    if len(raw) > MAX_PHOTO_BYTES:
        errors["photo"] = f"La foto pasa de {MAX_PHOTO_BYTES // 1024} KB; tómela de nuevo."
        return None, None
    if not raw.startswith(PHOTO_TYPES[kind]):
        errors["photo"] = "El contenido de la foto no es la imagen que dice ser."
        return None, None
    return raw, kind
