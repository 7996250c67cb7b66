"""What a person reads for each stable code (compliance reasons, pause reasons,
dispositions, call results, campaign states, account and payment-plan states):
Spanish msgids, translated where shown. The words the legal dossier shares live
below every layer (cobrador/ground/code_words.py) and are re-used here. Codes stay
in exports and the audit log; a page never shows one raw, an unknown code reads as
"other".
"""

from __future__ import annotations

from collections.abc import Iterable

from cobrador.ground.code_words import (
    ACCOUNT_STATUS_LABELS,
    OTHER,
    OTHER_MODE,
    OTHER_PARTY,
    OTHER_RESULT,
    OTHER_STAGE,
    OTHER_STATE,
    REASON_LABELS,
    outcome_word,
)
from console.agent_service import RESULT_LABELS, STAGE_LABELS
from console.dispositions import OUTCOMES, PARTY_LABELS, Party
from console.i18n import N_, gettext_
from console.plan_service import STATUS_LABELS as PLAN_STATUS_LABELS

# Pause reasons, campaign states and dial modes are their own msgids: the Spanish
# catalog gives them their words (console/locale/translations_en.py ES_VALUES).
PAUSE_CODES = ("login", "break", "comida", "capacitacion", "baño", "supervisor", "reconexión")
N_("login")
N_("reconexión")
CAMPAIGN_STATUSES = ("running", "stopped")
DIAL_MODES = ("preview", "progressive", "predictive")
# The dialer's health says why it does not dial, in English for its log; by prefix.
DIALER_HEALTH_LABELS = (
    ("store unavailable", N_("El marcador no alcanza la base de datos.")),
    ("AMI disconnected", N_("El marcador perdió la conexión con Asterisk.")),
    ("waiting for reconciliation", N_("El marcador concilia las llamadas con Asterisk.")),
    ("no caller ID", N_("La campaña no tiene un identificador de llamada registrado.")),
    ("no registered caller ID", N_("La campaña no tiene un identificador de llamada registrado.")),
)


def reason_label(code: str) -> str:
    return gettext_(REASON_LABELS.get(code, OTHER))


def reasons_label(codes: Iterable[str]) -> str:
    return "; ".join(reason_label(c) for c in codes)


def pause_label(code: str) -> str:
    """A pause reason as words inside a sentence ("Próxima pausa: comida hoy a las
    14:00"): the catalog's lower case; a campaign's own reasons are words already
    (translated when known)."""
    return gettext_(code) if code else ""


def pause_title(code: str) -> str:
    """A pause reason shown on its own, as a label (the agent's status line, the
    wallboard's column, a list's entry, a choice): capitalised, as both languages
    write a label. One word, one case per place: the agent and the supervisor read
    the same "Descanso"."""
    return as_label(pause_label(code))


def as_label(words: str) -> str:
    """Words that begin a label take a capital; the rest is left as written."""
    return words[:1].upper() + words[1:]


def outcome_label(code: str, channel: str | None = None) -> str:
    """A disposition's outcome in words; a visit's as the field agent picked it."""
    if channel == "visit":
        return outcome_word(channel, code, gettext_)
    outcome = OUTCOMES.get(code)
    return gettext_(outcome.label) if outcome else (gettext_(OTHER_RESULT) if code else "")


def party_label(code: str) -> str:
    try:
        return gettext_(PARTY_LABELS[Party(code)])
    except ValueError:
        return gettext_(OTHER_PARTY) if code else ""


def result_label(code: str) -> str:
    return gettext_(RESULT_LABELS.get(code, OTHER_RESULT)) if code else ""


def stage_label(code: str) -> str:
    return gettext_(STAGE_LABELS.get(code, OTHER_STAGE)) if code else ""


def account_status_label(code: str) -> str:
    """ "Activa", "En disputa"...; an unknown state "Otro estado", never the code."""
    return gettext_(ACCOUNT_STATUS_LABELS.get(code, OTHER_STATE)) if code else ""


def plan_status_label(code: str) -> str:
    """A payment plan's state: "Espera aprobación del supervisor", "Rechazado"..."""
    return gettext_(PLAN_STATUS_LABELS.get(code, OTHER_STATE)) if code else ""


def campaign_status_label(code: str) -> str:
    return gettext_(code if code in CAMPAIGN_STATUSES else OTHER_STATE)


def dial_mode_label(code: str) -> str:
    return gettext_(code if code in DIAL_MODES else OTHER_MODE)


def dialer_health_label(text: str) -> str:
    for prefix, label in DIALER_HEALTH_LABELS:
        if text.startswith(prefix) or prefix in text:
            return gettext_(label)
    return gettext_(N_("El marcador está detenido; el detalle está en su registro."))
