"""Every stable code has words for a person; the day starts at local midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compliance.engine import REASONS
from console.code_labels import (
    REASON_LABELS,
    account_status_label,
    campaign_status_label,
    dial_mode_label,
    dialer_health_label,
    outcome_label,
    party_label,
    plan_status_label,
    reason_label,
    result_label,
    stage_label,
)
from console.day_window import ZoneError, local_midnight, zone_named
from console.dispositions import OUTCOMES, Party
from console.i18n import activate
from store.models import AccountStatus, PlanStatus


def test_given_every_compliance_reason_then_it_has_its_own_label() -> None:
    assert set(REASONS) <= set(REASON_LABELS)
    labels = [reason_label(code) for code in REASONS]
    assert len(set(labels)) == len(labels) and not set(labels) & set(REASONS)


def test_given_unknown_codes_then_never_shown_raw() -> None:
    assert reason_label("brand_new_rule") == "Otro motivo"
    # Each kind of code has its own neutral word: a reason's is no word for an outcome.
    assert outcome_label("brand_new_outcome") == "Otro resultado"
    assert result_label("brand_new_result") == "Otro resultado" and result_label("") == ""
    assert party_label("vecino") == "Otra persona" and party_label("") == ""
    assert campaign_status_label("paused") == "Otro estado"
    assert dial_mode_label("turbo") == "Otro modo"
    assert all(outcome_label(code) != code for code in OUTCOMES)
    assert all(party_label(p.value) != p.value or p.value == "" for p in Party)


def test_given_unknown_codes_in_english_then_the_neutral_words_are_translated() -> None:
    activate("en")
    try:
        words = (outcome_label("x"), party_label("x"), campaign_status_label("x"),
                 dial_mode_label("x"), stage_label("x"))  # fmt: skip
    finally:
        activate("es")
    assert words == ("Other outcome", "Someone else", "Other state", "Other mode", "Other stage")


def test_given_every_account_and_plan_state_then_words_in_spanish_and_english_never_the_code() -> (
    None
):
    for label, states in ((account_status_label, AccountStatus), (plan_status_label, PlanStatus)):
        words = [label(s.value) for s in states]
        assert len(set(words)) == len(words) and not set(words) & {s.value for s in states}
        assert label("archived") == "Otro estado" and label("") == ""
    assert account_status_label("disputed") == "En disputa"
    activate("en")
    try:
        assert account_status_label("disputed") == "Disputed"
        assert account_status_label("archived") == "Other state"
        assert plan_status_label("rejected") == "Rejected"
    finally:
        activate("es")


def test_given_dialer_health_text_then_a_sentence_for_people() -> None:
    assert dialer_health_label("AMI disconnected") == "El marcador perdió la conexión con Asterisk."
    assert "registrado" in dialer_health_label("no registered caller ID: none of the 2 ...")
    assert "registro" in dialer_health_label("something new went wrong")


def test_given_zone_then_day_starts_at_its_midnight() -> None:
    now = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)  # 23:30 the day before in Mexico City
    start = local_midnight(now, zone_named("America/Mexico_City"))
    assert start.isoformat() == "2026-11-24T00:00:00-06:00"
    assert local_midnight(now, zone_named(None)).isoformat() == "2026-11-25T00:00:00+00:00"


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "/etc/localtime", "x" * 65])
def test_given_bad_zone_then_refused(name: str) -> None:
    with pytest.raises(ZoneError):
        zone_named(name)


def test_given_a_pause_reason_then_a_label_is_capitalised_and_a_sentence_word_is_not() -> None:
    from console.code_labels import pause_label, pause_title

    assert (pause_title("baño"), pause_label("baño")) == ("Baño", "baño")
    assert (pause_title("login"), pause_label("login")) == ("Recién conectado", "recién conectado")
    # A campaign's own reason keeps what its operator wrote beyond the first letter.
    assert pause_title("junta CDMX") == "Junta CDMX"
    assert pause_title("") == "" and pause_label("") == ""
    activate("en")
    try:
        assert (pause_title("comida"), pause_label("comida")) == ("Lunch", "lunch")
    finally:
        activate("es")
