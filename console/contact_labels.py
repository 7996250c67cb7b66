"""Words for the codes of contacts on every channel (channels, message results, strategy
step states, template names) and masked addresses: what the pop, the auditor's pages
and the supervisor's figures show instead of raw codes. The tables the legal dossier
shares are cobrador/ground/code_words.py's."""

from __future__ import annotations

from collections.abc import Callable

from cobrador.ground.code_words import (
    CHANNEL_LABELS,
    MESSAGE_RESULT_LABELS,
    OTHER_CHANNEL,
    OTHER_STATE,
    STEP_STATUS_LABELS,
    template_word,
)
from cobrador.ground.masking import mask_phone, mask_postal
from console.i18n import N_, gettext_

# Steps not sent that the timeline shows (passed-over and sent ones are there already
# or say nothing to a person).
UNSENT = ("waiting", "blocked", "failed", "uncertain")


def channel_label(code: str) -> str:
    return gettext_(CHANNEL_LABELS.get(code, OTHER_CHANNEL)) if code else ""


def message_result_label(channel: str, code: str | None,
                         call_result: Callable[[str], str]) -> str:  # fmt: skip
    """A message's result in words; a call's through `call_result` (the call labels)."""
    if not code:
        return gettext_(N_("En curso")) if channel != "call" else ""
    if channel != "call" and code in MESSAGE_RESULT_LABELS:
        return gettext_(MESSAGE_RESULT_LABELS[code])
    return call_result(code)


# What a debtor did by themself (selfservice/debtor_actions.py), as the timeline says it.
DEBTOR_ACTION_LABELS = {
    "identified": N_("Entró al portal (identidad verificada)"),
    "promise": N_("Prometió un pago"),
    "plan": N_("Eligió un plan de pagos"),
    "callback": N_("Pidió que le llamen"),
    "dispute": N_("Disputó la deuda o pidió sus documentos"),
    "opt_out": N_("Pidió no ser contactado por un canal"),
    "opt_in": N_("Autorizó de nuevo un canal"),
    "message": N_("Escribió un mensaje"),
    "payment_link": N_("Pidió un enlace de pago"),
    "payment": N_("Pagó en línea"),
    "chat_agent": N_("Conversación con un agente"),  # console/chat_queue.py
    "chat_reply": N_("Respuesta en la conversación"),  # selfservice/chat_sender.py
}


# An online payment the provider took back (store/payment_reversal.py).
REVERSAL_LABELS = {
    "refunded": N_("reembolsado"),
    "partially_refunded": N_("reembolsado en parte"),
    "charged_back": N_("contracargo"),
    "cancelled": N_("cancelado"),
}


def reversal_label(code: str | None) -> str:
    return gettext_(REVERSAL_LABELS[code]) if code in REVERSAL_LABELS else ""


def debtor_action_label(code: str | None) -> str:
    if not code:
        return ""
    return gettext_(DEBTOR_ACTION_LABELS.get(code, N_("Acción del deudor")))


def template_label(name: str | None) -> str:
    return template_word(name, gettext_)


def step_status_label(code: str) -> str:
    return gettext_(STEP_STATUS_LABELS.get(code, OTHER_STATE))


def mask_email(address: str | None) -> str:
    """j***@example.mx: enough to tell two addresses apart, not to read one."""
    if not address or "@" not in address:
        return ""
    user, _, domain = address.partition("@")
    return f"{user[:1]}***@{domain}"


def mask_address(channel: str, phone: str | None, address: str | None) -> str:
    if channel == "email":
        return mask_email(address)
    if channel == "letter":
        return mask_postal(address)  # where the letter went, not the door
    return mask_phone(phone) if phone else ""
