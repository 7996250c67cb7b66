"""The assistant's dialogue: one debtor message in, the replies and the actions the
caller executes out (selfservice/chat_service.py runs them through
selfservice/debtor_actions.py). Pure: no SQL, no clock of its own (``now`` comes in),
no I/O; the account's facts come as a frozen value.

Rules: nothing about the debt before the identity check (``verified``); `stop` and
`dispute` are carried out first and never answered with a payment push; an `agent`
request, a dispute, two misunderstandings in a row, or two answers in a row to "how
much?" or "which day?" with nothing to take hand the conversation over to a person
(HandOver with a reason). Money in the account's locale and currency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import UnknownLocaleError
from babel.dates import format_date

from cobrador.ground.money_words import MoneyFormat
from cobrador.ground.shown_time import clock
from cobrador.ground.zone_names import zone_city
from compliance.debtor_time import local_days as zone_days
from selfservice.intents import (
    INTENTS,
    Intent,
    classify,
    dispute_kind,
    normalize,
    scores,
    stop_channel,
)
from selfservice.normalize import bounded
from selfservice.parties import DECEASED
from selfservice.reading import day_reading, parse_amount, parse_day, parse_hour, read_amount

MAX_MISUNDERSTOOD = 2  # this many in a row: a person takes over
# Answers to "how much?" that give no amount to take (unclear, zero, above the balance),
# this many in a row: a person takes over, never a question asked forever.
MAX_UNCLEAR_AMOUNTS = 2
# Answers to "which day?" (a promise's or a callback's) that give no day to take (one
# that reads two ways, gone by, past the horizon), this many in a row: a person too.
MAX_UNCLEAR_DAYS = 2
MAX_IDENTITY_FAILURES = 3
DEFAULT_PROMISE_DAYS = 30
LANGUAGES = ("es", "en")

# ---- what the caller gives ---------------------------------------------------------


@dataclass(frozen=True)
class OpenPromise:
    amount: Decimal
    due: date


@dataclass(frozen=True)
class PlanOption:
    """One plan the campaign's rules allow (console/payment_plans.py computes them)."""

    option_id: str
    instalments: int
    amount: Decimal  # each instalment
    interval: str  # "weekly" | "biweekly" | "monthly"
    first_due: date
    needs_supervisor: bool = False  # above the automatic limit: a request, not a plan


@dataclass(frozen=True)
class AccountFacts:
    account_id: int
    debtor_name: str
    balance: Decimal
    currency: str  # ISO 4217
    locale: str  # es_MX, es_CO, es_PE...
    due_date: date | None
    open_promises: tuple[OpenPromise, ...] = ()
    open_plan: PlanOption | None = None
    plan_options: tuple[PlanOption, ...] = ()
    timezone: str = "America/Mexico_City"  # the debtor's IANA zone (times are shown in it)
    # Every zone the debtor may be in (compliance/debtor_time.py date_zones), the
    # strongest first; empty: `timezone` alone. Dates ("hoy", "el viernes") are read in
    # all of them.
    zones: tuple[str, ...] = ()
    max_promise_days: int = DEFAULT_PROMISE_DAYS  # the campaign's promise horizon
    # A payment gateway makes links (False: the creditor's instructions are the way).
    online_pay: bool = False
    payment_instructions: str = ""  # the creditor's: bank, agreement, reference


@dataclass(frozen=True)
class DialogueState:
    verified: bool = False  # the identity check passed (the caller sets it)
    misunderstood: int = 0  # unknown messages in a row
    # What the last reply asked for: "identity", "promise_date", "promise_amount",
    # "plan_choice", "callback_date", "pay_amount"; None when nothing.
    pending: str | None = None
    asked: str | None = None  # the intent waiting behind the identity check
    # The promise's amount so far; behind the identity check, a pay request's (0: ask).
    promise_amount: Decimal | None = None
    promise_due: date | None = None
    identity_failures: int = 0
    handed_over: bool = False  # a person has the conversation: the assistant is quiet
    unclear_amounts: int = 0  # answers to "how much?" with no amount to take, in a row
    unclear_days: int = 0  # answers to "which day?" with no day to take, in a row


PENDING = (
    "identity", "promise_date", "promise_amount", "plan_choice", "callback_date", "pay_amount"
)  # fmt: skip


def dump_state(state: DialogueState) -> dict[str, Any]:
    """The state as JSON values (to store with the conversation)."""
    return {
        "verified": state.verified,
        "misunderstood": state.misunderstood,
        "pending": state.pending,
        "asked": state.asked,
        "promise_amount": None if state.promise_amount is None else str(state.promise_amount),
        "promise_due": None if state.promise_due is None else state.promise_due.isoformat(),
        "identity_failures": state.identity_failures,
        "handed_over": state.handed_over,
        "unclear_amounts": state.unclear_amounts,
        "unclear_days": state.unclear_days,
    }


def load_state(data: Any) -> DialogueState:
    """dump_state's dict back; anything missing, unknown or of the wrong type is the
    default (a state that cannot be read is a new conversation, never verified)."""
    if not isinstance(data, dict):
        return DialogueState()

    def small(key: str) -> int:
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 100:
            return value
        return 0

    amount: Decimal | None = None
    due: date | None = None
    try:
        raw = data.get("promise_amount")
        amount = Decimal(raw) if isinstance(raw, str) and len(raw) <= 20 else None
        amount = amount if amount is not None and amount.is_finite() else None
        raw = data.get("promise_due")
        due = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) <= 10 else None
    except (InvalidOperation, ValueError):
        amount, due = None, None
    pending = data.get("pending")
    asked = data.get("asked")
    return DialogueState(
        verified=data.get("verified") is True,
        misunderstood=small("misunderstood"),
        pending=pending if pending in PENDING else None,
        asked=asked if asked in INTENTS else None,
        promise_amount=amount,
        promise_due=due,
        identity_failures=small("identity_failures"),
        handed_over=data.get("handed_over") is True,
        unclear_amounts=small("unclear_amounts"),
        unclear_days=small("unclear_days"),
    )


# ---- what the caller executes --------------------------------------------------------


@dataclass(frozen=True)
class HandOver:
    reason: str  # "agent_requested", "dispute", "not_understood", "plan_request", ...


@dataclass(frozen=True)
class OpenDispute:
    kind: str  # "denies" | "paid" | "proof"
    text: str  # the debtor's words, as evidence (bounded)


