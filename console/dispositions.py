"""The two-level disposition (who was reached, then what happened) and what the
dialer does next for each outcome. Pure: no I/O, the clock comes as an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from cobrador.ground import code_words
from console.debtor_locale import DebtorLocale
from console.i18n import N_
from console.money import MoneyError, MoneyFormat, money_format, parse_amount
from console.params import plausible_year
from console.payment_plans import (
    INTERVAL_LABELS,
    Plan,
    PlanError,
    PlanRules,
    PlanTerms,
    parse_percent,
    percent,
    propose,
)
from dialer.recycle import promise_hold_until


class Party(StrEnum):
    titular = "titular"
    aval = "aval"  # aval / obligado solidario
    tercero = "tercero"
    nadie = "nadie"


PARTY_LABELS = {party: code_words.PARTY_LABELS[party.value] for party in Party}


class Effect(StrEnum):
    recycle = "recycle"  # back to the pool after the campaign's recycle delay
    stop_number = "stop_number"  # never dial this number again for the account
    stop_account = "stop_account"  # no more dialing of the account
    hold_until_promise = "hold_until_promise"  # not dialed until the promise date
    callback = "callback"  # dialed again at the agreed time


# "Pagó" with no status of its own: the account rests while the payments import
# confirms it (paid: never dialed again); campaign config `paid_claim_hold_days`.
DEFAULT_PAID_CLAIM_HOLD_DAYS = 7


@dataclass(frozen=True)
class Outcome:
    code: str
    label: str
    parties: frozenset[Party]
    effect: Effect
    right_party_contact: bool  # counted for contact caps (with titular/aval)
    needs_promise: bool = False
    needs_plan: bool = False  # a settlement or instalments (console/payment_plans.py)
    needs_callback: bool = False
    account_status: str | None = None  # status the account takes at once
    # Spoken about the debt: only with the person verified on this call.
    needs_verified: bool = False
    # Channels the debtor asks to stop (compliance/opt_outs.py): the messages at the
    # number called and the account's e-mail, recorded with the disposition as evidence.
    opt_out: tuple[str, ...] = ()


_DEBTOR = frozenset({Party.titular, Party.aval})
_ANYONE = frozenset(Party)

OUTCOMES: dict[str, Outcome] = {
    o.code: o
    for o in (
        Outcome(
            "promesa_pago",
            code_words.OUTCOME_LABELS["promesa_pago"],
            _DEBTOR,
            Effect.hold_until_promise,
            True,
            needs_promise=True,
            needs_verified=True,
        ),
        Outcome(
            "convenio",
            code_words.OUTCOME_LABELS["convenio"],
            _DEBTOR,
            Effect.hold_until_promise,
            True,
            needs_plan=True,
            needs_verified=True,
        ),
        Outcome(
            "pago",
            code_words.OUTCOME_LABELS["pago"],
            _DEBTOR,
            Effect.stop_account,
            True,
            needs_verified=True,
        ),
        Outcome(
            "rehusa",
            code_words.OUTCOME_LABELS["rehusa"],
            _DEBTOR,
            Effect.recycle,
            True,
            needs_verified=True,
        ),
        Outcome(
            "disputa",
            code_words.OUTCOME_LABELS["disputa"],
            _DEBTOR,
            Effect.stop_account,
            True,
            account_status="disputed",
            needs_verified=True,
        ),
        Outcome(
            "no_contactar",
            code_words.OUTCOME_LABELS["no_contactar"],
            _DEBTOR,
            Effect.stop_account,
            True,
            account_status="cease_contact",
        ),
        Outcome(
            "no_mensajes",
            code_words.OUTCOME_LABELS["no_mensajes"],
            _DEBTOR,
            Effect.recycle,
            True,
            opt_out=("sms", "whatsapp", "email"),
        ),
        Outcome(
            "volver_llamar",
            code_words.OUTCOME_LABELS["volver_llamar"],
            _ANYONE,
            Effect.callback,
            True,
            needs_callback=True,
        ),
        Outcome(
            "recado",
            code_words.OUTCOME_LABELS["recado"],
            frozenset({Party.tercero}),
            Effect.recycle,
            False,
        ),
        Outcome(
            "numero_equivocado",
            code_words.OUTCOME_LABELS["numero_equivocado"],
            frozenset({Party.tercero, Party.nadie}),
            Effect.stop_number,
            False,
        ),
        Outcome(
            "sin_contacto",
            code_words.OUTCOME_LABELS["sin_contacto"],
            frozenset({Party.nadie}),
            Effect.recycle,
            False,
        ),
    )
}


@dataclass(frozen=True)
class DispositionInput:
    party: Party
    outcome: Outcome
    notes: str
    promise_amount: Decimal | None = None
    promise_date: date | None = None
    callback_local: datetime | None = None  # naive: the debtor's local wall time
    callback_personal: bool = True
    plan: Plan | None = None  # its first instalment's date is ``promise_date``

    @property
    def right_party_contact(self) -> bool:
        return self.outcome.right_party_contact and self.party in _DEBTOR


def dial_hold(
    data: DispositionInput,
    callback_due: datetime | None,
    now: datetime,
    paid_claim_hold_days: int = DEFAULT_PAID_CLAIM_HOLD_DAYS,
    zones: tuple[ZoneInfo, ...] = (),
) -> datetime | None:
    """Until when the account may not be dialed after this disposition (None: no hold).
    `zones`: the debtor's date zones (a promise holds until its day is over in all).

    Written as the account's `next_attempt_at` in the disposition's own transaction,
    so it holds whether or not a dial loop of the campaign is running. A status
    change (dispute, cease contact) or a stopped number needs no hold: the
    compliance engine blocks them at every check.
    """
    effect = data.outcome.effect
    if effect is Effect.hold_until_promise and data.promise_date is not None:
        return promise_hold_until(data.promise_date, zones)
    if effect is Effect.callback and callback_due is not None:
        # The callback itself brings the account back when due (refill).
        return callback_due
    if effect is Effect.stop_account and data.outcome.account_status is None:
        return now + timedelta(days=max(1, paid_claim_hold_days))
    return None


@dataclass(frozen=True)
class PromiseLimits:
    balance: Decimal
    today: date  # the debtor's local date (in the first candidate zone)
    max_days: int
    money: MoneyFormat = field(default_factory=lambda: money_format("MX", "MXN"))
    stage: str = "friendly"
    plan_rules: PlanRules = field(default_factory=PlanRules)
    # How dates are read to the debtor (agent_service: the console's language and the
    # debtor's country's Spanish).
    words: DebtorLocale = field(default_factory=lambda: DebtorLocale("es_MX"))
    # The earliest date of any candidate zone (near midnight a debtor in another of
    # them may still be on the day before `today`): a promise for their today is no
    # date in the past. None: `today`.
    earliest: date | None = None


class FormErrors(ValueError):
    """Field -> message (Spanish msgid); nothing is saved when raised.

    ``fills``: per field, the {placeholders} of its message (filled after translation;
    a fill that is itself a msgid, e.g. "mensual", is translated too).
    ``confirm``: what to read back to the debtor when that is all that is missing:
    {"field": "promise_amount", "amount", "display"} or {"field": "plan", "value",
    "approval": "yes"|""}."""

    def __init__(
        self,
        errors: dict[str, str],
        fills: dict[str, dict[str, str]] | None = None,
        confirm: dict[str, str] | None = None,
    ) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.fills = fills or {}
        self.confirm = confirm

    def rendered(self, tr: Callable[[str], str]) -> dict[str, str]:
        out = {}
        for key, msgid in self.errors.items():
            text = tr(msgid)
            for name, value in self.fills.get(key, {}).items():
                text = text.replace("{" + name + "}", tr(value))
            out[key] = text
        return out


MAX_NOTES = 4000


# A result that speaks about the debt, or a call with no verified account at all.
NOT_VERIFIED = N_("Verifique la identidad de esa persona antes de registrar este resultado.")


def parse_disposition(
    form: dict[str, str], limits: PromiseLimits, verified_party: str | None = None
) -> DispositionInput:
    """Check every field; raise FormErrors listing every problem at once.

    ``verified_party``: who passed the identity questions on this call (None: nobody)."""
    errors: dict[str, str] = {}
    fills: dict[str, dict[str, str]] = {}
    confirm: dict[str, str] | None = None
    party: Party | None = None
    outcome: Outcome | None = None
    try:
        party = Party(form.get("party", ""))
    except ValueError:
        errors["party"] = N_("Indique con quién se habló.")
    outcome = OUTCOMES.get(form.get("outcome", ""))
    if outcome is None:
        errors["outcome"] = N_("Indique el resultado de la llamada.")
    elif party is not None and party not in outcome.parties:
        errors["outcome"] = N_("Ese resultado no corresponde a la persona contactada.")
    elif party is not None and outcome.needs_verified and verified_party != party.value:
        errors["party"] = NOT_VERIFIED
    notes = form.get("notes", "").strip()
    if len(notes) > MAX_NOTES:
        errors["notes"] = N_("La nota es demasiado larga (máximo 4000 caracteres).")
    amount: Decimal | None = None
    promise_date: date | None = None
    callback_at: datetime | None = None
    if outcome is not None and outcome.needs_promise:
        amount, promise_date = _promise(form, limits, errors, fills)
        if amount is not None and form.get("promise_confirm", "").strip() != str(amount):
            # Read back before saving: the agent says "$2,450.00 MXN" and the
            # debtor agrees; the confirmation must name this very amount.
            confirm = {"field": "promise_amount", "amount": str(amount),
                       "display": limits.money.show(amount)}  # fmt: skip
            errors["promise_amount"] = N_("Lea el monto al deudor y confírmelo: {monto}.")
            fills["promise_amount"] = {"monto": confirm["display"]}
    plan: Plan | None = None
    if outcome is not None and outcome.needs_plan:
        plan = plan_from_form(form, limits, errors, fills)
        if plan is not None and form.get("plan_confirm", "").strip() != plan.fingerprint:
            # The whole schedule is read back and agreed before anything is saved.
            confirm = {"field": "plan", "value": plan.fingerprint,
                       "approval": "yes" if plan.needs_approval else ""}  # fmt: skip
            errors["plan"], fills["plan"] = plan_readback(plan, limits.money, limits.words)
        if plan is not None:
            promise_date = plan.instalments[0].due_date
    if outcome is not None and outcome.needs_callback:
        callback_at = _callback_time(form, errors)
    if errors or party is None or outcome is None:
        raise FormErrors(errors, fills, confirm)
    return DispositionInput(
        party=party,
        outcome=outcome,
        notes=notes,
        promise_amount=amount,
        promise_date=promise_date,
        callback_local=callback_at,
        callback_personal=form.get("callback_scope", "personal") != "campaign",
        plan=plan,
    )


def plan_from_form(
    form: dict[str, str],
    limits: PromiseLimits,
    errors: dict[str, str],
    fills: dict[str, dict[str, str]],
) -> Plan | None:
    """The agreed terms through the campaign's plan rules (console/payment_plans.py)."""
    count = discount = first = None
    try:
        count = int(form.get("plan_instalments", "").strip())
    except ValueError:
        errors["plan_instalments"] = N_("Indique el número de pagos.")
    try:
        discount = parse_percent(form.get("plan_discount", ""))
    except ValueError:
        errors["plan_discount"] = N_("El descuento es un porcentaje de 0 a 99.99, por ejemplo 10.")
    try:
        first = date.fromisoformat(form.get("plan_first_date", "").strip())
    except ValueError:
        errors["plan_first_date"] = N_("Indique la fecha del primer pago.")
    interval = form.get("plan_interval", "").strip() or "monthly"
    if count is None or discount is None or first is None:
        return None
    terms = PlanTerms(limits.balance, limits.stage, limits.today, count, discount, first, interval)
    try:
        return propose(limits.plan_rules, terms, limits.money.show)
    except PlanError as exc:
        errors.update(exc.errors)
        fills.update(exc.fills)
        return None


