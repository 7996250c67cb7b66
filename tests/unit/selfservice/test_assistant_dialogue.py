"""The assistant's dialogue: identity first, legal duties first, hand-over rules,
money and dates as the debtor reads them, the promise and plan flows."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfservice.assistant import (
    PENDING,
    AccountFacts,
    ChoosePlan,
    DialogueState,
    HandOver,
    MakePromise,
    OpenDispute,
    OpenPromise,
    OptOut,
    PlanOption,
    RequestCallback,
    SendPaymentLink,
    Turn,
    VerifyIdentity,
    dump_state,
    identity_checked,
    load_state,
    parse_amount,
    parse_day,
    respond,
)

NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # Monday 10:00 in Mexico City
TODAY = date(2026, 12, 7)
FACTS = AccountFacts(
    account_id=7,
    debtor_name="Rosa María Pérez",
    balance=Decimal("12450.50"),
    currency="MXN",
    locale="es_MX",
    due_date=date(2026, 12, 20),
    open_promises=(),
    open_plan=None,
    plan_options=(
        PlanOption("p3", 3, Decimal("4150.17"), "monthly", date(2026, 12, 15)),
        PlanOption("p12", 12, Decimal("1037.54"), "monthly", date(2026, 12, 15), True),
    ),
    timezone="America/Mexico_City",
    max_promise_days=30,
    online_pay=True,
    payment_instructions="Pague en BBVA, convenio 123456.",
)
COLOMBIA = replace(FACTS, currency="COP", locale="es_CO", balance=Decimal("1500000"),
                   timezone="America/Bogota")  # fmt: skip
VERIFIED = DialogueState(verified=True)
PAYMENT_PUSH = (SendPaymentLink, MakePromise, ChoosePlan)


def say(text: str, state: DialogueState = VERIFIED, facts: AccountFacts | None = FACTS) -> Turn:
    return respond(state, text, facts, NOW)


def words(turn: Turn) -> str:
    return " ".join(turn.replies)


# ---- identity first -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["cuanto debo", "cual es mi fecha limite", "quiero pagar",
                                  "puedo pagar en cuotas", "le pago el viernes"])  # fmt: skip
def test_given_an_unverified_debtor_when_asking_about_the_debt_then_nothing_is_told(
    text: str,
) -> None:
    turn = say(text, DialogueState())
    assert turn.actions == []
    assert "12" not in words(turn) and "MXN" not in words(turn)
    assert turn.state.pending == "identity"


def test_given_the_identity_question_when_digits_arrive_then_the_caller_checks_them() -> None:
    asked = say("cuanto debo", DialogueState())
    turn = say("son 4 5 6 7", asked.state)
    assert turn.actions == [VerifyIdentity("4567")]
    answered = identity_checked(turn.state, True, FACTS, NOW)
    assert answered.state.verified
    assert "$12,450.50 MXN" in words(answered)


def test_given_three_wrong_identity_answers_then_a_person_takes_over() -> None:
    state = say("cuanto debo", DialogueState()).state
    for _ in range(2):
        turn = identity_checked(state, False, FACTS, NOW)
        assert turn.actions == [] and not turn.state.verified
        state = turn.state
    last = identity_checked(state, False, FACTS, NOW)
    assert last.actions == [HandOver("identity_failed")]
    assert not last.state.verified


def test_given_an_unverified_greeting_then_no_name() -> None:
    turn = say("hola", DialogueState())
    assert "Rosa" not in words(turn)
    assert "Rosa" in words(say("hola"))


# ---- legal duties first -----------------------------------------------------------------


@pytest.mark.parametrize("state", [DialogueState(), VERIFIED,
                                   DialogueState(verified=True, pending="plan_choice"),
                                   DialogueState(pending="identity"),
                                   DialogueState(verified=True, handed_over=True)])  # fmt: skip
def test_given_a_stop_in_any_state_then_opt_out_and_no_payment_push(state: DialogueState) -> None:
    turn = say("dejen de mandarme whatsapp", state)
    assert turn.actions == [OptOut("whatsapp")]
    assert "WhatsApp" in words(turn)
    assert "pag" not in words(turn).lower() and "cuota" not in words(turn).lower()


@pytest.mark.parametrize(("text", "kind"), [("ya pague", "paid"), ("no es mi deuda", "denies"),
                                            ("quiero ver el contrato", "proof")])  # fmt: skip
def test_given_a_dispute_then_recorded_handed_over_and_no_payment_push(
    text: str, kind: str
) -> None:
    turn = say(text)
    assert turn.actions == [OpenDispute(kind, text), HandOver("dispute")]
    assert turn.state.handed_over
    assert not any(isinstance(a, PAYMENT_PUSH) for a in turn.actions)
    assert "enlace" not in words(turn) and "cuotas" not in words(turn)


def test_given_a_dispute_before_the_identity_check_then_still_recorded_without_debt_details() -> (
    None
):
    turn = say("esa deuda no es mia", DialogueState())
    assert OpenDispute("denies", "esa deuda no es mia") in turn.actions
    assert "MXN" not in words(turn)


def test_given_stop_and_dispute_in_one_message_then_both() -> None:
    turn = say("ya pague, no me llamen mas")
    assert OptOut("call") in turn.actions
    assert any(isinstance(a, OpenDispute) and a.kind == "paid" for a in turn.actions)
    assert HandOver("dispute") in turn.actions


def test_given_someone_who_is_not_the_debtor_then_a_person_looks_and_nothing_is_told() -> None:
    turn = say("soy su mamá, ella no está, que se le ofrece?")
    assert turn.actions == [HandOver("third_party")]
    assert turn.state.handed_over
    assert "MXN" not in words(turn) and "12,450" not in words(turn)
    assert "no es de la persona" in words(turn)


def test_given_a_wrong_number_and_a_stop_then_opt_out_dispute_and_a_third_party_handover() -> None:
    text = "numero equivocado, ya no me escriban"
    turn = say(text)
    assert turn.actions == [OptOut(None), OpenDispute("denies", text), HandOver("third_party")]
    assert not any(isinstance(a, PAYMENT_PUSH) for a in turn.actions)


def test_given_news_of_the_debtors_death_then_collection_paused_and_a_person_looks() -> None:
    text = "el titular falleció en enero"
    turn = say(text, DialogueState())
    assert turn.actions == [OpenDispute("denies", text), HandOver("deceased")]
    assert "Lamentamos" in words(turn) and "no reconoce" not in words(turn)


def test_given_a_death_and_a_stop_then_opt_out_and_the_dispute_are_both_kept() -> None:
    text = "ella fallecio, no vuelvan a escribir"
    turn = say(text)
    assert turn.actions == [OptOut(None), OpenDispute("denies", text), HandOver("deceased")]


def test_given_a_past_payment_with_its_weekday_then_a_paid_dispute_and_no_promise() -> None:
    text = "mandé la transferencia el martes, ¿no les llegó?"
    turn = say(text)
    assert turn.actions == [OpenDispute("paid", text), HandOver("dispute")]
    assert not any(isinstance(a, PAYMENT_PUSH) for a in turn.actions)


def test_given_the_debtor_mourning_a_relative_then_no_death_handover_nor_dispute() -> None:
    turn = say("se murió mi abuelo, estoy de luto, denme unos días")
    assert not any(isinstance(a, (OpenDispute, OptOut)) for a in turn.actions)
    assert HandOver("deceased") not in turn.actions


def test_given_a_relative_relaying_a_promise_then_no_promise_is_recorded() -> None:
    turn = say("soy su mamá, dice que el viernes les paga")
    assert turn.actions == [HandOver("third_party")]


def test_given_a_stop_for_every_channel_then_opt_out_of_all() -> None:
    assert say("BAJA").actions == [OptOut(None)]


# ---- hand-over -----------------------------------------------------------------------------


def test_given_an_agent_request_then_handed_over() -> None:
    turn = say("quiero hablar con un asesor")
    assert turn.actions == [HandOver("agent_requested")]
    assert turn.state.handed_over


def test_given_two_misunderstandings_in_a_row_then_handed_over() -> None:
    first = say("mi perro se comio el control")
    assert first.actions == [] and first.state.misunderstood == 1
    second = say("asdfgh", first.state)
    assert second.actions == [HandOver("not_understood")]


def test_given_a_misunderstanding_then_an_understood_message_then_the_count_restarts() -> None:
    first = say("mi perro se comio el control")
    second = say("cuanto debo", first.state)
    assert second.state.misunderstood == 0
    assert say("asdfgh", second.state).actions == []


def test_given_a_handed_over_conversation_then_the_assistant_is_quiet() -> None:
    turn = say("cuanto debo", DialogueState(verified=True, handed_over=True))
    assert turn.replies == [] and turn.actions == []


def test_given_a_callback_request_then_a_callback_in_the_debtors_zone() -> None:
    turn = say("llamenme mañana a las 5")
    (action,) = turn.actions
    assert isinstance(action, RequestCallback)
    assert action.at is not None
    assert (action.at.date(), action.at.hour) == (date(2026, 12, 8), 17)
    assert str(action.at.tzinfo) == "America/Mexico_City"


@pytest.mark.parametrize(
    ("lang", "text", "reply"),
    [("es", "llámenme el 15 de enero de 2026", "El 15 de enero de 2026 ya pasó."),
     ("es", "llámenme el 15/01/26 a las 5", "El 15 de enero de 2026 ya pasó."),
     ("en", "llámenme el 15 de enero de 2026", "January 15, 2026 has passed.")],
)  # fmt: skip
def test_given_a_callback_on_a_day_gone_by_then_the_day_is_asked_never_a_call_soon(
    lang: str, text: str, reply: str
) -> None:
    turn = respond(VERIFIED, text, FACTS, NOW, lang=lang)
    assert turn.actions == [] and turn.state.pending == "callback_date"
    assert words(turn).startswith(reply)
    booked = respond(turn.state, "el viernes a las 5", FACTS, NOW, lang=lang)
    [callback] = booked.actions
    assert isinstance(callback, RequestCallback) and callback.at is not None
    assert callback.at.date() == date(2026, 12, 11)


def test_given_a_callback_request_then_the_reply_names_the_zone_by_its_city() -> None:
    # The debtor reads "Ciudad de México", as every page names a zone, never the IANA id.
    spanish = words(say("llamenme mañana a las 5"))
    assert "17:00 (Ciudad de México)" in spanish and "America/" not in spanish
    english = words(respond(VERIFIED, "llamenme mañana a las 5", FACTS, NOW, lang="en"))
    assert "(Mexico City)" in english and "America/" not in english


# ---- answers from the account ------------------------------------------------------------


def test_given_a_balance_question_then_money_in_the_accounts_locale() -> None:
    assert "$12,450.50 MXN" in words(say("cuanto debo"))
    assert "1.500.000,00" in words(respond(VERIFIED, "cuanto debo", COLOMBIA, NOW))


def test_given_open_promises_then_the_balance_names_them() -> None:
    facts = replace(FACTS, open_promises=(OpenPromise(Decimal("500"), date(2026, 12, 12)),))
    assert "12 de diciembre de 2026" in words(say("mi saldo", facts=facts))


def test_given_a_due_date_question_then_the_date_in_spanish_or_english() -> None:
    assert "20 de diciembre de 2026" in words(say("cuando vence mi pago"))
    english = respond(VERIFIED, "cuando vence mi pago", FACTS, NOW, lang="en")
    assert "December 20, 2026" in words(english)


def test_given_a_pay_request_then_a_link_for_the_balance_or_the_amount_said() -> None:
    assert say("quiero pagar").actions == [SendPaymentLink(Decimal("12450.50"))]
    assert say("quiero pagar $2,000").actions == [SendPaymentLink(Decimal("2000.00"))]
    capped = say("quiero pagar 50 mil pesos")
    assert capped.actions == [SendPaymentLink(Decimal("12450.50"))]


@pytest.mark.parametrize("text", ["quiero pagar", "mándame el link", "quiero pagar todo"])
def test_given_a_pay_request_with_no_amount_then_a_link_for_the_whole_balance(text: str) -> None:
    turn = say(text)
    assert turn.actions == [SendPaymentLink(Decimal("12450.50"))]
    assert turn.state.pending is None


@pytest.mark.parametrize(
    "text",
    ["quiero pagar -300", "quiero pagar 500 o 600", "quiero pagar 0", "quiero pagar $0",
     "quiero pagar 0 pesos", "quiero pagar unos 500", "quiero pagar 100 dólares",
     "quiero pagar 15", "quiero pagar lo que pueda", "quiero pagar una parte",
     "quiero pagar 2 mil 3 mil", "quiero pagar 500 500"],
)  # fmt: skip
def test_given_a_pay_request_with_an_unclear_amount_then_the_amount_is_asked_not_linked(
    text: str,
) -> None:
    turn = say(text)
    assert turn.actions == []
    assert turn.state.pending == "pay_amount"
    assert words(turn) == ("¿Cuánto quiere pagar? Su saldo es de $12,450.50 MXN. Escriba un "
                           "solo monto, por ejemplo «2500», o «todo».")  # fmt: skip
    english = respond(VERIFIED, text, FACTS, NOW, lang="en")
    assert english.actions == [] and words(english).startswith("How much do you want to pay?")


@pytest.mark.parametrize(
    ("answer", "amount"), [("500", "500.00"), ("$600", "600.00"), ("15", "15.00"),
                           ("todo", "12450.50"), ("all", "12450.50")],
)  # fmt: skip
def test_given_the_amount_asked_for_then_the_answer_gets_its_link(answer: str, amount: str) -> None:
    asked = say("quiero pagar 500 o 600")
    turn = say(answer, asked.state)
    assert turn.actions == [SendPaymentLink(Decimal(amount))]
    assert turn.state.pending is None


@pytest.mark.parametrize("answer", ["0", "-200", "500 o 600", "unos 500"])
def test_given_the_amount_asked_for_and_still_unclear_then_asked_again(answer: str) -> None:
    asked = say("quiero pagar -300")
    turn = say(answer, asked.state)
    assert turn.actions == [] and turn.state.pending == "pay_amount"
    assert words(turn).startswith("¿Cuánto quiere pagar?")


@pytest.mark.parametrize("lang", ["es", "en"])
def test_given_the_pay_amount_unclear_again_and_again_then_a_person_takes_over(lang: str) -> None:
    asked = respond(VERIFIED, "quiero pagar 500 o 600", FACTS, NOW, lang=lang)
    again = respond(asked.state, "unos 500", FACTS, NOW, lang=lang)
    assert again.actions == [] and again.state.pending == "pay_amount"
    handed = respond(again.state, "2 mil 3 mil", FACTS, NOW, lang=lang)
    assert handed.actions == [HandOver("amount_unclear")]
    assert handed.state.handed_over and handed.state.pending is None
    assert words(handed) == (
        "No logro entender el monto. Le comunico con un asesor para acordarlo con usted; verá "
        "lo que hemos hablado." if lang == "es" else "I still cannot tell the amount. I am "
        "putting you through to an agent to agree it with you, who will see our conversation."
    )  # fmt: skip
    assert respond(handed.state, "500", FACTS, NOW, lang=lang).actions == []  # a person has it


@pytest.mark.parametrize(
    "answers", [["unos 500", "0"], ["500 o 600", "99 mil"], ["-5", "unos 500"]]
)
def test_given_the_promise_amount_unclear_or_refused_twice_then_a_person_takes_over(
    answers: list[str],
) -> None:
    state = say("le pago el viernes").state
    for answer in answers[:-1]:
        turn = say(answer, state)
        assert turn.actions == [] and turn.state.pending == "promise_amount"
        state = turn.state
    last = say(answers[-1], state)
    assert last.actions == [HandOver("amount_unclear")] and last.state.handed_over


def test_given_an_unclear_amount_then_a_clear_one_then_booked_and_the_count_starts_again() -> None:
    asked = say("quiero pagar 500 o 600")
    again = say("unos 500", asked.state)
    linked = say("500", again.state)
    assert linked.actions == [SendPaymentLink(Decimal("500.00"))]
    assert linked.state.unclear_amounts == 0
    # A new question is a new count: one unclear answer to it is asked again.
    fresh = say("unos 300", say("quiero pagar 300 o 400", linked.state).state)
    assert fresh.actions == [] and fresh.state.pending == "pay_amount"


@pytest.mark.parametrize(
    ("first", "answers"),
    [("me comprometo a pagar", ["el otro viernes", "el 12 o 13"]),
     ("le pago 500", ["el 15 de enero de 2026", "el 15/03"]),
     ("llámenme el otro viernes", ["31 de febrero", "el 15 de enero de 2026"])],
)  # fmt: skip
def test_given_the_day_unclear_or_refused_twice_then_a_person_takes_over(
    first: str, answers: list[str]
) -> None:
    state = say(first).state
    for answer in answers[:-1]:
        turn = say(answer, state)
        assert turn.actions == [] and turn.state.pending in ("promise_date", "callback_date")
        state = turn.state
    last = say(answers[-1], state)
    assert last.actions == [HandOver("date_unclear")] and last.state.handed_over
    assert words(last).startswith("No logro entender la fecha. Le comunico con un asesor")
    english = respond(state, answers[-1], FACTS, NOW, lang="en")
    assert words(english).startswith("I still cannot tell the date.")


def test_given_an_unclear_day_then_a_clear_one_then_the_count_starts_again() -> None:
    state = say("el otro viernes", say("me comprometo a pagar").state).state
    assert state.unclear_days == 1
    taken = say("el viernes", state)
    assert taken.state.pending == "promise_amount" and taken.state.unclear_days == 0
    stored = load_state(json.loads(json.dumps(dump_state(state))))
    assert stored.unclear_days == 1
    assert load_state({"unclear_days": True}).unclear_days == 0


def test_given_an_unclear_amount_count_then_it_survives_the_stored_state() -> None:
    again = say("unos 500", say("quiero pagar 500 o 600").state)
    stored = load_state(json.loads(json.dumps(dump_state(again.state))))
    assert stored.unclear_amounts == 1
    assert say("500 o 600", stored).actions == [HandOver("amount_unclear")]
    assert load_state({"unclear_amounts": "9"}).unclear_amounts == 0
    assert load_state({"unclear_amounts": -1}).unclear_amounts == 0


def test_given_the_amount_asked_for_and_another_request_then_that_request() -> None:
    asked = say("quiero pagar 500 o 600")
    turn = say("cuanto debo", asked.state)
    assert turn.actions == [] and turn.state.pending is None
    assert words(turn).startswith("Su saldo es de $12,450.50 MXN.")


def test_given_a_pay_request_above_the_balance_then_a_link_for_the_balance_that_says_so() -> None:
    turn = say("quiero pagar 50 mil pesos")
    assert turn.actions == [SendPaymentLink(Decimal("12450.50"))]
    assert words(turn) == "Su saldo es de $12,450.50 MXN; el enlace es por ese monto."
    english = respond(VERIFIED, "quiero pagar 50 mil pesos", FACTS, NOW, lang="en")
    assert words(english) == "Your balance is $12,450.50 MXN; the link is for that amount."


@pytest.mark.parametrize(
    ("text", "amount"), [("quiero pagar 500", "500.00"), ("quiero pagar", "12450.50"),
                         ("quiero pagar 50 mil pesos", "12450.50")],
)  # fmt: skip
def test_given_a_pay_request_before_the_identity_check_then_the_amount_said_is_linked(
    text: str, amount: str
) -> None:
    waiting = respond(DialogueState(), text, FACTS, NOW)
    assert waiting.actions == []
    stored = load_state(json.loads(json.dumps(dump_state(waiting.state))))
    turn = identity_checked(stored, True, FACTS, NOW)
    assert turn.actions == [SendPaymentLink(Decimal(amount))]
    assert turn.state.promise_amount is None


def test_given_an_unclear_pay_request_before_the_identity_check_then_asked_after_it() -> None:
    waiting = respond(DialogueState(), "quiero pagar 500 o 600", FACTS, NOW)
    turn = identity_checked(load_state(dump_state(waiting.state)), True, FACTS, NOW)
    assert turn.actions == [] and turn.state.pending == "pay_amount"
    assert say("500", turn.state).actions == [SendPaymentLink(Decimal("500.00"))]


@pytest.mark.parametrize(
    ("lang", "text"),
    [("es", "quiero pagar el 15"), ("es", "puedo pagar hasta el 15"),
     ("en", "I want to pay on the 15th"), ("en", "I'll pay on the 15th")],
)  # fmt: skip
def test_given_a_pay_request_with_a_day_then_a_promise_for_that_day_never_a_link_today(
    lang: str, text: str
) -> None:
    asked = respond(VERIFIED, text, FACTS, NOW, lang=lang)
    assert asked.actions == []
    assert asked.state.pending == "promise_amount"
    assert asked.state.promise_due == date(2026, 12, 15)
    turn = respond(asked.state, "2500", FACTS, NOW, lang=lang)
    assert turn.actions == [MakePromise(Decimal("2500.00"), date(2026, 12, 15))]


def test_given_a_pay_request_with_a_day_and_an_amount_then_that_promise() -> None:
    assert say("quiero pagar 500 el 15").actions == [
        MakePromise(Decimal("500.00"), date(2026, 12, 15))
    ]
    no_gateway = say("quiero pagar 500 el 15", facts=replace(FACTS, online_pay=False))
    assert no_gateway.actions == [MakePromise(Decimal("500.00"), date(2026, 12, 15))]


@pytest.mark.parametrize(
    ("text", "reply"),
    [("quiero pagar el 12 o 13", "No estoy seguro de qué fecha me dice."),
     ("quiero pagar el viernes 14", "No estoy seguro de qué fecha me dice."),
     ("quiero pagar el 15/03", "La fecha debe estar entre hoy y el 6 de enero de 2027.")],
)  # fmt: skip
def test_given_a_pay_request_with_an_unclear_or_far_day_then_the_day_is_asked_no_link(
    text: str, reply: str
) -> None:
    turn = say(text)
    assert turn.actions == [] and turn.state.pending == "promise_date"
    assert words(turn).startswith(reply)


def test_given_a_pay_request_for_today_then_the_link() -> None:
    assert say("quiero pagar hoy").actions == [SendPaymentLink(Decimal("12450.50"))]


def test_given_the_amount_asked_for_when_the_answer_names_a_later_day_then_a_promise() -> None:
    asked = say("quiero pagar 500 o 600")
    turn = say("500 el 15", asked.state)
    assert turn.actions == [MakePromise(Decimal("500.00"), date(2026, 12, 15))]


@pytest.mark.parametrize(
    ("text", "actions", "pending"),
    [("quiero pagar el 15", [], "promise_amount"),
     ("quiero pagar 500 el 15", [MakePromise(Decimal("500.00"), date(2026, 12, 15))], None),
     ("te pago 2 mil el viernes", [MakePromise(Decimal("2000.00"), date(2026, 12, 11))], None),
     ("quiero pagar el 12 o 13", [], "promise_date")],
)  # fmt: skip
def test_given_a_pay_request_with_a_day_before_the_identity_check_then_the_promise_after_it(
    text: str, actions: list[MakePromise], pending: str | None
) -> None:
    waiting = respond(DialogueState(), text, FACTS, NOW)
    assert waiting.actions == []
    stored = load_state(json.loads(json.dumps(dump_state(waiting.state))))
    turn = identity_checked(stored, True, FACTS, NOW)
    assert turn.actions == actions and turn.state.pending == pending
    assert not any(isinstance(a, SendPaymentLink) for a in turn.actions)


@pytest.mark.parametrize(
    ("lang", "text"),
    [("es", "pago lo que pueda"), ("es", "te pago lo que pueda"), ("es", "les deposito lo que pueda"),
     ("es", "les mando lo que me alcance"), ("en", "I will pay what I can"),
     ("en", "I'll pay whatever I can")],
)  # fmt: skip
def test_given_an_offer_of_what_the_debtor_can_then_a_pay_request_whose_amount_is_asked(
    lang: str, text: str
) -> None:
    turn = respond(VERIFIED, text, FACTS, NOW, lang=lang)
    assert turn.intent is not None and turn.intent.name == "pay"
    assert turn.actions == [] and turn.state.pending == "pay_amount"
    assert words(turn).startswith("¿Cuánto quiere pagar?" if lang == "es" else "How much")
    assert respond(turn.state, "800", FACTS, NOW, lang=lang).actions == [
        SendPaymentLink(Decimal("800.00"))
    ]


def test_given_what_the_debtor_can_with_a_day_then_a_promise_whose_amount_is_asked() -> None:
    turn = say("te pago lo que pueda el viernes")
    assert turn.actions == [] and turn.state.pending == "promise_amount"
    assert turn.state.promise_due == date(2026, 12, 11)


def test_given_what_the_debtor_can_before_the_identity_check_then_asked_after_it() -> None:
    waiting = respond(DialogueState(), "pago lo que pueda", FACTS, NOW)
    assert waiting.actions == [] and waiting.state.asked == "pay"
    turn = identity_checked(load_state(dump_state(waiting.state)), True, FACTS, NOW)
    assert turn.actions == [] and turn.state.pending == "pay_amount"


@pytest.mark.parametrize("text", ["lo que pueda", "quiero saber algo del pago"])
def test_given_some_of_it_with_no_offer_to_pay_then_not_a_pay_request(text: str) -> None:
    turn = say(text)
    assert turn.intent is not None and turn.intent.name == "unknown"
    assert turn.actions == []


def test_given_no_payment_gateway_and_an_unclear_amount_then_the_instructions() -> None:
    turn = say("quiero pagar 500 o 600", facts=replace(FACTS, online_pay=False))
    assert turn.actions == [] and turn.state.pending is None
    assert words(turn) == "Puede pagar así: Pague en BBVA, convenio 123456."


def test_given_a_pay_request_then_the_link_words_are_the_accounts_money_and_language() -> None:
    [link] = say("quiero pagar $2,000").actions
    assert isinstance(link, SendPaymentLink)
    assert link.sent == "Pague $2,000.00 MXN de forma segura en este enlace:"
    assert "BBVA" in link.failed  # when no link can be made: how else to pay
    [english] = respond(VERIFIED, "quiero pagar", FACTS, NOW, lang="en").actions
    assert isinstance(english, SendPaymentLink) and english.sent.startswith("Pay $12,450.50")


def test_given_no_payment_gateway_then_the_creditors_instructions_and_no_link() -> None:
    turn = say("quiero pagar", facts=replace(FACTS, online_pay=False))
    assert turn.actions == []
    assert words(turn) == "Puede pagar así: Pague en BBVA, convenio 123456."
    bare = say("quiero pagar", facts=replace(FACTS, online_pay=False, payment_instructions=" "))
    assert bare.actions == [] and "asesor" in words(bare)


def test_given_installments_then_options_and_a_choice_makes_a_plan() -> None:
    menu = say("puedo pagar en cuotas?")
    assert menu.state.pending == "plan_choice"
    assert "supervisor" in words(menu)
    chosen = say("2", menu.state)
    assert chosen.actions == [ChoosePlan("p12")]
    assert "supervisor" in words(chosen)


def test_given_no_plan_options_then_a_person_builds_the_plan() -> None:
    turn = say("quiero un plan de pagos", facts=replace(FACTS, plan_options=()))
    assert turn.actions == [HandOver("plan_request")]


def test_given_a_promise_with_day_and_amount_then_made_at_once() -> None:
    turn = say("le pago 3 mil el viernes")
    assert turn.actions == [MakePromise(Decimal("3000.00"), date(2026, 12, 11))]


def test_given_a_promise_without_amount_then_asked_and_all_means_the_balance() -> None:
    first = say("le pago el viernes")
    assert first.state.pending == "promise_amount"
    second = say("todo", first.state)
    assert second.actions == [MakePromise(Decimal("12450.50"), date(2026, 12, 11))]


# The words a question puts in quotes for all of it: «todo», "all" (not «2500»).
SUGGESTED = re.compile(r"«([a-z]+)»|\"([a-z]+)\"")


@pytest.mark.parametrize(
    ("lang", "first"), [("es", "le pago el viernes"), ("en", "I'll pay on Friday")]
)
def test_given_the_promise_amount_asked_then_the_word_the_question_suggests_books_the_balance(
    lang: str, first: str
) -> None:
    asked = respond(VERIFIED, first, FACTS, NOW, lang=lang)
    assert asked.state.pending == "promise_amount"
    [suggested] = SUGGESTED.findall(words(asked))
    answer = "".join(suggested)  # «todo» in Spanish, "all" in English
    turn = respond(asked.state, answer, FACTS, NOW, lang=lang)
    assert turn.actions == [MakePromise(Decimal("12450.50"), date(2026, 12, 11))]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_given_the_pay_amount_asked_then_the_word_the_question_suggests_links_the_balance(
    lang: str,
) -> None:
    asked = respond(VERIFIED, "quiero pagar 500 o 600", FACTS, NOW, lang=lang)
    suggested = [a or b for a, b in SUGGESTED.findall(words(asked))]
    assert suggested  # the question names the word for all of it
    for answer in suggested:
        turn = respond(asked.state, answer, FACTS, NOW, lang=lang)
        assert turn.actions == [SendPaymentLink(Decimal("12450.50"))], answer


@pytest.mark.parametrize("answer", ["all", "everything", "todo", "el total", "la totalidad"])
def test_given_the_promise_amount_asked_then_all_of_it_in_either_language_is_the_balance(
    answer: str,
) -> None:
    asked = say("le pago el viernes")
    turn = say(answer, asked.state)
    assert turn.actions == [MakePromise(Decimal("12450.50"), date(2026, 12, 11))]


def test_given_a_promise_without_a_day_then_asked() -> None:
    first = say("me comprometo a pagar")
    assert first.state.pending == "promise_date"
    second = say("el 15", first.state)
    assert second.state.pending == "promise_amount"
    third = say("2500", second.state)
    assert third.actions == [MakePromise(Decimal("2500.00"), date(2026, 12, 15))]


def test_given_a_promise_beyond_the_horizon_then_refused_and_asked_again() -> None:
    turn = say("le pago el 15/03 todo")
    assert turn.actions == []
    assert turn.state.pending == "promise_date"


def test_given_a_promise_of_two_amounts_run_together_then_the_amount_is_asked() -> None:
    turn = say("le pago 2 mil 3 mil el viernes")
    assert turn.actions == [] and turn.state.pending == "promise_amount"
    assert turn.state.promise_due == date(2026, 12, 11)


def test_given_a_promise_with_the_dates_year_then_booked_for_that_date() -> None:
    turn = say("le pago 500 el 5 de enero de 2027")
    assert turn.actions == [MakePromise(Decimal("500.00"), date(2027, 1, 5))]
    english = respond(VERIFIED, "I'll pay 500 on January 5, 2027", FACTS, NOW, lang="en")
    assert english.actions == [MakePromise(Decimal("500.00"), date(2027, 1, 5))]


@pytest.mark.parametrize(
    ("lang", "text", "reply"),
    [("es", "le pago 500 el 5 de enero de 2026",
      "El 5 de enero de 2026 ya pasó. La fecha debe estar entre hoy y el 6 de enero de 2027."),
     ("es", "le pago 500 el 05/01/26",
      "El 5 de enero de 2026 ya pasó. La fecha debe estar entre hoy y el 6 de enero de 2027."),
     ("en", "I'll pay 500 on January 5, 2026",
      "January 5, 2026 has passed. The date must be between today and January 6, 2027."),
     ("es", "le pago 500 el 15 de enero de 2027",
      "La fecha debe estar entre hoy y el 6 de enero de 2027."),
     ("es", "le pago 500 el 15/01/27", "La fecha debe estar entre hoy y el 6 de enero de 2027."),
     ("es", "quiero pagar el 5 de enero de 2026",
      "El 5 de enero de 2026 ya pasó. La fecha debe estar entre hoy y el 6 de enero de 2027.")],
)  # fmt: skip
def test_given_a_promise_date_gone_by_or_far_with_its_year_then_refused_with_the_reason(
    lang: str, text: str, reply: str
) -> None:
    turn = respond(VERIFIED, text, FACTS, NOW, lang=lang)
    assert turn.actions == [] and turn.state.pending == "promise_date"
    assert words(turn).startswith(reply)
    if "500" in text:  # the amount said waits for a day that can be booked
        answer = respond(turn.state, "el viernes", FACTS, NOW, lang=lang)
        assert answer.actions == [MakePromise(Decimal("500.00"), date(2026, 12, 11))]


def test_given_the_promise_date_asked_when_the_answer_is_gone_by_then_refused() -> None:
    asked = say("me comprometo a pagar")
    turn = say("el 20 de noviembre de 2026", asked.state)
    assert turn.actions == [] and turn.state.pending == "promise_date"
    assert words(turn).startswith("El 20 de noviembre de 2026 ya pasó.")


def test_given_a_promise_above_the_balance_then_asked_again() -> None:
    turn = say("le pago 99 mil el viernes")
    assert turn.actions == []
    assert turn.state.pending == "promise_amount"


def test_given_a_pending_question_when_a_stop_arrives_then_the_stop_wins() -> None:
    first = say("le pago el viernes")
    turn = say("no me manden sms", first.state)
    assert turn.actions == [OptOut("sms")]
    assert turn.state.pending is None


# ---- near midnight, across the debtor's zones -------------------------------------------

# 07:30 UTC on Tuesday 8 December: 23:30 of Monday the 7th in Tijuana, already 02:30 of
# Tuesday the 8th in Cancún. A debtor whose number or region gives both zones.
MIDNIGHT = datetime(2026, 12, 8, 7, 30, tzinfo=UTC)
STRADDLING = replace(FACTS, timezone="America/Tijuana",
                     zones=("America/Tijuana", "America/Cancun"))  # fmt: skip
STRADDLING_CANCUN_FIRST = replace(STRADDLING, timezone="America/Cancun",
                                  zones=("America/Cancun", "America/Tijuana"))  # fmt: skip


def at_midnight(text: str, state: DialogueState = VERIFIED,
                facts: AccountFacts = STRADDLING) -> Turn:  # fmt: skip
    return respond(state, text, facts, MIDNIGHT)


@pytest.mark.parametrize("facts", [STRADDLING, STRADDLING_CANCUN_FIRST])
@pytest.mark.parametrize(
    "text", ["me comprometo a pagar 500 pesos hoy", "le pago mañana 500 pesos"]
)
def test_given_zones_on_two_dates_when_a_promise_says_hoy_or_manana_then_the_date_is_asked(
    text: str, facts: AccountFacts
) -> None:
    turn = at_midnight(text, facts=facts)
    # No promise on a day read in one zone: it may be already past, or a day ahead,
    # where the debtor is. The reply names both todays and asks for the exact date.
    assert turn.actions == []
    assert turn.state.pending == "promise_date"
    assert "7 de diciembre de 2026" in words(turn) and "8 de diciembre de 2026" in words(turn)
    # The amount is kept: the exact date is all that is missing.
    answered = at_midnight("el 8/12", turn.state, facts)
    assert answered.actions == [MakePromise(Decimal("500.00"), date(2026, 12, 8))]


@pytest.mark.parametrize("facts", [STRADDLING, STRADDLING_CANCUN_FIRST])
def test_given_zones_on_two_dates_when_the_debtor_writes_the_earlier_today_then_it_is_taken(
    facts: AccountFacts,
) -> None:
    # "7/12" is the Tijuana debtor's today: neither refused as past nor read as 2027.
    turn = at_midnight("le pago 500 pesos el 7/12", facts=facts)
    assert turn.actions == [MakePromise(Decimal("500.00"), date(2026, 12, 7))]


def test_given_zones_on_two_dates_when_a_day_before_both_todays_then_refused() -> None:
    turn = at_midnight("le pago 500 pesos el 6/12/2026")
    assert turn.actions == []
    assert turn.state.pending == "promise_date"


def test_given_zones_on_two_dates_when_a_weekday_reads_alike_in_both_then_taken() -> None:
    # Friday the 11th from Monday the 7th and from Tuesday the 8th: no question needed.
    turn = at_midnight("le pago 500 pesos el viernes")
    assert turn.actions == [MakePromise(Decimal("500.00"), date(2026, 12, 11))]


def test_given_zones_on_two_dates_when_a_weekday_reads_apart_then_the_date_is_asked() -> None:
    # "el martes" is tomorrow from Tijuana's Monday, next week from Cancún's Tuesday.
    turn = at_midnight("le pago 500 pesos el martes")
    assert turn.actions == [] and turn.state.pending == "promise_date"


def test_given_zones_on_two_dates_then_the_exact_date_question_in_english() -> None:
    turn = respond(VERIFIED, "me comprometo a pagar 500 pesos hoy", STRADDLING, MIDNIGHT, "en")
    assert turn.actions == []
    assert "December 7, 2026" in words(turn) and "December 8, 2026" in words(turn)


@pytest.mark.parametrize("facts", [STRADDLING, STRADDLING_CANCUN_FIRST])
def test_given_zones_on_two_dates_when_a_callback_says_manana_then_the_day_is_asked(
    facts: AccountFacts,
) -> None:
    # "mañana" is the 8th in Tijuana and the 9th in Cancún: no call booked on one zone's
    # reading; the reply names both todays, and the exact day answers it.
    turn = at_midnight("llamenme mañana a las 5", facts=facts)
    assert turn.actions == []
    assert turn.state.pending == "callback_date"
    assert "7 de diciembre de 2026" in words(turn) and "8 de diciembre de 2026" in words(turn)
    answered = at_midnight("el 9/12 a las 5", turn.state, facts)
    (action,) = answered.actions
    assert isinstance(action, RequestCallback) and action.at is not None
    assert action.at == datetime(2026, 12, 9, 17, 0, tzinfo=ZoneInfo(facts.timezone))
    assert answered.state.pending is None
    assert "9 de diciembre de 2026 17:00" in words(answered)


def test_given_zones_on_two_dates_when_a_callback_names_an_agreed_day_then_booked() -> None:
    # Friday the 11th reads alike from both todays: booked at once, in the first zone.
    turn = at_midnight("llamenme el viernes a las 10 am")
    (action,) = turn.actions
    assert isinstance(action, RequestCallback)
    assert action.at == datetime(2026, 12, 11, 10, 0, tzinfo=ZoneInfo("America/Tijuana"))
    assert "11 de diciembre de 2026 10:00 (Tijuana)" in words(turn)


def test_given_a_callback_day_asked_when_the_answer_names_no_day_then_the_question_is_dropped() -> (
    None
):
    asked = at_midnight("llamenme mañana").state
    assert asked.pending == "callback_date"
    turn = at_midnight("cuanto debo", asked)
    assert turn.state.pending is None and turn.actions == []
    assert "saldo" in words(turn).lower()


def test_given_zones_on_two_dates_then_the_callback_question_in_english() -> None:
    turn = respond(VERIFIED, "llamenme mañana", STRADDLING, MIDNIGHT, "en")
    assert turn.actions == [] and turn.state.pending == "callback_date"
    assert "December 7, 2026" in words(turn) and "December 8, 2026" in words(turn)


# ---- reading days and amounts ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [("manana", date(2026, 12, 8)), ("pasado mañana", date(2026, 12, 9)),
     ("el viernes", date(2026, 12, 11)), ("el lunes", date(2026, 12, 14)),
     ("el 15", date(2026, 12, 15)), ("el 3", date(2027, 1, 3)), ("15/01", date(2027, 1, 15)),
     ("fin de mes", date(2026, 12, 31)), ("en la quincena", date(2026, 12, 15)),
     ("10 de enero", date(2027, 1, 10)), ("el 31/02", None), ("nada", None)],
)  # fmt: skip
def test_given_a_day_in_words_then_the_date(text: str, day: date | None) -> None:
    assert parse_day(text, TODAY) == day


@pytest.mark.parametrize(
    ("text", "amount"),
    [("$1,500", Decimal("1500.00")), ("500 pesos", Decimal("500.00")),
     ("2 mil", Decimal("2000.00")), ("1.500.000 pesos", Decimal("1500000.00")),
     ("el viernes", None), ("9" * 40 + " pesos", None)],
)  # fmt: skip
def test_given_an_amount_in_words_then_the_decimal(text: str, amount: Decimal | None) -> None:
    assert parse_amount(text) == amount


# ---- any input ----------------------------------------------------------------------------

STATES = st.builds(
    DialogueState,
    verified=st.booleans(),
    misunderstood=st.integers(0, 3),
    pending=st.sampled_from([None, *PENDING]),
    handed_over=st.booleans(),
    unclear_amounts=st.integers(0, 3),
)
# Words of days, money and requests, run together as debtors do ("quiero pagar 2 mil 3
# mil el 15 de enero de 2026"): what could book something.
PHRASES = st.lists(st.sampled_from(
    ["quiero", "pagar", "pago", "le", "te", "el", "15", "de", "enero", "2026", "2027", "dic",
     "mil", "500", "2", "3", "k", "y", "o", "unos", "lo", "que", "pueda", "todo", "all",
     "viernes", "mañana", "hoy", "15/01/26", "05/06", "$", "2.500", "pesos", "otro", "on",
     "the", "15th", "january", "I'll", "pay", "llámenme", "a", "las", "5", "0", "-"]
), min_size=1, max_size=10).map(" ".join)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(STATES, st.text(max_size=2000), st.booleans())
def test_given_any_state_and_text_then_respond_never_raises(
    state: DialogueState, text: str, with_facts: bool
) -> None:
    turn = respond(state, text, FACTS if with_facts else None, NOW)
    assert isinstance(turn.state, DialogueState)
    if not state.verified:
        assert not any(isinstance(a, PAYMENT_PUSH) for a in turn.actions)
        assert "MXN" not in words(turn)
    if turn.intent is not None and turn.intent.name in ("stop", "dispute"):
        assert not any(isinstance(a, PAYMENT_PUSH) for a in turn.actions)


@settings(max_examples=300, deadline=None)
@given(STATES, PHRASES, st.sampled_from(["es", "en"]))
def test_given_any_words_of_days_and_money_then_every_booking_is_within_its_bounds(
    state: DialogueState, text: str, lang: str
) -> None:
    turn = respond(replace(state, verified=True, handed_over=False), text, FACTS, NOW, lang=lang)
    for action in turn.actions:
        if isinstance(action, MakePromise):
            assert Decimal(0) < action.amount <= FACTS.balance
            assert TODAY <= action.due <= date(2027, 1, 6)
        if isinstance(action, SendPaymentLink):
            assert Decimal(0) < action.amount <= FACTS.balance
        if isinstance(action, RequestCallback) and action.at is not None:
            assert action.at.date() >= TODAY


# ---- the state as the conversation stores it ---------------------------------------------


def test_given_a_state_when_dumped_to_json_and_loaded_then_the_same() -> None:
    state = DialogueState(verified=True, pending="promise_amount", asked="promise",
                          promise_amount=Decimal("5.50"), promise_due=date(2026, 12, 11))  # fmt: skip
    assert load_state(json.loads(json.dumps(dump_state(state)))) == state


@pytest.mark.parametrize(
    "data",
    [None, [], "verified", {"verified": "yes"}, {"verified": 1}, {"pending": "hack"},
     {"misunderstood": True}, {"misunderstood": 10**9}, {"promise_amount": "NaN"},
     {"promise_amount": "1" * 500}, {"promise_due": "2026-02-31"}, {"asked": "root"}],
)  # fmt: skip
def test_given_a_stored_state_that_cannot_be_read_then_a_new_unverified_one(data: object) -> None:
    state = load_state(data)
    assert not state.verified
    assert state.pending is None and state.asked is None
    assert state.misunderstood == 0 and state.promise_amount is None and state.promise_due is None


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["verified", "misunderstood", "pending", "asked",
                                        "promise_amount", "promise_due", "identity_failures",
                                        "handed_over", "other"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                                 st.floats())))  # fmt: skip
def test_given_any_stored_dict_then_load_state_never_raises(data: dict[str, object]) -> None:
    assert isinstance(load_state(data), DialogueState)


def test_given_no_payment_gateway_then_no_link_is_offered_anywhere() -> None:
    offline = replace(FACTS, online_pay=False)
    assert "enlace de pago" in words(say("cuanto debo"))
    assert "enlace" not in words(say("cuanto debo", facts=offline))
    assert "decirle cómo pagar" in words(say("cuanto debo", facts=offline))
    assert "enlace" not in words(say("hola", facts=offline))
    assert "enlace" not in words(say("hola", DialogueState(), facts=None))  # not known yet


def test_given_a_date_asked_for_when_only_a_time_of_day_comes_then_it_is_the_date() -> None:
    # "mañana en la tarde" alone reads as when to call; answering "¿para qué día?" it is
    # the promise's day, and a request to be called is still one.
    first = say("me comprometo a pagar")
    assert first.state.pending == "promise_date"
    second = say("mañana en la tarde", first.state)
    assert second.state.pending == "promise_amount"
    assert not any(isinstance(a, RequestCallback) for a in second.actions)
    third = say("mejor llamenme mañana en la tarde", first.state)
    assert any(isinstance(a, RequestCallback) for a in third.actions)


@pytest.mark.parametrize(
    ("lang", "reply"),
    [("es", "Hoy a las 08:00 ya pasó."), ("en", "08:00 today has passed.")],
)
def test_given_a_callback_today_at_an_hour_gone_by_then_asked_never_a_call_soon(
    lang: str, reply: str
) -> None:
    # 10:00 in Mexico City: "a las 8" is 8:00 (a bare 8 is the morning's), gone by today.
    turn = respond(VERIFIED, "llámenme hoy a las 8", FACTS, NOW, lang=lang)
    assert turn.actions == [] and turn.state.pending == "callback_date"
    assert words(turn).startswith(reply)
    booked = respond(turn.state, "a las 5", FACTS, NOW, lang=lang)
    [callback] = booked.actions
    assert isinstance(callback, RequestCallback) and callback.at is not None
    assert (callback.at.date(), callback.at.hour) == (TODAY, 17)


def test_given_a_callback_today_at_an_hour_to_come_then_booked_today() -> None:
    [callback] = respond(VERIFIED, "llámenme hoy a las 11", FACTS, NOW).actions
    assert isinstance(callback, RequestCallback) and callback.at is not None
    assert (callback.at.date(), callback.at.hour) == (TODAY, 11)