@dataclass(frozen=True)
class OptOut:
    channel: str | None  # "sms", "whatsapp", "email", "call"; None = every channel


@dataclass(frozen=True)
class MakePromise:
    amount: Decimal
    due: date


@dataclass(frozen=True)
class ChoosePlan:
    option_id: str


@dataclass(frozen=True)
class SendPaymentLink:
    """Make a link for `amount` and send it. The replies for each outcome are worded
    here, in the debtor's language and money, so whoever carries it out knows no words:
    `sent` goes before the link's address; `failed` when no link could be made."""

    amount: Decimal
    sent: str = field(default="", compare=False)
    failed: str = field(default="", compare=False)


@dataclass(frozen=True)
class RequestCallback:
    at: datetime | None  # the debtor's wish (their zone); None: the first legal slot
    text: str


@dataclass(frozen=True)
class VerifyIdentity:
    """Check this answer; then call identity_checked() with the result."""

    answer: str


Action = (
    HandOver | OpenDispute | OptOut | MakePromise | ChoosePlan | SendPaymentLink
    | RequestCallback | VerifyIdentity
)  # fmt: skip


@dataclass(frozen=True)
class Turn:
    replies: list[str]
    actions: list[Action]
    state: DialogueState
    intent: Intent | None = field(default=None)  # what the message was read as


# ---- the words (Spanish first; English) -----------------------------------------------