def plan_readback(
    plan: Plan, money: MoneyFormat, words: DebtorLocale
) -> tuple[str, dict[str, str]]:
    """What the agent reads to the debtor before saving: a msgid and its fills (the
    dates as they are said: "6 de diciembre de 2026")."""
    first, last = plan.instalments[0], plan.instalments[-1]
    fill = {"total": money.show(plan.total), "descuento": percent(plan.discount),
            "primera": words.day(first.due_date), "ultima": words.day(last.due_date),
            "pagos": str(len(plan.instalments)), "monto": money.show(first.amount),
            "ultimo": money.show(last.amount), "periodo": INTERVAL_LABELS[plan.interval]}  # fmt: skip
    if len(plan.instalments) == 1:
        return N_("Lea el plan al deudor y confírmelo: un pago de {total} el {primera} "
                  "(descuento {descuento})."), fill  # fmt: skip
    return N_("Lea el plan al deudor y confírmelo: {pagos} pagos ({periodo}) de {monto}, el "
              "último de {ultimo}, del {primera} al {ultima}; total {total} (descuento "
              "{descuento})."), fill  # fmt: skip


def _promise(
    form: dict[str, str],
    limits: PromiseLimits,
    errors: dict[str, str],
    fills: dict[str, dict[str, str]],
) -> tuple[Decimal | None, date | None]:
    amount: Decimal | None = None
    try:
        amount = parse_amount(form.get("promise_amount", ""), limits.money)
    except MoneyError as exc:
        errors["promise_amount"] = exc.msgid
        fills["promise_amount"] = exc.fill
    if amount is not None and amount <= 0:
        errors["promise_amount"] = N_("El monto debe ser mayor que cero.")
        amount = None
    elif amount is not None and amount > limits.balance:
        errors["promise_amount"] = N_("El monto no puede ser mayor que el saldo ({saldo}).")
        fills["promise_amount"] = {"saldo": limits.money.show(limits.balance)}
        amount = None
    promise_date: date | None = None
    try:
        promise_date = date.fromisoformat(form.get("promise_date", "").strip())
    except ValueError:
        errors["promise_date"] = N_("Indique la fecha de pago.")
        return amount, None
    if promise_date < (limits.earliest or limits.today):
        errors["promise_date"] = N_("La fecha de pago no puede estar en el pasado.")
        promise_date = None
    elif promise_date > limits.today + timedelta(days=limits.max_days):
        errors["promise_date"] = N_("La fecha de pago pasa del máximo que permite la campaña.")
        promise_date = None
    return amount, promise_date


def _callback_time(form: dict[str, str], errors: dict[str, str]) -> datetime | None:
    raw = form.get("callback_at", "").strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or not plausible_year(value):  # 9999-12-31T23:59 in a zone: no datetime
        errors["callback_at"] = N_("Indique la fecha y hora de la nueva llamada.")
        return None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value
