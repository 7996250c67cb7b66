"""The assistant on the regional set (tests/fixtures/debtor_utterances_regional.csv,
bench/assistant_regional.py): the floor it reached, no wrong booking; and, in the
dialogue, what each reading fix guards: a day or an amount read two ways is asked for."""

from __future__ import annotations

import csv
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from selfservice.assistant import (
    AccountFacts,
    DialogueState,
    MakePromise,
    RequestCallback,
    Turn,
    respond,
)
from selfservice.intents import INTENTS, classify, normalize

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "bench"))

import assistant_regional as bench  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday, 09:00 in Mexico City
VERIFIED = DialogueState(verified=True)
MX = bench.FACTS["MX"]


def say(text: str, facts: AccountFacts = MX, state: DialogueState = VERIFIED) -> Turn:
    return respond(state, text, facts, NOW)


def promises(turn: Turn) -> list[MakePromise]:
    return [a for a in turn.actions if isinstance(a, MakePromise)]


# ---- the set and its floor -----------------------------------------------------------------


def test_given_the_regional_set_then_new_and_well_formed() -> None:
    with (FIXTURES / "debtor_utterances_regional.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 80
    known = set()
    for other in ("debtor_utterances.csv", "debtor_utterances_heldout.csv",
                  "debtor_utterances_fresh.csv"):  # fmt: skip
        with (FIXTURES / other).open(encoding="utf-8", newline="") as fh:
            known |= {normalize(r["text"]) for r in csv.DictReader(fh)}
    assert not [r["text"] for r in rows if normalize(r["text"]) in known]
    assert len({normalize(r["text"]) for r in rows}) == len(rows)
    for row in rows:
        assert row["intent"] in INTENTS and set(filter(None, row["also"].split("|"))) <= set(
            INTENTS
        )
        assert row["region"] in ("MX", "CO", "PE") and row["half"] in ("dev", "test")
        assert row["stop"] == "0" or row["intent"] == "stop", row["text"]
        assert not row["amount"] or Decimal(row["amount"]) >= 0
        assert not row["date"] or date.fromisoformat(row["date"]) >= NOW.date()


def test_given_the_regional_set_then_the_floor_holds_and_nothing_is_booked_wrong() -> None:
    figures, _ = bench.figures(bench.load())
    assert figures.rows == 83
    assert figures.wrong_bookings == 0
    assert figures.stops_missed == 0
    assert figures.right >= 82  # 54 before the reading fixes (6 wrong bookings)
    assert figures.taken_right >= 52


# ---- days and amounts in the dialogue ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "due"),
    [
        ("el viernes le deposito dos mil quinientos", "2500", date(2026, 12, 11)),
        ("te pago 2 mil 500 el sabado", "2500", date(2026, 12, 12)),
        ("el viernes en la mañana paso a pagar 950", "950", date(2026, 12, 11)),
        ("hoy no puedo, mañana le pago 600", "600", date(2026, 12, 8)),
        ("mil quinientos el lunes", "1500", date(2026, 12, 14)),
        ("dentro de 2 semanas le pago 3 mil", "3000", date(2026, 12, 21)),
    ],
)  # fmt: skip
def test_given_an_amount_and_a_day_as_debtors_write_them_then_that_promise(
    text: str, amount: str, due: date
) -> None:
    assert promises(say(text)) == [MakePromise(Decimal(amount).quantize(Decimal("0.01")), due)]


@pytest.mark.parametrize(
    "text",
    [
        "le pago a las 5 de la tarde, son 900 pesos",  # was booked for 5 January
        "el otro viernes le pago 2 mil",
        "el viernes 14 le pago 2000",  # Friday is the 11th
        "el 31 de febrero le pago 2000",
        "el 12 o 13 le pago 2000",
        "le pago entre 500 y 800 el viernes",
        "le pago unos 500 el viernes",
        "le pago 100 dolares el viernes",
        "le pago 3 de los 5 mil el viernes",
        "le pago 50 lucas el viernes",  # a Mexican account: lucas are nothing here
        "le pago -500 el viernes",
        "le pago 0 pesos el viernes",
        "le pago 20 mil el viernes",  # above the balance
        "el 10/11/2026 le pago 500 pesos",  # gone by
        "el 5/6 le pago 500 pesos",  # past the horizon either way
    ],
)  # fmt: skip
def test_given_a_day_or_amount_that_cannot_be_taken_then_asked_never_booked(text: str) -> None:
    turn = say(text)
    assert promises(turn) == []
    assert turn.state.pending in ("promise_date", "promise_amount")


def test_given_an_unclear_day_then_the_amount_is_kept_for_the_question() -> None:
    turn = say("el otro viernes le pago 2 mil")
    assert turn.state.pending == "promise_date" and turn.state.promise_amount == Decimal("2000")
    assert "15/12" in " ".join(turn.replies)
    assert promises(say("el viernes 18", state=turn.state)) == [
        MakePromise(Decimal("2000.00"), date(2026, 12, 18))
    ]


@pytest.mark.parametrize("answer", ["0", "-500", "unos 500", "500 o 600", "mil y pico"])
def test_given_how_much_was_asked_when_the_answer_is_no_amount_then_asked_again(
    answer: str,
) -> None:
    asked = say("le pago el viernes")
    assert asked.state.pending == "promise_amount"
    turn = say(answer, state=asked.state)
    assert promises(turn) == [] and turn.state.pending == "promise_amount"


def test_given_money_slang_then_read_in_the_accounts_country() -> None:
    colombia = bench.FACTS["CO"]
    peru = bench.FACTS["PE"]
    assert promises(say("el viernes le consigno 200 lucas", colombia)) == [
        MakePromise(Decimal("200000.00"), date(2026, 12, 11))
    ]
    assert promises(say("te pago 50 lucas el lunes", peru)) == [
        MakePromise(Decimal("50.00"), date(2026, 12, 14))
    ]


def test_given_a_callback_on_an_unclear_day_then_asked_never_booked() -> None:
    turn = say("llamenme el otro viernes a las 5")
    assert not [a for a in turn.actions if isinstance(a, RequestCallback)]
    assert turn.state.pending == "callback_date"
    booked = say("el viernes 18", state=turn.state)
    [call] = [a for a in booked.actions if isinstance(a, RequestCallback)]
    assert call.at is not None and call.at.date() == date(2026, 12, 18)


def test_given_a_pay_request_with_an_amount_in_words_then_the_link_is_for_it() -> None:
    [link] = say("quiero pagar dos mil quinientos").actions
    assert getattr(link, "amount", None) == Decimal("2500.00")
    assert replace(MX, online_pay=True).online_pay


@pytest.mark.parametrize("text", ["ya vi su msj", "ya vi su mensaje", "recibi su correo"])
def test_given_a_message_said_read_then_no_stop(text: str) -> None:
    assert classify(text).name != "stop"


def test_given_a_message_said_read_and_a_stop_then_the_stop() -> None:
    assert classify("ya vi su mensaje, no me escriban mas").name == "stop"