MESSAGES: dict[str, tuple[str, str]] = {
    "hello": ("Hola. Soy el asistente virtual de cobranza.",
              "Hello. I am the collections virtual assistant."),
    "hello_named": ("Hola, {name}. Soy el asistente virtual de cobranza.",
                    "Hello, {name}. I am the collections virtual assistant."),
    "menu": ("Puedo decirle su saldo y su fecha límite, {pay}, registrar una promesa de pago, "
             "mostrarle planes de cuotas o comunicarle con un asesor.",
             "I can tell you your balance and due date, {pay}, record a promise to pay, show "
             "you instalment plans or put you through to an agent."),
    "identity": ("Para hablar de su cuenta primero necesito confirmar su identidad. Escriba los "
                 "últimos 4 dígitos de su documento de identidad.",
                 "Before we talk about your account I need to confirm your identity. Type the "
                 "last 4 digits of your identity document."),
    "identity_again": ("Escriba solo los últimos 4 dígitos de su documento de identidad.",
                       "Type only the last 4 digits of your identity document."),
    "identity_wrong": ("Los dígitos no coinciden. Inténtelo de nuevo.",
                       "Those digits do not match. Please try again."),
    "identity_failed": ("No pudimos confirmar su identidad. Un asesor le atenderá.",
                        "We could not confirm your identity. An agent will help you."),
    "balance": ("Su saldo es de {amount}.", "Your balance is {amount}."),
    "promise_open": ("Tiene una promesa de pago de {amount} para el {date}.",
                     "You have a promise to pay {amount} on {date}."),
    "plan_open": ("Tiene un plan de {count} pagos de {amount}.",
                  "You have a plan of {count} payments of {amount}."),
    "offer": ("Si quiere, puedo {pay}, registrar una promesa o mostrarle planes de cuotas.",
              "If you wish, I can {pay}, record a promise or show you instalment plans."),
    "due_future": ("Su fecha límite de pago es el {date}.", "Your payment is due on {date}."),
    "due_past": ("Su pago venció el {date}. Su saldo es de {amount}.",
                 "Your payment was due on {date}. Your balance is {amount}."),
    "due_none": ("No tengo una fecha límite registrada para su cuenta. Su saldo es de {amount}.",
                 "There is no due date on your account. Your balance is {amount}."),
    "plans": ("Estas son las opciones de pago en cuotas:", "These are the instalment options:"),
    "plan_line": ("{number}) {count} pagos {interval} de {amount}, el primero el {date}",
                  "{number}) {count} {interval} payments of {amount}, the first on {date}"),
    "plan_supervisor": (" (requiere aprobación de un supervisor)",
                        " (needs a supervisor's approval)"),
    "plan_pick": ("Responda con el número de la opción que prefiera.",
                  "Reply with the number of the option you prefer."),
    "plan_chosen": ("Listo: eligió la opción {number}. Le confirmaremos el plan por este medio.",
                    "Done: you chose option {number}. We will confirm the plan here."),
    "plan_requested": ("Listo: su solicitud de la opción {number} queda pendiente de la "
                       "aprobación de un supervisor. Le avisaremos por este medio.",
                       "Done: your request for option {number} awaits a supervisor's "
                       "approval. We will let you know here."),
    "plan_none": ("Un asesor le ayudará a armar un plan de pagos.",
                  "An agent will help you set up a payment plan."),
    "pay_link": ("Pague {amount} de forma segura en este enlace:",
                 "Pay {amount} securely at this link:"),
    "pay_link_failed": ("No pude crear el enlace de pago en este momento. Inténtelo de nuevo en "
                        "unos minutos.",
                        "I could not make the payment link right now. Please try again in a "
                        "few minutes."),
    "pay_how": ("Puede pagar así: {instructions}", "You can pay this way: {instructions}"),
    "pay_ask_agent": ("Un asesor le indicará cómo pagar; escriba «asesor» si lo desea.",
                      "An agent will tell you how to pay; write \"agent\" if you wish."),
    "pay_how_much": ("¿Cuánto quiere pagar? Su saldo es de {amount}. Escriba un solo monto, "
                     "por ejemplo «2500», o «todo».",
                     "How much do you want to pay? Your balance is {amount}. Type one amount, "
                     "for example \"2500\", or \"all\"."),
    "pay_capped": ("Su saldo es de {amount}; el enlace es por ese monto.",
                   "Your balance is {amount}; the link is for that amount."),
    "promise_when": ("¿Qué día puede hacer el pago? Por ejemplo «el viernes» o «15/12».",
                     "Which day can you pay? For example \"Friday\" or \"15/12\"."),
    "promise_bad_date": ("La fecha debe estar entre hoy y el {date}. ¿Qué día puede pagar?",
                         "The date must be between today and {date}. Which day can you pay?"),
    "promise_past_date": ("El {day} ya pasó. La fecha debe estar entre hoy y el {date}. ¿Qué "
                          "día puede pagar?",
                          "{day} has passed. The date must be between today and {date}. Which "
                          "day can you pay?"),
    "promise_exact_date": ("Según dónde esté usted, hoy es el {first} o el {second}. ¿Qué fecha "
                           "exactamente? Escríbala con día y mes, por ejemplo «15/12».",
                           "Depending on where you are, today is {first} or {second}. Which "
                           "date exactly? Type the day and month, for example \"15/12\"."),
    "promise_unclear_date": ("No estoy seguro de qué fecha me dice. ¿Qué día exactamente? "
                             "Escríbalo con día y mes, por ejemplo «15/12».",
                             "I am not sure which date you mean. Which day exactly? Type the "
                             "day and month, for example \"15/12\"."),
    "promise_how_much": ("¿Cuánto pagará ese día? Su saldo es de {amount}. Escriba el monto o "
                         "«todo».",
                         "How much will you pay that day? Your balance is {amount}. Type the "
                         "amount or \"all\"."),
    "promise_bad_amount": ("El monto debe ser mayor que cero y como máximo {amount}.",
                           "The amount must be more than zero and at most {amount}."),
    "promise_done": ("Listo: registré su promesa de pagar {amount} el {date}. Gracias.",
                     "Done: I recorded your promise to pay {amount} on {date}. Thank you."),
    "stop_one": ("Listo: no volveremos a contactarle por {channel}.",
                 "Done: we will not contact you by {channel} again."),
    "stop_all": ("Listo: registramos que no desea que le contactemos. Si cambia de opinión, "
                 "escríbanos.",
                 "Done: we recorded that you do not want to be contacted. If you change your "
                 "mind, write to us."),
    "dispute_paid": ("Gracias por avisarnos. Registramos que usted indica que ya pagó; un asesor "
                     "lo revisará. Si tiene el comprobante, puede enviarlo por aquí.",
                     "Thank you for telling us. We recorded that you say you have paid; an "
                     "agent will review it. If you have the receipt, you can send it here."),
    "dispute_denies": ("Entendido. Registramos que no reconoce esta deuda; un asesor lo revisará "
                       "y pausamos la cobranza mientras tanto.",
                       "Understood. We recorded that you do not recognise this debt; an agent "
                       "will review it and collection is paused meanwhile."),
    "dispute_proof": ("Entendido. Registramos su solicitud de los documentos que soportan la "
                      "deuda; un asesor se los hará llegar.",
                      "Understood. We recorded your request for the documents behind the debt; "
                      "an agent will send them to you."),
    "party_third_party": ("Gracias por avisarnos. Registramos que este número no es de la "
                          "persona que buscamos; un asesor lo revisará y no le daremos "
                          "información de la cuenta.",
                          "Thank you for telling us. We recorded that this number does not "
                          "belong to the person we are looking for; an agent will review it "
                          "and we will not share any account information with you."),
    "party_deceased": ("Lamentamos mucho su pérdida. Registramos su aviso y pausamos la "
                       "cobranza; un asesor lo revisará y le dirá qué sigue.",
                       "We are very sorry for your loss. We recorded your message and "
                       "collection is paused; an agent will review it and tell you what "
                       "comes next."),
    "agent": ("Le comunico con un asesor; verá lo que hemos hablado.",
              "I am putting you through to an agent, who will see our conversation."),
    "callback": ("Registré su solicitud: un asesor le llamará {when}, dentro del horario "
                 "permitido.",
                 "Request recorded: an agent will call you {when}, within the permitted hours."),
    "callback_soon": ("lo antes posible", "as soon as possible"),
    "callback_unclear_date": ("No estoy seguro de qué día me dice. ¿Qué día quiere que le "
                              "llamemos? Escríbalo con día y mes, por ejemplo «15/12».",
                              "I am not sure which day you mean. Which day should we call you? "
                              "Type the day and month, for example \"15/12\"."),
    "callback_past_date": ("El {day} ya pasó. ¿Qué día quiere que le llamemos? Escríbalo con "
                           "día y mes, por ejemplo «15/12».",
                           "{day} has passed. Which day should we call you? Type the day and "
                           "month, for example \"15/12\"."),
    "callback_past_hour": ("Hoy a las {hour} ya pasó. ¿A qué hora o qué día quiere que le "
                           "llamemos? Por ejemplo «a las 5» o «mañana a las 10».",
                           "{hour} today has passed. What time or day should we call you? "
                           "For example \"a las 5\" (5 pm) or \"mañana a las 10\" (tomorrow "
                           "at 10 am)."),
    "callback_exact_date": ("Según dónde esté usted, hoy es el {first} o el {second}. ¿Qué día "
                            "exactamente quiere que le llamemos? Escríbalo con día y mes, por "
                            "ejemplo «15/12».",
                            "Depending on where you are, today is {first} or {second}. Which "
                            "day exactly should we call you? Type the day and month, for "
                            "example \"15/12\"."),
    "not_understood": ("Disculpe, no le entendí. Puede escribir, por ejemplo: «¿cuánto debo?», "
                       "«¿cuál es mi fecha límite?», «pagar en cuotas» o «hablar con un asesor».",
                       # The classifier reads Spanish: the examples it understands, explained.
                       "Sorry, I did not understand. I understand Spanish best; you can write, "
                       "for example: \"¿cuánto debo?\" (how much do I owe?), \"¿cuál es mi "
                       "fecha límite?\" (when is it due?), \"pagar en cuotas\" (pay in "
                       "instalments) or \"hablar con un asesor\" (talk to an agent)."),
    "handover_not_understood": ("Le comunico con un asesor para ayudarle mejor.",
                                "I am putting you through to an agent who can help you better."),
    "handover_date": ("No logro entender la fecha. Le comunico con un asesor para acordarla "
                      "con usted; verá lo que hemos hablado.",
                      "I still cannot tell the date. I am putting you through to an agent to "
                      "agree it with you, who will see our conversation."),
    "handover_amount": ("No logro entender el monto. Le comunico con un asesor para acordarlo "
                        "con usted; verá lo que hemos hablado.",
                        "I still cannot tell the amount. I am putting you through to an agent "
                        "to agree it with you, who will see our conversation."),
    "no_account": ("No encuentro su cuenta en este momento. Un asesor le atenderá.",
                   "I cannot find your account right now. An agent will help you."),
    "thanks": ("Con gusto. ¿Le ayudo con algo más?", "You are welcome. Anything else?"),
}  # fmt: skip

