"""The code words shared by the console and the legal dossier: every code the store or
the rules engine can write has its word, and every word has its English."""

from __future__ import annotations

import sys
from pathlib import Path

from cobrador.ground import code_words as cw
from compliance.engine import REASONS
from console import code_labels, contact_labels, dispositions
from console.dispositions import OUTCOMES, Party
from field.questionnaire import OUTCOMES as VISIT_OUTCOMES
from outreach import legal_dossier as ld
from store.models import AccountStatus, OutreachStepStatus

LOCALE = Path(__file__).resolve().parents[3] / "console" / "locale"


def _english() -> dict[str, str]:
    sys.path.insert(0, str(LOCALE))
    try:
        from translations_en import EN  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(LOCALE))
    return dict(EN)


def test_given_every_code_the_model_writes_then_it_has_its_word() -> None:
    assert set(REASONS) <= set(cw.REASON_LABELS)
    assert {s.value for s in AccountStatus} == set(cw.ACCOUNT_STATUS_LABELS)
    assert {s.value for s in OutreachStepStatus} == set(cw.STEP_STATUS_LABELS)
    assert {p.value for p in Party} == set(cw.PARTY_LABELS)
    assert set(OUTCOMES) == set(cw.OUTCOME_LABELS)
    assert set(VISIT_OUTCOMES) == set(cw.VISIT_OUTCOME_LABELS)


def test_given_the_console_then_it_reads_the_same_tables_not_a_copy() -> None:
    assert code_labels.REASON_LABELS is cw.REASON_LABELS
    assert code_labels.ACCOUNT_STATUS_LABELS is cw.ACCOUNT_STATUS_LABELS
    assert contact_labels.CHANNEL_LABELS is cw.CHANNEL_LABELS
    assert contact_labels.STEP_STATUS_LABELS is cw.STEP_STATUS_LABELS
    assert all(o.label == cw.OUTCOME_LABELS[code] for code, o in OUTCOMES.items())
    assert {p.value: label for p, label in dispositions.PARTY_LABELS.items()} == cw.PARTY_LABELS


def test_given_every_word_of_the_dossier_then_it_has_english() -> None:
    tables = (cw.REASON_LABELS, cw.ACCOUNT_STATUS_LABELS, cw.STAGE_LABELS, cw.CHANNEL_LABELS,
              cw.CALL_RESULT_LABELS, cw.MESSAGE_RESULT_LABELS, cw.STEP_STATUS_LABELS,
              cw.PARTY_LABELS, cw.OUTCOME_LABELS, cw.PROMISE_STATUS_LABELS, cw.TEMPLATE_LABELS,
              cw.CONVERSATION_CHANNEL_LABELS, cw.HANDOVER_REASON_LABELS, cw.CHAT_SENDER_LABELS,
              cw.VISIT_OUTCOME_LABELS, ld.PAYMENT_SOURCES)  # fmt: skip
    words = {w for table in tables for w in table.values()}
    words |= {cw.OTHER, cw.OTHER_STATE, cw.OTHER_RESULT, cw.OTHER_STAGE, cw.OTHER_CHANNEL,
              cw.OTHER_SENDER, ld.TITLE, ld.GENERATED, ld.HANDOFF,
              ld.ALLOWED, ld.REFUSED, ld.PROFILE, ld.RECEIPT, *ld.ACCOUNT_HEADER}  # fmt: skip
    words |= {w for heading, header in ld.SECTIONS.values() for w in (heading, *header)}
    english = _english()
    assert sorted(w for w in words if not english.get(w)) == []


def test_given_unknown_codes_then_a_neutral_word_never_the_code() -> None:
    def same(text: str) -> str:
        return text

    assert cw.word(cw.ACCOUNT_STATUS_LABELS, "frozen", same, cw.OTHER_STATE) == "Otro estado"
    assert cw.reasons_words(["outside_hours", "new_rule"], same) == (
        "Fuera del horario permitido; Otro motivo"
    )
    assert cw.result_word("sms", "delivered", same) == "Entregado"
    assert cw.result_word("call", "delivered", same) == "Otro resultado"
    assert cw.word(cw.STAGE_LABELS, None, same) == ""


def test_given_a_visit_result_then_the_field_agents_words_not_the_calls() -> None:
    def same(text: str) -> str:
        return text

    assert cw.outcome_word("visit", "domicilio_incorrecto", same) == "El deudor no vive aquí"
    assert cw.outcome_word("visit", "pago", same) == "Dice que ya pagó"
    assert cw.outcome_word("call", "pago", same) == "Pagó"
    assert cw.outcome_word("call", "domicilio_incorrecto", same) == "Otro resultado"
    assert cw.outcome_word("visit", None, same) == ""
