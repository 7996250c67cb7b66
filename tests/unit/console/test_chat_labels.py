"""The agent's chat desk names a conversation's channel, hand-over reason and senders in
words from the shared tables (cobrador/ground/code_words.py); a code it does not know
reads as a neutral word, never as the code."""

from __future__ import annotations

from datetime import UTC, datetime

from cobrador.ground import code_words as cw
from console import chat_views
from console.chat_views import ChatView, _labelled, _message
from console.i18n import activate
from selfservice.conversations import HANDOVER_REASONS, SENDERS

AT = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)


def view(channel: str, reason: str | None, *senders: str) -> ChatView:
    messages = [_message(i, s, "hola", AT, "sent") for i, s in enumerate(senders, 1)]
    return ChatView(7, channel, "agent", reason, messages)


def test_given_a_known_chat_then_its_words() -> None:
    shown = _labelled(view("chat", "agent", "debtor", "assistant"))
    assert shown["channel_label"] == "Chat del portal"
    assert shown["reason_label"] == "El deudor pidió un asesor"
    assert [m["sender_label"] for m in shown["messages"]] == ["Deudor", "Asistente"]
    assert _labelled(view("whatsapp", None))["channel_label"] == "WhatsApp"
    assert _labelled(view("sms", None))["reason_label"] == ""


def test_given_codes_the_desk_does_not_know_then_neutral_words_never_the_codes() -> None:
    shown = _labelled(view("telegram", "new_reason", "bot2"))
    assert shown["channel_label"] == "Otro canal"
    assert shown["reason_label"] == "Otro motivo"
    assert shown["messages"][0]["sender_label"] == "Otro remitente"
    activate("en")
    try:
        shown = _labelled(view("telegram", "new_reason", "bot2"))
    finally:
        activate("es")
    assert (shown["channel_label"], shown["reason_label"]) == ("Other channel", "Other reason")
    assert shown["messages"][0]["sender_label"] == "Other sender"


def test_given_the_desk_then_it_reads_the_shared_tables_and_every_reason_has_words() -> None:
    assert chat_views.CHANNEL_LABELS is cw.CONVERSATION_CHANNEL_LABELS
    assert chat_views.REASON_LABELS is cw.HANDOVER_REASON_LABELS
    assert chat_views.SENDER_LABELS is cw.CHAT_SENDER_LABELS
    assert set(HANDOVER_REASONS) == set(cw.HANDOVER_REASON_LABELS)
    assert set(SENDERS) == set(cw.CHAT_SENDER_LABELS)