CHANNEL_NAMES = {
    "call": ("llamadas", "phone calls"),
    "sms": ("SMS", "SMS"),
    "whatsapp": ("WhatsApp", "WhatsApp"),
    "email": ("correo electrónico", "e-mail"),
}
PAY_WAYS = {
    True: ("enviarle un enlace de pago", "send you a payment link"),
    False: ("decirle cómo pagar", "tell you how to pay"),
}
INTERVAL_NAMES = {
    "weekly": ("semanales", "weekly"),
    "biweekly": ("quincenales", "fortnightly"),
    "monthly": ("mensuales", "monthly"),
}
DEBT_INTENTS = ("balance", "due_date", "installments", "pay", "promise")
# "How much?" answered with all of it, whatever the classifier makes of the word alone:
# the words the questions suggest («todo», "all") and their kin, in both languages.
ALL_OF_IT = frozenset({"todo", "total", "completo", "totalidad", "all", "everything"})


def _say(lang: str, key: str, **fill: str) -> str:
    text = MESSAGES[key][1 if lang == "en" else 0]
    return text.format(**fill) if fill else text


def _pay_way(facts: AccountFacts | None, lang: str) -> str:
    """A payment link is offered only where one can be made (a payment gateway)."""
    online = facts is not None and facts.online_pay
    return _pair(lang, PAY_WAYS[online])


def _pair(lang: str, pair: tuple[str, str]) -> str:
    return pair[1 if lang == "en" else 0]


def show_money(amount: Decimal, facts: AccountFacts) -> str:
    """ "$2,450.00 MXN": as every page shows it (cobrador/ground/money_words.py)."""
    return MoneyFormat(facts.locale, facts.currency).show(amount)


def show_date(day: date, facts: AccountFacts, lang: str) -> str:
    """ "20 de diciembre de 2026" in the account's Spanish; "December 20, 2026" in English."""
    try:
        return str(format_date(day, format="long", locale="en" if lang == "en" else facts.locale))
    except (ValueError, LookupError, UnknownLocaleError):
        return day.isoformat()


def local_days(now: datetime, facts: AccountFacts | None) -> tuple[date, ...]:
    """The debtor's date at ``now`` in each of their zones, earliest first: one date
    most of the day, two near midnight when their zones straddle it (UTC's date when
    no zone is known)."""
    zones = []
    for name in (facts.zones or (facts.timezone,)) if facts is not None else ():
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return zone_days(now, tuple(zones))


def local_today(now: datetime, facts: AccountFacts | None) -> date:
    """The earliest of the debtor's dates (local_days): a date on or after it is not
    yet past for a debtor in any of their zones."""
    return local_days(now, facts)[0]


def read_day(text: str, days: tuple[date, ...]) -> tuple[date | None, bool]:
    """The day a message names, read against each of the debtor's todays: (day, True)
    when every reading agrees, (None, False) when they differ ("hoy" at 23:30 in
    Tijuana is already tomorrow in Cancún): the date is asked for, never guessed. A day
    that reads two ways in any zone ("el otro viernes", "05/06") is (None, True) here:
    day_unclear says so."""
    readings = {parse_day(text, today, days[0]) for today in days}
    if len(readings) > 1:
        return None, False
    return readings.pop(), True


def day_unclear(text: str, days: tuple[date, ...]) -> bool:
    """The message names a day that reads two ways ("el viernes 14" when Friday is the
    11th, "el otro viernes", "05/06", "31 de febrero"): asked for, never guessed."""
    return any(day_reading(text, today, days[0]).unclear for today in days)


# ---- the dialogue --------------------------------------------------------------------------


def respond(
    state: DialogueState,
    text: str,
    facts: AccountFacts | None,
    now: datetime,
    lang: str = "es",
) -> Turn:
    """The assistant's answer to one debtor message."""
    lang = lang if lang in LANGUAGES else "es"
    text = bounded(text if isinstance(text, str) else "")
    intent = _pays_some(text, _named_promise(text, classify(text), facts, now))
    # 1. Legal duties first, whatever else the message says or the state waits for.
    duties = _duties(text, intent)
    if duties:
        return _carry_out_duties(state, text, intent, duties, lang)
    if state.handed_over:
        return Turn([], [], state, intent)
    # 2. An answer to the question the last reply asked.
    if state.pending is not None and not _asks_for_a_person(text, intent):
        turn = _answer_pending(state, text, intent, facts, now, lang)
        if turn is not None:
            return turn
        state = replace(state, pending=None, promise_amount=None, promise_due=None,
                        unclear_amounts=0, unclear_days=0)  # fmt: skip
    # 3. A new request.
    return _handle(state, text, intent, facts, now, lang)


def _named_promise(text: str, intent: Intent, facts: AccountFacts | None, now: datetime) -> Intent:
    """A message read as nothing that names an amount and a day, each one way ("mil
    quinientos el lunes", "dos mil el 10"), offers that payment: a promise (the dialogue
    still checks both and asks for what is missing or out of bounds)."""
    if intent.name != "unknown":
        return intent
    currency = facts.currency if facts is not None else ""
    day, agreed = read_day(text, local_days(now, facts))
    if day is None or not agreed or parse_amount(text, currency=currency) is None:
        return intent
    return replace(intent, name="promise", confidence=0.6)


# Some of the balance as a debtor offers it ("algo", "un poco" say too little alone:
# "quiero saber algo del pago" offers nothing).
_SOME_I_CAN = re.compile(
    r"\b(?:lo que (?:pueda|podamos|alcance|me alcance|tenga|se pueda)|una parte|un abono"
    r"|what i can|whatever i can|part of it|some of it)\b"
)
# A verb of paying, as a debtor offers it: "pago", "le abono", "te mando", "doy", "I'll pay".
_PAY_VERB = re.compile(
    r"\b(?:pag[ao]\w*|abon\w*|deposit\w*|mand[ao]\w*|envi[ao]\w*|doy|dar|damos|pay|send)\b"
)


def _pays_some(text: str, intent: Intent) -> Intent:
    """A message read as nothing that offers some of the balance with a verb of paying
    ("pago lo que pueda", "le abono una parte", "I'll pay what I can") is a pay request
    whose amount is asked (_pay_amount), never left unanswered."""
    if intent.name != "unknown":
        return intent
    plain = normalize(text)
    if not (_SOME_I_CAN.search(plain) and _PAY_VERB.search(plain)):
        return intent
    return replace(intent, name="pay", confidence=0.6)


