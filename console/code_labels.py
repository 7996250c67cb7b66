"""What a person reads for each stable code (compliance reasons, pause reasons,
dispositions, call results, campaign states, account and payment-plan states):
Spanish msgids, translated where
shown. Codes stay in exports and the audit log; a page never shows one raw, an
unknown code reads as "other".
"""

from __future__ import annotations

from collections.abc import Iterable

from console.agent_service import RESULT_LABELS, STAGE_LABELS
from console.dispositions import OUTCOMES, PARTY_LABELS, Party
from console.i18n import N_, gettext_
from console.plan_service import STATUS_LABELS as PLAN_STATUS_LABELS
from store.models import AccountStatus

REASON_LABELS = {
    "registry_listed": N_("Inscrito en un registro de exclusión (REUS...)"),
    "registry_unavailable": N_("Registro de exclusión no disponible"),
    "registry_stale": N_("Registro de exclusión vencido"),
    "outside_hours": N_("Fuera del horario permitido"),
    "day_not_allowed": N_("Día no permitido"),
    "holiday": N_("Día festivo"),
    "attempt_cap_day": N_("Límite de intentos del día"),
    "attempt_cap_week": N_("Límite de intentos de la semana"),
    "attempt_cap_hour": N_("Límite de intentos por hora"),
    "contact_cap_week": N_("Límite de contactos"),
    "no_consent": N_("Sin consentimiento para ese número"),
    "not_delinquent": N_("Cuenta sin atraso"),
    "cease_contact": N_("Pidió no ser contactado"),
    "legal_stage": N_("Cuenta en etapa legal"),
    "disputed": N_("Cuenta en disputa"),
    "invalid_number": N_("Número inválido"),
    "third_party": N_("Número de un tercero"),
    "timezone_unknown": N_("Zona horaria desconocida"),
    "recent_abandon": N_("Llamada abandonada reciente"),
    "country_unknown": N_("País desconocido"),
    "channel_not_allowed": N_("Canal no permitido"),
    "channel_not_authorised": N_("Canal no autorizado por el deudor"),
    "visit_not_authorised": N_("Visita sin autorización firmada"),
    "opted_out": N_("Pidió no recibir este canal"),
    "invalid_address": N_("Correo electrónico inválido"),
    "no_address": N_("Sin dirección postal"),
    "contact_cap_day": N_("Ya contactado hoy"),
    "channel_cap_week": N_("Contactado esta semana por otro canal"),
    "debtor_deceased": N_("Deudor fallecido"),
    "debtor_minor": N_("Deudor menor de edad"),
    "insolvency_proceeding": N_("Deudor en proceso de insolvencia"),
    "protected_person": N_("Persona protegida"),
}
ACCOUNT_STATUS_LABELS = {
    AccountStatus.active.value: N_("Activa"),
    AccountStatus.paid.value: N_("Pagada"),
    AccountStatus.settled.value: N_("Liquidada por convenio"),
    AccountStatus.disputed.value: N_("En disputa"),
    AccountStatus.cease_contact.value: N_("Pidió no ser contactado"),
    AccountStatus.closed.value: N_("Cerrada"),
}
OTHER_STATE = N_("Otro estado")
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
OTHER = N_("Otro motivo")


def reason_label(code: str) -> str:
    return gettext_(REASON_LABELS.get(code, OTHER))


def reasons_label(codes: Iterable[str]) -> str:
    return "; ".join(reason_label(c) for c in codes)


def pause_label(code: str) -> str:
    """A campaign's own pause reasons are words already (translated when known)."""
    return gettext_(code) if code else ""


def outcome_label(code: str) -> str:
    outcome = OUTCOMES.get(code)
    return gettext_(outcome.label) if outcome else (gettext_(OTHER) if code else "")


def party_label(code: str) -> str:
    try:
        return gettext_(PARTY_LABELS[Party(code)])
    except ValueError:
        return gettext_(OTHER) if code else ""


def result_label(code: str) -> str:
    return gettext_(RESULT_LABELS.get(code, OTHER)) if code else ""


def stage_label(code: str) -> str:
    return gettext_(STAGE_LABELS.get(code, OTHER)) if code else ""


def account_status_label(code: str) -> str:
    """ "Activa", "En disputa"...; an unknown state "Otro estado", never the code."""
    return gettext_(ACCOUNT_STATUS_LABELS.get(code, OTHER_STATE)) if code else ""


def plan_status_label(code: str) -> str:
    """A payment plan's state: "Espera aprobación del supervisor", "Rechazado"..."""
    return gettext_(PLAN_STATUS_LABELS.get(code, OTHER_STATE)) if code else ""


def campaign_status_label(code: str) -> str:
    return gettext_(code if code in CAMPAIGN_STATUSES else OTHER)


def dial_mode_label(code: str) -> str:
    return gettext_(code if code in DIAL_MODES else OTHER)


def dialer_health_label(text: str) -> str:
    for prefix, label in DIALER_HEALTH_LABELS:
        if text.startswith(prefix) or prefix in text:
            return gettext_(label)
    return gettext_(N_("El marcador está detenido; el detalle está en su registro."))
