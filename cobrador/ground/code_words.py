"""What a person reads for each stable code of an account's record: compliance
reasons, account states, collection stages, channels, call and message results,
strategy step states, who answered and what happened (the disposition), a chat's
channel, hand-over reason and senders, a field visit's result.

One home for the words, below every layer that shows them: the console's pages
(console/code_labels.py, console/contact_labels.py, console/dispositions.py) and the
legal dossier (outreach/legal_dossier.py) read these tables. Each value is a Spanish
msgid; the console's catalog (console/locale) gives its English, and whoever shows a
word translates it there. Codes stay in exports, JSON and the audit log. Pure data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping


def N_(message: str) -> str:
    """Mark a Spanish msgid; it is translated where it is shown."""
    return message


Translate = Callable[[str], str]

OTHER = N_("Otro motivo")
OTHER_STATE = N_("Otro estado")
OTHER_RESULT = N_("Otro resultado")
OTHER_STAGE = N_("Otra etapa")
OTHER_CHANNEL = N_("Otro canal")
OTHER_SENDER = N_("Otro remitente")
OTHER_PARTY = N_("Otra persona")
OTHER_MODE = N_("Otro modo")

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
# store.models.AccountStatus's values.
ACCOUNT_STATUS_LABELS = {
    "active": N_("Activa"),
    "paid": N_("Pagada"),
    "settled": N_("Liquidada por convenio"),
    "disputed": N_("En disputa"),
    "cease_contact": N_("Pidió no ser contactado"),
    "closed": N_("Cerrada"),
}
STAGE_LABELS = {
    "friendly": N_("Amigable"),
    "firm": N_("Firme"),
    "prelegal": N_("Prejudicial"),
    "legal": N_("Legal"),
}
CHANNEL_LABELS = {
    "call": N_("Llamada"),
    "sms": N_("SMS"),
    "whatsapp": N_("WhatsApp"),
    "email": N_("Correo electrónico"),
    "visit": N_("Visita"),
    "chat": N_("Chat"),
    "letter": N_("Carta"),
    "portal": N_("Portal de autoservicio"),
}
# A conversation's channel (selfservice.conversations): the portal's own chat is named
# as such beside SMS and WhatsApp.
CONVERSATION_CHANNEL_LABELS = {**CHANNEL_LABELS, "chat": N_("Chat del portal")}
# Why the assistant handed a conversation to a person (selfservice.conversations.HANDOVER_REASONS).
HANDOVER_REASON_LABELS = {
    "agent": N_("El deudor pidió un asesor"),
    "misunderstood": N_("El asistente no entendió dos veces"),
    "amount": N_("El monto no quedó claro tras preguntarlo"),
    "date": N_("La fecha no quedó clara tras preguntarla"),
    "dispute": N_("Disputa de la deuda"),
    "identity": N_("No pasó la verificación de identidad"),
    "no_account": N_("No se sabe de qué cuenta se trata"),
    "plan": N_("Pide un plan que requiere un supervisor"),
    "full": N_("Conversación muy larga"),
    "operator": N_("Enviada por un supervisor"),
    "third_party": N_("Escribe alguien que no es el deudor"),
    "deceased": N_("Avisan del fallecimiento del deudor"),
}
# Who wrote a conversation's message.
CHAT_SENDER_LABELS = {
    "debtor": N_("Deudor"),
    "assistant": N_("Asistente"),
    "agent": N_("Agente"),
    "system": N_("Sistema"),
}
# A field visit's result (field/questionnaire.py's outcomes): the words the field agent
# picks are the ones the supervisor's map shows.
VISIT_OUTCOME_LABELS = {
    "promesa_pago": N_("Promesa de pago"),
    "pago": N_("Dice que ya pagó"),
    "rehusa": N_("Rehúsa pagar"),
    "disputa": N_("Disputa la deuda"),
    "no_contactar": N_("Pide no ser contactado"),
    "recado": N_("Recado con otra persona"),
    "sin_contacto": N_("Nadie atendió"),
    "domicilio_incorrecto": N_("El deudor no vive aquí"),
}
# A call's result (dialer and agents).
CALL_RESULT_LABELS = {
    "no_answer": N_("No contesta"),
    "busy": N_("Ocupado"),
    "failed": N_("Falló"),
    "invalid_number": N_("Número inexistente"),
    "declined": N_("Rechazada"),
    "machine": N_("Buzón / máquina"),
    "abandoned": N_("Abandonada"),
    "early_hangup": N_("Colgó antes de tiempo"),
    "contact": N_("Contacto"),
    "blocked": N_("Bloqueada"),
    "cancelled": N_("Cancelada"),
    "lost": N_("Perdida (marcador detenido)"),
    "not_placed": N_("No realizada"),
    "queue_abandoned": N_("Colgó en espera (entrante)"),
    "after_hours": N_("Fuera de horario (entrante)"),
    "unrouted": N_("Número sin campaña (entrante)"),
}
# A message's fate, as its channel reports it (outreach/channels) or the scheduler left it.
MESSAGE_RESULT_LABELS = {
    "sent": N_("Enviado"),
    "delivered": N_("Entregado"),
    "read": N_("Leído"),
    "replied": N_("Respondido"),
    "failed": N_("No entregado"),
    "lost": N_("Envío sin confirmar"),
    "self_service": N_("Acción del deudor"),
}
# A strategy step's state (store.models.OutreachStep.status).
STEP_STATUS_LABELS = {
    "waiting": N_("En espera de horario permitido"),
    "sending": N_("Enviando"),
    "sent": N_("Enviado"),
    "uncertain": N_("Envío sin confirmar (no se reenvía)"),
    "failed": N_("No enviado: rechazado"),
    "blocked": N_("No enviado"),
    "handed_to_dialer": N_("Pasada al marcador"),
    "passed_over": N_("Omitido"),
}
# Who was reached (console.dispositions.Party) and what happened (its outcomes).
PARTY_LABELS = {
    "titular": N_("Titular"),
    "aval": N_("Aval / obligado solidario"),
    "tercero": N_("Tercero"),
    "nadie": N_("Nadie"),
}
OUTCOME_LABELS = {
    "promesa_pago": N_("Promesa de pago"),
    "convenio": N_("Convenio / plan de pagos"),
    "pago": N_("Pagó"),
    "rehusa": N_("Rehúsa pagar"),
    "disputa": N_("Disputa"),
    "no_contactar": N_("Solicita no ser contactado"),
    "no_mensajes": N_("No desea recibir mensajes"),
    "volver_llamar": N_("Volver a llamar"),
    "recado": N_("Recado con tercero"),
    "numero_equivocado": N_("Número equivocado"),
    "sin_contacto": N_("Sin contacto"),
}
# The shipped templates (outreach/templates) as words; a campaign's own template
# names read with their underscores as spaces.
TEMPLATE_LABELS = {
    "recordatorio": N_("Recordatorio de pago"),
    "aviso_firme": N_("Aviso firme"),
    "aviso_prejudicial": N_("Aviso prejudicial"),
    "confirmacion_promesa": N_("Confirmación de promesa"),
    "recordatorio_promesa": N_("Recordatorio de promesa"),
    "promesa_incumplida": N_("Promesa incumplida"),
}
# A promise's fate (store.models.Promise.status).
PROMISE_STATUS_LABELS = {
    "open": N_("Pendiente"),
    "kept": N_("Cumplida"),
    "broken": N_("Incumplida"),
    "cancelled": N_("Cancelada"),
}


def word(table: Mapping[str, str], code: str | None, tr: Translate, other: str = OTHER) -> str:
    """The word for ``code`` in ``table``, translated by ``tr``; an unknown code reads
    as ``other`` (never the code); no code, nothing."""
    return tr(table.get(code, other)) if code else ""


def reasons_words(codes: Iterable[str], tr: Translate) -> str:
    """ "Fuera del horario permitido; Día festivo"."""
    return "; ".join(word(REASON_LABELS, c, tr) for c in codes)


def result_word(channel: str | None, code: str | None, tr: Translate) -> str:
    """A contact's result in words: a message's by the message table, a call's by the
    call table."""
    if channel != "call" and code in MESSAGE_RESULT_LABELS:
        return tr(MESSAGE_RESULT_LABELS[code])
    return word(CALL_RESULT_LABELS, code, tr, OTHER_RESULT)


def outcome_word(channel: str | None, code: str | None, tr: Translate) -> str:
    """What happened, in words: a visit's as the field agent picked it (the visit's
    table), any other contact's as the agent dispositioned it; "Otro resultado" for a
    code neither knows; no code, nothing."""
    table = VISIT_OUTCOME_LABELS if channel == "visit" else OUTCOME_LABELS
    return word(table, code, tr, OTHER_RESULT)


def template_word(name: str | None, tr: Translate) -> str:
    """A shipped template's name in words; a campaign's own with its underscores as spaces."""
    if not name:
        return ""
    known = TEMPLATE_LABELS.get(name)
    return tr(known) if known else name.replace("_", " ").replace("-", " ").capitalize()


# A phone's status (store.models.PhoneStatus): whether the dialer may use the number.
PHONE_STATUS_LABELS = {
    "active": N_("Activo"),
    "invalid": N_("Número inválido: no se marca"),
    "wrong_number": N_("Número equivocado: no se marca"),
    "stopped": N_("Pidió no ser llamado a este número"),
    "retired": N_("Retirado por el acreedor"),
    "third_party": N_("Número de un tercero: no se marca"),
}
# Why a phone has its status, when the system or a supervisor set it
# (store/number_validity.py, phones.status_reason).
PHONE_STATUS_REASON_LABELS = {
    "carrier_no_such_number": N_(
        "El operador respondió dos veces, con al menos 24 horas de diferencia, que el "
        "número no existe; nadie contestó en él entre esas llamadas."
    ),
    "reactivated": N_("Reactivado por un supervisor."),
    "answered_after_invalid": N_(
        "Se contestó en él después de marcarse inválido: activo otra vez."
    ),
}