# Words of calling or of a person: "llamenme mañana" asks for a call even when the
# assistant waits for a date; "mañana en la tarde" alone answers it.
_CALL_WORDS = re.compile(
    r"\b(?:llam|marc|marqu|habl|comunic|contact|asesor|agente|persona|call)\w*"
)


def _asks_for_a_person(text: str, intent: Intent) -> bool:
    """An `agent` reading, unless it is only a time (a callback with no word of calling):
    what the assistant waits for may be that time."""
    if intent.name != "agent":
        return False
    return intent.kind != "callback" or bool(_CALL_WORDS.search(normalize(text)))


def identity_checked(
    state: DialogueState,
    ok: bool,
    facts: AccountFacts | None,
    now: datetime,
    lang: str = "es",
) -> Turn:
    """After VerifyIdentity: answer what waited behind the check, or ask again (three
    failures: a person takes over)."""
    lang = lang if lang in LANGUAGES else "es"
    if ok:
        verified = replace(state, verified=True, pending=None, identity_failures=0,
                           misunderstood=0, asked=None)  # fmt: skip
        asked = state.asked or "greeting"
        return _handle(verified, "", Intent(asked, 1.0), facts, now, lang)
    failures = state.identity_failures + 1
    if failures >= MAX_IDENTITY_FAILURES:
        done = replace(state, identity_failures=failures, pending=None, handed_over=True)
        return Turn([_say(lang, "identity_failed")], [HandOver("identity_failed")], done)
    again = replace(state, identity_failures=failures, pending="identity")
    return Turn([_say(lang, "identity_wrong")], [], again)


def _duties(text: str, intent: Intent) -> list[Intent]:
    """The stop and dispute the message asks for (both when it asks for both), and a
    message from someone who is not the debtor (`intent.party`: carried out by
    _carry_out_duties even with no stop or dispute). A stop with news of the debtor's
    death is a dispute too: the account stops for every channel until a person looks."""
    if intent.name not in ("stop", "dispute"):
        return [intent] if intent.party is not None else []
    found = scores(text)
    duties = [intent]
    other = "dispute" if intent.name == "stop" else "stop"
    if other in found and found[other][0] >= 0.5:
        plain = normalize(text)
        if other == "stop":
            duties.append(Intent("stop", found[other][0], channel=stop_channel(plain)))
        else:
            duties.append(classify_dispute(text))
    elif other == "dispute" and intent.party == DECEASED:
        duties.append(Intent("dispute", 0.9, kind="denies"))
    return duties


def classify_dispute(text: str) -> Intent:
    """The dispute in a message that is first of all a stop ("no me llamen, ya pagué")."""
    return Intent("dispute", 0.9, kind=dispute_kind(normalize(text)))


def _carry_out_duties(
    state: DialogueState, text: str, intent: Intent, duties: list[Intent], lang: str
) -> Turn:
    replies: list[str] = []
    actions: list[Action] = []
    handed = state.handed_over
    party = intent.party  # someone who is not the debtor: a person looks, named as such
    for duty in duties:
        if duty.name == "stop":
            actions.append(OptOut(duty.channel))
            if duty.channel in CHANNEL_NAMES:
                name = _pair(lang, CHANNEL_NAMES[duty.channel])
                replies.append(_say(lang, "stop_one", channel=name))
            else:
                replies.append(_say(lang, "stop_all"))
        elif duty.name == "dispute":
            kind = duty.kind or "denies"
            actions.append(OpenDispute(kind, text))
            if party is None or kind != "denies":  # the party's words say it better
                replies.append(_say(lang, f"dispute_{kind}"))
            if not handed:
                actions.append(HandOver(party or "dispute"))
                handed = True
    if party is not None:
        replies.append(_say(lang, f"party_{party}"))
        if not handed:
            actions.append(HandOver(party))
            handed = True
    after = replace(state, pending=None, misunderstood=0, handed_over=handed,
                    promise_amount=None, promise_due=None)  # fmt: skip
    return Turn(replies, actions, after, intent)


def _answer_pending(
    state: DialogueState,
    text: str,
    intent: Intent,
    facts: AccountFacts | None,
    now: datetime,
    lang: str,
) -> Turn | None:
    """The message as the answer the state waits for; None when it is not one."""
    if state.pending == "identity":
        answer = re.sub(r"\D", "", text)[:32]
        if answer:
            return Turn([], [VerifyIdentity(answer)], state, intent)
        if intent.name in DEBT_INTENTS or intent.name == "unknown":
            return Turn([_say(lang, "identity_again")], [], state, intent)
        return None
    if state.pending == "callback_date":
        # The day of a callback the debtor's zones read differently ("mañana" at 23:30
        # in Tijuana, 02:30 in Cancún): a message naming a day or an hour answers it.
        days = local_days(now, facts)
        day, agreed = read_day(text, days)
        if facts is None or (
            day is None and agreed and parse_hour(text) is None and not day_unclear(text, days)
        ):
            return None
        return _callback(state, text, intent, facts, now, lang)
    if facts is None or not state.verified:
        return None
    if state.pending == "plan_choice":
        number = re.fullmatch(r"\D{0,20}(\d{1,2})\D{0,20}", text.strip())
        if number and 1 <= int(number.group(1)) <= len(facts.plan_options):
            return _choose_plan(state, int(number.group(1)), facts, now, lang, intent)
        return None
    if state.pending == "pay_amount":
        reading = read_amount(text, bare=True, currency=facts.currency)
        if reading.amount is None and not reading.unclear and not pays_all(text):
            return None  # no amount: a new request
        return _pay(state, text, facts, now, lang, intent, answering=True)
    if state.pending in ("promise_date", "promise_amount"):
        if intent.name not in ("unknown", "promise", "pay", "greeting", "agent") and not (
            state.pending == "promise_amount"
            and (parse_amount(text, bare=True) is not None or pays_all(text))
        ):
            return None
        return _promise(state, text, facts, now, lang, intent, answering=state.pending)
    return None


def _handle(
    state: DialogueState,
    text: str,
    intent: Intent,
    facts: AccountFacts | None,
    now: datetime,
    lang: str,
) -> Turn:
    name = intent.name
    if name == "agent":
        return _agent(state, text, intent, facts, now, lang)
    if name == "greeting":
        return _greeting(state, text, intent, facts, lang)
    if name == "unknown":
        return _not_understood(state, intent, lang)
    # Everything else is about the debt: the identity check first.
    if not state.verified:
        # The amount of a pay request waits behind the check with it (_pay); a promise's
        # day and amount too (a pay request for a later day is one: _pays_later).
        currency = facts.currency if facts else ""
        if name == "pay" and _pays_later(text, facts, now):
            name = "promise"
        said = _pay_amount(text, currency) if name == "pay" else None
        due = None
        if name == "promise":
            said = parse_amount(text, currency=currency)
            said = said if said is not None and said > 0 else None
            days = local_days(now, facts)
            day, agreed = read_day(text, days)
            due = day if agreed and not day_unclear(text, days) else None
        asking = replace(state, pending="identity", asked=name, misunderstood=0,
                         promise_amount=said, promise_due=due)  # fmt: skip
        return Turn([_say(lang, "identity")], [], asking, intent)
    if facts is None:
        done = replace(state, handed_over=True, pending=None)
        return Turn([_say(lang, "no_account")], [HandOver("no_account")], done, intent)
    state = replace(state, misunderstood=0)
    if name == "balance":
        return _balance(state, facts, lang, intent)
    if name == "due_date":
        return _due_date(state, facts, now, lang, intent)
    if name == "installments":
        return _plans(state, facts, lang, intent)
    if name == "pay":
        return _pay(state, text, facts, now, lang, intent)
    return _promise(state, text, facts, now, lang, intent, answering=None)


def _greeting(
    state: DialogueState, text: str, intent: Intent, facts: AccountFacts | None, lang: str
) -> Turn:
    state = replace(state, misunderstood=0)
    if "gracias" in normalize(text).split():
        return Turn([_say(lang, "thanks")], [], state, intent)
    if state.verified and facts is not None and facts.debtor_name:
        first = facts.debtor_name.split()[0][:40]
        menu = _say(lang, "menu", pay=_pay_way(facts, lang))
        return Turn([_say(lang, "hello_named", name=first), menu], [], state, intent)
    return Turn([_say(lang, "hello"), _say(lang, "menu", pay=_pay_way(facts, lang))], [], state,
                intent)  # fmt: skip


def _not_understood(state: DialogueState, intent: Intent, lang: str) -> Turn:
    count = state.misunderstood + 1
    if count >= MAX_MISUNDERSTOOD:
        done = replace(state, misunderstood=count, handed_over=True, pending=None)
        return Turn([_say(lang, "handover_not_understood")], [HandOver("not_understood")],
                    done, intent)  # fmt: skip
    return Turn([_say(lang, "not_understood")], [], replace(state, misunderstood=count), intent)


def _agent(
    state: DialogueState,
    text: str,
    intent: Intent,
    facts: AccountFacts | None,
    now: datetime,
    lang: str,
) -> Turn:
    if intent.kind == "callback":
        return _callback(state, text, intent, facts, now, lang)
    done = replace(state, handed_over=True, pending=None, misunderstood=0)
    return Turn([_say(lang, "agent")], [HandOver("agent_requested")], done, intent)


def _callback(
    state: DialogueState,
    text: str,
    intent: Intent,
    facts: AccountFacts | None,
    now: datetime,
    lang: str,
) -> Turn:
    """A call the debtor asks for: at the day and hour they name, read as a promise's
    date is (read_day, every zone they may be in); when their zones disagree on the
    day ("mañana" near midnight) it is asked for, never guessed."""
    tried = state.pending == "callback_date"  # an answer to "which day?" (_ask_day)
    if facts is not None and day_unclear(text, local_days(now, facts)):
        asking = replace(state, pending="callback_date", misunderstood=0)
        reply = _say(lang, "callback_unclear_date")
        return _ask_day(asking, reply, tried=tried, lang=lang, intent=intent)
    if facts is not None:
        # A day gone by, named with its year ("el 15 de enero de 2026", "15/01/26"):
        # asked again, never a call "as soon as possible" in its place.
        days = local_days(now, facts)
        day, agreed = read_day(text, days)
        if agreed and day is not None and day < days[0]:
            asking = replace(state, pending="callback_date", misunderstood=0)
            reply = _say(lang, "callback_past_date", day=show_date(day, facts, lang))
            return _ask_day(asking, reply, tried=tried, lang=lang, intent=intent)
    at, agreed = _callback_time(text, facts, now)
    hour = parse_hour(text)
    if at is None and agreed and facts is not None and hour is not None and _zone_known(facts):
        # "hoy a las 8" said at 10:00: a day and hour named and gone by. Asked, never a
        # call "as soon as possible", nor 20:00 (a bare 8 is the morning's, parse_hour).
        asking = replace(state, pending="callback_date", misunderstood=0)
        reply = _say(lang, "callback_past_hour", hour=hour.strftime("%H:%M"))
        return _ask_day(asking, reply, tried=tried, lang=lang, intent=intent)
    if not agreed and facts is not None:
        days = local_days(now, facts)
        asking = replace(state, pending="callback_date", misunderstood=0)
        reply = _say(lang, "callback_exact_date", first=show_date(days[0], facts, lang),
                     second=show_date(days[-1], facts, lang))  # fmt: skip
        return _ask_day(asking, reply, tried=tried, lang=lang, intent=intent)
    when = _say(lang, "callback_soon")
    if at is not None and facts is not None:
        # The zone as the debtor names it ("Ciudad de México"), never its IANA id.
        locale = "en" if lang == "en" else facts.locale
        shown = clock(at, ZoneInfo(facts.timezone), locale)  # the 24-hour clock, as the console's
        when = f"{show_date(at.date(), facts, lang)} {shown} ({zone_city(ZoneInfo(facts.timezone), locale)})"
    done = replace(state, pending=None, misunderstood=0, unclear_days=0)
    return Turn([_say(lang, "callback", when=when)], [RequestCallback(at, text)], done, intent)


def _zone_known(facts: AccountFacts) -> bool:
    try:
        ZoneInfo(facts.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _callback_time(
    text: str, facts: AccountFacts | None, now: datetime
) -> tuple[datetime | None, bool]:
    """The instant a callback is asked for, in the debtor's first zone (the reply names
    it), and whether their zones agree on the day the text names: a day is read against
    each of their todays (local_days), as a promise's is, not the first zone's alone
    ("mañana" at 23:30 in Tijuana is the 25th there and the 26th in Cancún, already on
    the 25th). (None, True): no day or hour named (the first legal slot)."""
    if facts is None:
        return None, True
    try:
        zone = ZoneInfo(facts.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None, True
    local = now.astimezone(zone)
    day, agreed = read_day(text, local_days(now, facts))
    if not agreed:
        return None, False
    hour = parse_hour(text)
    if day is None and hour is None:
        return None, True
    if hour is None:
        hour = time(10, 0)
    if day is None:
        # An hour alone is of the first zone's clock (the reply names its city).
        day = local.date() if hour > local.time() else local.date() + timedelta(days=1)
    at = datetime.combine(day, hour, tzinfo=zone)
    return (at if at > local else None), True


def _balance(state: DialogueState, facts: AccountFacts, lang: str, intent: Intent) -> Turn:
    replies = [_say(lang, "balance", amount=show_money(facts.balance, facts))]
    for promise in facts.open_promises[:5]:
        replies.append(_say(lang, "promise_open", amount=show_money(promise.amount, facts),
                            date=show_date(promise.due, facts, lang)))  # fmt: skip
    if facts.open_plan is not None:
        replies.append(_say(lang, "plan_open", count=str(facts.open_plan.instalments),
                            amount=show_money(facts.open_plan.amount, facts)))  # fmt: skip
    if facts.balance > 0:
        replies.append(_say(lang, "offer", pay=_pay_way(facts, lang)))
    return Turn(replies, [], replace(state, pending=None), intent)


def _due_date(
    state: DialogueState, facts: AccountFacts, now: datetime, lang: str, intent: Intent
) -> Turn:
    amount = show_money(facts.balance, facts)
    if facts.due_date is None:
        reply = _say(lang, "due_none", amount=amount)
    elif facts.due_date >= local_today(now, facts):
        reply = _say(lang, "due_future", date=show_date(facts.due_date, facts, lang))
    else:
        reply = _say(lang, "due_past", date=show_date(facts.due_date, facts, lang), amount=amount)
    return Turn([reply], [], replace(state, pending=None), intent)


def _plans(state: DialogueState, facts: AccountFacts, lang: str, intent: Intent) -> Turn:
    options = facts.plan_options[:9]
    if not options:
        done = replace(state, handed_over=True, pending=None)
        return Turn([_say(lang, "plan_none")], [HandOver("plan_request")], done, intent)
    replies = [_say(lang, "plans")]
    for number, option in enumerate(options, start=1):
        line = _say(lang, "plan_line", number=str(number), count=str(option.instalments),
                    interval=_pair(lang, INTERVAL_NAMES.get(option.interval,
                                                            (option.interval, option.interval))),
                    amount=show_money(option.amount, facts),
                    date=show_date(option.first_due, facts, lang))  # fmt: skip
        if option.needs_supervisor:
            line += _say(lang, "plan_supervisor")
        replies.append(line)
    replies.append(_say(lang, "plan_pick"))
    return Turn(replies, [], replace(state, pending="plan_choice"), intent)


def _choose_plan(
    state: DialogueState,
    number: int,
    facts: AccountFacts,
    now: datetime,
    lang: str,
    intent: Intent,
) -> Turn:
    option = facts.plan_options[number - 1]
    key = "plan_requested" if option.needs_supervisor else "plan_chosen"
    done = replace(state, pending=None, misunderstood=0)
    return Turn([_say(lang, key, number=str(number))], [ChoosePlan(option.option_id)], done, intent)


# "Lo que pueda", "una parte": some of the balance, no amount said.
_SOME_OF_IT = re.compile(
    r"\b(?:lo que (?:pueda|podamos|alcance|me alcance|tenga|se pueda)|una parte|un poco|algo"
    r"|un abono|what i can|whatever i can|part of it|some of it)\b"
)


def pays_all(text: str) -> bool:
    """The answer to "how much?" is the whole balance ("todo", "all")."""
    return bool(ALL_OF_IT & set(normalize(text).split()))


ASK = Decimal(0)  # _pay_amount: no amount to take, ask for it


def _pay_amount(text: str, currency: str, answering: bool = False) -> Decimal | None:
    """The amount a pay request names; None: the whole balance ("quiero pagar",
    "mándame el link", "todo"); ASK when it names an amount that is unclear ("500 o
    600", "unos 500", "100 dólares"), zero or negative, a number that is no clear amount
    ("quiero pagar 15") or some of the balance ("lo que pueda")."""
    reading = read_amount(text, bare=answering, currency=currency)
    if reading.amount is not None:
        return reading.amount if reading.amount > 0 else ASK
    if reading.unclear:
        return ASK
    if answering:
        return None if pays_all(text) else ASK
    named = read_amount(text, bare=True, currency=currency)
    if named.amount is not None or named.unclear or _SOME_OF_IT.search(normalize(text)):
        return ASK
    return None


def _pays_later(text: str, facts: AccountFacts | None, now: datetime) -> bool:
    """A pay request that names a day other than the debtor's today ("quiero pagar el
    15", "I want to pay on the 15th") or one that reads two ways ("el 12 o 13"): a
    promise for that day (the promise flow checks it or asks), never a link for the
    balance today. "Quiero pagar hoy" is today in every zone: a link."""
    days = local_days(now, facts)
    if day_unclear(text, days):
        return True
    return any(parse_day(text, today, days[0]) not in (None, today) for today in days)


def _pay(
    state: DialogueState,
    text: str,
    facts: AccountFacts,
    now: datetime,
    lang: str,
    intent: Intent,
    answering: bool = False,
) -> Turn:
    """A link for the amount said (_pay_amount), or the balance when none was; an
    amount that is not clear is asked for (`pending = "pay_amount"`), never a link for
    the whole balance. Above the balance the link is for the balance, and the reply
    says so. An amount read before the identity check waits in `promise_amount`. A
    request for a later day is a promise for it (_pays_later)."""
    amount = _pay_amount(text, facts.currency, answering)
    if not text and state.promise_amount is not None:
        amount = state.promise_amount  # said before the identity check
    state = replace(state, promise_amount=None)
    done = replace(state, pending=None, misunderstood=0, unclear_amounts=0)
    if facts.balance <= 0:
        return _balance(done, facts, lang, intent)
    if _pays_later(text, facts, now):
        later = replace(done, promise_due=None)
        return _promise(later, text, facts, now, lang, intent, answering=None)
    if not facts.online_pay:
        # No gateway: how to pay, never a link that cannot be made.
        return Turn([_how_to_pay(facts, lang)], [], done, intent)
    if amount is not None and amount <= 0:
        asking = replace(state, pending="pay_amount", misunderstood=0)
        reply = _say(lang, "pay_how_much", amount=show_money(facts.balance, facts))
        return _ask_amount(asking, reply, tried=answering, lang=lang, intent=intent)
    replies = []
    if amount is None:
        amount = facts.balance
    elif amount > facts.balance:
        amount = facts.balance
        replies.append(_say(lang, "pay_capped", amount=show_money(amount, facts)))
    failed = _say(lang, "pay_link_failed")
    if facts.payment_instructions.strip():
        failed += " " + _how_to_pay(facts, lang)
    link = SendPaymentLink(amount, sent=_say(lang, "pay_link", amount=show_money(amount, facts)),
                           failed=failed)  # fmt: skip
    return Turn(replies, [link], done, intent)


def _ask_amount(
    asking: DialogueState, reply: str, *, tried: bool, lang: str, intent: Intent
) -> Turn:
    """Ask the amount (again). An answer that gave none to take (`tried`) counts; the
    MAX_UNCLEAR_AMOUNTS-th in a row hands the conversation to a person, and the reply
    says so. A new question (not an answer) starts the count again."""
    count = asking.unclear_amounts + 1 if tried else 0
    if count >= MAX_UNCLEAR_AMOUNTS:
        done = replace(asking, pending=None, promise_amount=None, promise_due=None,
                       handed_over=True, unclear_amounts=count)  # fmt: skip
        return Turn([_say(lang, "handover_amount")], [HandOver("amount_unclear")], done, intent)
    return Turn([reply], [], replace(asking, unclear_amounts=count), intent)


def _ask_day(asking: DialogueState, reply: str, *, tried: bool, lang: str, intent: Intent) -> Turn:
    """Ask the day (again), a promise's or a callback's, as _ask_amount asks the amount:
    the MAX_UNCLEAR_DAYS-th answer in a row with no day to take hands over."""
    count = asking.unclear_days + 1 if tried else 0
    if count >= MAX_UNCLEAR_DAYS:
        done = replace(asking, pending=None, promise_amount=None, promise_due=None,
                       handed_over=True, unclear_days=count)  # fmt: skip
        return Turn([_say(lang, "handover_date")], [HandOver("date_unclear")], done, intent)
    return Turn([reply], [], replace(asking, unclear_days=count), intent)


def _how_to_pay(facts: AccountFacts, lang: str) -> str:
    instructions = " ".join(facts.payment_instructions.split())
    if not instructions:
        return _say(lang, "pay_ask_agent")
    return _say(lang, "pay_how", instructions=instructions)


def _promise(
    state: DialogueState,
    text: str,
    facts: AccountFacts,
    now: datetime,
    lang: str,
    intent: Intent,
    answering: str | None,
) -> Turn:
    # The debtor's zones may disagree on today's date near midnight. A date is taken
    # only when it reads the same in every zone (an explicit "15/12" does; "hoy",
    # "mañana", "el viernes" may not: then the exact date is asked for), and it may be
    # the earliest of their todays (the debtor named it; an agent's form allows the
    # same) but never before it. The horizon counts from that earliest today too, as
    # selfservice/debtor_actions.py checks it when the promise is made.
    days = local_days(now, facts)
    today = days[0]
    last = today + timedelta(days=max(0, facts.max_promise_days))
    due = state.promise_due
    amount = state.promise_amount
    day, agreed = read_day(text, days)
    unclear = day_unclear(text, days)
    if day is not None:
        due = day
    said = parse_amount(text, bare=answering == "promise_amount" and day is None and agreed
                        and not unclear, currency=facts.currency)  # fmt: skip
    if said is not None:
        amount = said
    elif answering == "promise_amount" and pays_all(text):
        amount = facts.balance
    # An answer to "which day?" that names none this turn can take counts (_ask_day).
    tried_day = answering == "promise_date"
    if unclear:  # a day that reads two ways is asked for, never guessed
        waiting = replace(state, pending="promise_date", promise_due=None, promise_amount=amount)
        reply = _say(lang, "promise_unclear_date")
        return _ask_day(waiting, reply, tried=tried_day, lang=lang, intent=intent)
    if not agreed:
        waiting = replace(state, pending="promise_date", promise_due=None, promise_amount=amount)
        reply = _say(lang, "promise_exact_date", first=show_date(days[0], facts, lang),
                     second=show_date(days[-1], facts, lang))  # fmt: skip
        return _ask_day(waiting, reply, tried=tried_day, lang=lang, intent=intent)
    if due is not None and not today <= due <= last:
        # A date gone by ("el 15 de enero de 2026", "15/01/26") or past the horizon.
        waiting = replace(state, pending="promise_date", promise_due=None, promise_amount=amount)
        reply = _say(lang, "promise_past_date" if due < today else "promise_bad_date",
                     day=show_date(due, facts, lang), date=show_date(last, facts, lang))  # fmt: skip
        return _ask_day(waiting, reply, tried=tried_day, lang=lang, intent=intent)
    if due is not None:
        state = replace(state, unclear_days=0)  # a day taken: the day's count starts again
    if due is None:
        waiting = replace(state, pending="promise_date", promise_amount=amount)
        return Turn([_say(lang, "promise_when")], [], waiting, intent)
    # An answer to "how much?" that named an amount this turn cannot take.
    tried = answering == "promise_amount" and (
        said is not None or read_amount(text, bare=True, currency=facts.currency).unclear
    )
    if amount is not None and not Decimal(0) < amount <= facts.balance:
        waiting = replace(state, pending="promise_amount", promise_due=due, promise_amount=None)
        reply = _say(lang, "promise_bad_amount", amount=show_money(facts.balance, facts))
        return _ask_amount(waiting, reply, tried=tried, lang=lang, intent=intent)
    if amount is None:
        waiting = replace(state, pending="promise_amount", promise_due=due)
        reply = _say(lang, "promise_how_much", amount=show_money(facts.balance, facts))
        return _ask_amount(waiting, reply, tried=tried, lang=lang, intent=intent)
    done = replace(state, pending=None, promise_due=None, promise_amount=None, misunderstood=0,
                   unclear_amounts=0, unclear_days=0)  # fmt: skip
    reply = _say(lang, "promise_done", amount=show_money(amount, facts),
                 date=show_date(due, facts, lang))  # fmt: skip
    return Turn([reply], [MakePromise(amount, due)], done, intent)
