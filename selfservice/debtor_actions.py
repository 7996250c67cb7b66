"""What a debtor does by themself, from the portal or through the assistant (chat,
WhatsApp, SMS): promise a payment, choose a plan within the campaign's rules (above
the automatic limit: a request for a supervisor), ask for a callback inside the
legal window, dispute the debt or ask for its documents, stop a channel (and, in the
portal, authorise again one they stopped there).

Each action is one SQL transaction that also writes a debtor-initiated entry of the
contact ledger (a `call_attempts` row, direction ``inbound``: never an attempt for the
caps, not a right-party contact either) and an audit entry, so the agent's timeline
shows it. Errors the debtor can cause are `ActionError` (a form field and a Spanish
msgid, translated where shown); nothing is written then. After a commit the caller
hands the result to `notify_dialer` (the account leaves the hopper, a ringing call of
a disputed account is hung up): what may be dialed is already in SQL by then.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from compliance import campaign_limits
from compliance.callback_window import CallbackChecker, CallbackTarget
from compliance.debtor_time import date_zones, debtor_zones, local_days
from compliance.opt_outs import CHANNELS as OPT_OUT_CHANNELS
from compliance.opt_outs import OptOutError, lift_opt_out, opt_outs_in_force, record_opt_out
from compliance.plan_calculator import N_, PlanError, PlanTerms, limits, propose
from compliance.plan_records import audit_payload, save_plan
from compliance.plan_rules import CENT, PlanRules, PlanRulesError, plan_rules_for
from compliance.standing import StandingBlock
from dialer.hopper import Hopper
from dialer.messages import Notifier, StopAccount
from dialer.recycle import promise_hold_until
from dialer.refill_wake import wake_after_lifted_stop
from store.audit import append as audit_append
from store.db import transaction
from store.models import (
    PHONE_CHANNELS,
    Account,
    AccountDocument,
    AccountStatus,
    CallAttempt,
    Callback,
    Campaign,
    Dispute,
    DisputeStatus,
    PaymentPlan,
    Phone,
    PhoneStatus,
    Promise,
    SupervisorTask,
)

# The channels a debtor acts through: each is the channel of the ledger entry.
VIA = ("portal", "chat", "whatsapp", "sms", "email")
DISPUTE_KINDS = ("denies", "paid", "proof")  # denies the debt, says it is paid, asks for proof
MAX_TEXT = 2000  # characters of a dispute's or a request's text
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain")
MAX_CALLBACK_DAYS = 14  # a callback further ahead is refused
CALLBACK_LEAD = timedelta(minutes=15)  # the earliest a callback may be
OPTION_FIRST_DAYS = 7  # the offered plans' first payment: a week away (or sooner by the rules)
OPTION_COUNTS = (2, 3, 6, 12, 24)  # a short list a phone shows whole
DEFAULT_PROMISE_MAX_DAYS = 30
LEDGER_RESULT = "self_service"
LEDGER_SOURCE = "selfservice"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ActionError(ValueError):
    """What the debtor must change (a Spanish msgid for `field`, with {placeholders}
    in `fills`); nothing was written."""

    def __init__(self, field: str, message: str, fills: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.fills = dict(fills or {})


@dataclass(frozen=True)
class Debtor:
    """Who acts and how: the account the identity check (or a verified conversation)
    opened, the channel it came on, and what identifies the session as evidence."""

    account_id: int
    via: str = "portal"
    address: str | None = None  # the number or e-mail written from (sms, whatsapp: required)
    session: str = ""  # an opaque id of the portal session or the conversation
    client: str = ""  # the client's address (portal), evidence only

    @property
    def actor(self) -> str:
        return f"debtor:{self.via}"


@dataclass(frozen=True)
class ActionResult:
    action: str  # promise | plan | callback | dispute | opt_out | opt_in | contact
    account_id: int
    campaign: str  # "" when the account has none
    ledger_id: int  # the debtor-initiated contact row
    ids: tuple[int, ...] = ()  # the promises, the plan, the callback, the dispute, the opt-outs
    status: str = ""  # a plan's: active | pending (waits for a supervisor)
    stop_dialing: bool = False  # the account may no longer be dialed (dispute, call opt-out)
    hold_until: datetime | None = None  # not dialed before (promise, plan, callback)


async def notify_dialer(redis: Any, result: ActionResult) -> None:
    """After the commit: a held or stopped account leaves its campaign's hopper, and a
    stopped one's ringing call is hung up (dialer command). SQL already says it; this
    only makes the live state follow at once."""
    if not result.campaign or not (result.stop_dialing or result.hold_until):
        return
    await Hopper(redis, result.campaign).remove(result.account_id)
    if result.stop_dialing:
        await Notifier(redis).send(StopAccount(result.account_id, result.action, result.campaign))


# ---- what the debtor sees and may choose ------------------------------------------


@dataclass(frozen=True)
class PlanOption:
    id: str  # "<interval>-<count>", what choose_plan_option takes
    instalments: int
    interval: str
    first_date: date
    amount: Decimal  # each instalment (the last carries the cents left)
    total: Decimal
    needs_supervisor: bool


@dataclass(frozen=True)
class Summary:
    """The account as the debtor may see it after the identity check."""

    account_id: int
    external_ref: str
    debtor_name: str
    status: str
    stage: str
    balance: Decimal
    currency: str
    country: str
    due_date: date | None
    timezone: str | None  # the first of the debtor's zones (None: unknown)
    today: date  # the debtor's local date (the earliest of their zones', see _today)
    promise_max_days: int
    open_promises: tuple[tuple[int, Decimal, date], ...]  # id, amount, due date
    plans: tuple[tuple[int, str, Decimal, int], ...]  # id, status, total, instalments
    plan_options: tuple[PlanOption, ...]
    plan_limits: Mapping[str, Any] = field(default_factory=dict)
    opted_out: frozenset[str] = frozenset()  # channels stopped for the whole account
    reopenable: frozenset[str] = frozenset()  # of those, the ones only the portal stopped
    disputed: bool = False
    payment_instructions: str = ""  # the campaign's (its [portal] table's first)
    breakdown: tuple[tuple[str, str], ...] = ()  # the creditor's own fields, as given
    plan_first_due: Mapping[int, date] = field(default_factory=dict)  # plan id: 1st instalment
    callbacks: tuple[datetime, ...] = ()  # calls back still to come (any agent's or the debtor's)
    # Channels closed whatever the hour, and why (compliance/standing.py): the caller
    # evaluates them (registries live in Redis) and hands them in.
    blocked: Mapping[str, StandingBlock] = field(default_factory=dict)
    # The zones the debtor's dates are read in (date_zones: their candidates, else
    # their country's), the strongest first.
    zones: tuple[str, ...] = ()


def summary(
    engine: Engine, account_id: int, now: datetime,
    blocked: Mapping[str, StandingBlock] | None = None,
) -> Summary:  # fmt: skip
    """LookupError when the account does not exist. `blocked`: the account's standing
    blocks by channel (compliance.standing.standing_blocks), shown as given."""
    with transaction(engine) as session:
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(account_id)
        campaign, config = _campaign(session, account)
        today = _today(account, now)
        rules = _rules(config)
        promises = session.execute(
            select(Promise.id, Promise.amount, Promise.due_date)
            .where(Promise.account_id == account.id, Promise.status == "open")
            .order_by(Promise.due_date, Promise.id)
            .limit(50)
        ).all()
        plans = session.scalars(
            select(PaymentPlan)
            .where(PaymentPlan.account_id == account.id)
            .order_by(PaymentPlan.created_at.desc(), PaymentPlan.id.desc())
            .limit(5)
        ).all()
        zones = debtor_zones(account.timezone, account.country, account.region, None)
        raw_portal = config.get("portal")
        portal: Mapping[str, Any] = raw_portal if isinstance(raw_portal, Mapping) else {}
        custom = account.custom_fields or {}
        breakdown = tuple(
            (str(k)[:60], str(v)[:200]) for k, v in list(custom.items())[:20]
            if str(k).startswith("desglose_")
        )  # fmt: skip
        return Summary(
            account_id=account.id,
            external_ref=account.external_ref,
            debtor_name=account.debtor_name,
            status=account.status,
            stage=account.stage,
            balance=account.balance,
            currency=account.currency,
            country=account.country,
            due_date=account.due_date,
            timezone=zones[0].key if zones else None,
            today=today,
            promise_max_days=_promise_days(config),
            open_promises=tuple((p.id, p.amount, p.due_date) for p in promises),
            plans=tuple((p.id, p.status, p.total, len(p.schedule)) for p in plans),
            plan_options=tuple(plan_offer(rules, account.stage, account.balance, today)),
            plan_limits=limits(rules, account.stage, account.balance, today)
            if account.balance > 0
            else {},  # fmt: skip
            opted_out=frozenset(c for c in (account.opted_out or "").split(",") if c),
            reopenable=_reopenable(session, account.id),
            disputed=account.status == AccountStatus.disputed.value,
            payment_instructions=str(
                portal.get("payment_instructions") or config.get("payment_instructions") or ""
            )[:2000],
            breakdown=breakdown,
            plan_first_due={p.id: _first_due(p) for p in plans if p.schedule},
            callbacks=tuple(session.scalars(
                select(Callback.due_at)
                .where(Callback.account_id == account.id,
                       Callback.status.in_(("pending", "queued")), Callback.due_at > now)
                .order_by(Callback.due_at).limit(5)
            )),
            blocked=dict(blocked or {}),
            zones=tuple(z.key for z in date_zones(account.timezone, account.country,
                                                  account.region, None)),
        )  # fmt: skip


def _first_due(plan: PaymentPlan) -> date:
    return min(date.fromisoformat(str(item["due_date"])) for item in plan.schedule)


def plan_offer(rules: PlanRules, stage: str, balance: Decimal, today: date) -> list[PlanOption]:
    """The plans offered ready-made: each interval the campaign allows, a few counts
    within its maximum, the first payment a week away; pure."""
    if balance <= 0:
        return []
    first = today + timedelta(days=min(OPTION_FIRST_DAYS, rules.max_first_days))
    out = []
    for interval in rules.intervals:
        for count in OPTION_COUNTS:
            if count > rules.max_instalments:
                break
            try:
                plan = propose(rules, PlanTerms(balance, stage, today, count, Decimal(0),
                                                first, interval))  # fmt: skip
            except PlanError:
                continue
            out.append(PlanOption(f"{interval}-{count}", count, interval, first,
                                  plan.instalments[0].amount, plan.total,
                                  plan.needs_approval))  # fmt: skip
    return out


# ---- the actions -----------------------------------------------------------------


def make_promise(
    engine: Engine, debtor: Debtor, amount: Decimal | str, due: date, now: datetime
) -> ActionResult:
    """A promise to pay `amount` by `due` (the debtor's date): more than 0, at most
    the balance, from today to the campaign's promise horizon."""
    value = _amount(amount, "promise_amount")
    with transaction(engine) as session:
        account, campaign, config = _open_account(session, debtor)
        today = _today(account, now)
        if value > account.balance:
            raise ActionError("promise_amount", N_("El monto pasa del saldo de la cuenta."))
        horizon = _promise_days(config)
        if due < today:
            raise ActionError("promise_date", N_("La fecha no puede estar en el pasado."))
        if due > today + timedelta(days=horizon):
            raise ActionError("promise_date", N_("La fecha pasa del máximo de {dias} días."),
                              {"dias": str(horizon)})  # fmt: skip
        promise = Promise(account_id=account.id, amount=value, currency=account.currency,
                          due_date=due, created_at=now)  # fmt: skip
        session.add(promise)
        session.flush()
        hold = _hold(account, promise_hold_until(due, _date_zones(account)))
        ledger = record_contact_in(session, debtor, account, "promise", now,
                                   {"promise_id": promise.id, "amount": str(value),
                                    "due_date": due.isoformat()})  # fmt: skip
        return ActionResult("promise", account.id, _name(campaign), ledger, (promise.id,),
                            hold_until=hold)  # fmt: skip


def choose_plan(
    engine: Engine,
    debtor: Debtor,
    *,
    instalments: int,
    interval: str,
    first_date: date,
    now: datetime,
    discount: Decimal = Decimal(0),
) -> ActionResult:
    """A plan on the campaign's rules (the agent's calculator's): within the automatic
    limits it is active with its promises at once; above them it waits for a
    supervisor (status ``pending``, the supervisors' plan queue). ActionError names
    the first rule it breaks."""
    if isinstance(instalments, bool) or not isinstance(instalments, int):
        raise ActionError("plan_instalments", N_("El número de pagos no es válido."))
    if not isinstance(discount, Decimal) or not discount.is_finite() or discount < 0:
        raise ActionError("plan_discount", N_("El descuento no es válido."))
    with transaction(engine) as session:
        account, campaign, config = _open_account(session, debtor)
        rules = _rules(config)
        terms = PlanTerms(account.balance, account.stage, _today(account, now), instalments,
                          discount, first_date, str(interval)[:20])  # fmt: skip
        try:
            plan = propose(rules, terms)
        except PlanError as exc:
            key = sorted(exc.errors)[0]
            raise ActionError(key, exc.errors[key], exc.fills.get(key)) from None
        row = save_plan(session, plan, account, None, None, now)
        hold = _hold(
            account, promise_hold_until(plan.instalments[0].due_date, _date_zones(account))
        )
        audit_append(session, "payment_plan", {**audit_payload(row, "requested"), "by": "debtor"},
                     actor=debtor.actor, subject=f"account:{account.id}", now=now)  # fmt: skip
        ledger = record_contact_in(session, debtor, account, "plan", now,
                                   {"plan_id": row.id, "status": row.status,
                                    "instalments": len(row.schedule)})  # fmt: skip
        return ActionResult("plan", account.id, _name(campaign), ledger, (row.id,),
                            status=row.status, hold_until=hold)  # fmt: skip


def choose_plan_option(
    engine: Engine, debtor: Debtor, option_id: str, now: datetime
) -> ActionResult:
    """One of `summary().plan_options` by its id (the assistant's ChoosePlan)."""
    interval, _, count = str(option_id)[:30].partition("-")
    if not count.isascii() or not count.isdigit() or not 1 <= int(count) <= 120:
        raise ActionError("plan", N_("Ese plan no existe."))
    with transaction(engine) as session:
        account, _campaign, config = _open_account(session, debtor)
        rules, today = _rules(config), _today(account, now)
    first = today + timedelta(days=min(OPTION_FIRST_DAYS, rules.max_first_days))
    return choose_plan(engine, debtor, instalments=int(count), interval=interval,
                       first_date=first, now=now)  # fmt: skip


def request_callback(
    engine: Engine,
    debtor: Debtor,
    when: datetime,
    now: datetime,
    checker: CallbackChecker,
    phone_e164: str | None = None,
) -> ActionResult:
    """A call back at `when` (an aware instant) to `phone_e164` (one of the account's
    numbers; None: the first one that may be called): inside the debtor's legal window
    (the compliance check agents' callbacks pass), at most MAX_CALLBACK_DAYS ahead.
    It enters the hopper like an agent's callback (`callbacks` row, for any agent).
    The debtor's latest request is the one kept: an earlier one of theirs still
    pending (no agent made it) is marked ``replaced``, so a changed time is one call,
    not two; an agent's callbacks are left alone."""
    if when.tzinfo is None:
        raise ActionError("callback_at", N_("Falta la zona horaria de la hora pedida."))
    if when < now + CALLBACK_LEAD:
        raise ActionError("callback_at", N_("Elija una hora al menos 15 minutos después de ahora."))
    if when > now + timedelta(days=MAX_CALLBACK_DAYS):
        raise ActionError("callback_at", N_("Elija una hora dentro de los próximos {dias} días."),
                          {"dias": str(MAX_CALLBACK_DAYS)})  # fmt: skip
    with transaction(engine) as session:
        account, campaign, config = _open_account(session, debtor)
        if "call" in (account.opted_out or "").split(","):
            raise ActionError("callback_at", N_("Usted pidió no recibir llamadas."))
        phone = _callback_phone(session, account, phone_e164)
        target = CallbackTarget(
            country=account.country,
            account_timezone=account.timezone,
            phone_e164=phone.number_e164,
            region=account.region,
            profile=campaign.profile if campaign else None,
            campaign=campaign.name if campaign else None,
            compliance_overrides=config.get("compliance"),
        )
        if checker(target, when):
            raise ActionError(
                "callback_at", N_("Esa hora está fuera del horario permitido para llamarle.")
            )
        replaced = session.scalars(
            select(Callback).where(Callback.account_id == account.id, Callback.status == "pending",
                                   Callback.created_by.is_(None), Callback.agent_id.is_(None))
        ).all()  # fmt: skip
        row = Callback(account_id=account.id, phone_id=phone.id, campaign_id=account.campaign_id,
                       agent_id=None, created_by=None, due_at=when, created_at=now)  # fmt: skip
        session.add(row)
        session.flush()
        for old in replaced:
            old.status = "replaced"
            audit_append(session, "callback", {"callback_id": old.id, "account_id": account.id,
                                               "action": "replaced", "by": row.id},
                         actor=debtor.actor, subject=f"account:{account.id}", now=now)  # fmt: skip
        # The callback itself brings the account back when due (refill), as an agent's.
        hold = _hold(account, when)
        audit_append(session, "callback", {"callback_id": row.id, "account_id": account.id,
                                           "due_at": when, "by": "debtor", "via": debtor.via},
                     actor=debtor.actor, subject=f"account:{account.id}", now=now)  # fmt: skip
        ledger = record_contact_in(session, debtor, account, "callback", now,
                                   {"callback_id": row.id, "due_at": when.isoformat()})  # fmt: skip
        return ActionResult("callback", account.id, _name(campaign), ledger, (row.id,),
                            hold_until=hold)  # fmt: skip


def callback_slots(
    engine: Engine, account_id: int, now: datetime, checker: CallbackChecker,
    days: int = 3, step: timedelta = timedelta(hours=1),
) -> list[datetime]:  # fmt: skip
    """Whole-hour instants of the next `days` days inside the debtor's window (what
    the portal offers; request_callback checks any time again)."""
    with transaction(engine) as session:
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(account_id)
        campaign, config = _campaign(session, account)
        phone = _first_phone(session, account)
        target = CallbackTarget(account.country, account.timezone,
                                phone.number_e164 if phone else None, account.region,
                                campaign.profile if campaign else None,
                                campaign.name if campaign else None,
                                config.get("compliance"))  # fmt: skip
    start = (now + CALLBACK_LEAD).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    out: list[datetime] = []
    at = start
    while at < now + timedelta(days=min(days, MAX_CALLBACK_DAYS)) and len(out) < 60:
        if not checker(target, at):
            out.append(at)
        at += step
    return out


def open_dispute(
    engine: Engine, debtor: Debtor, kind: str, text: str, now: datetime
) -> ActionResult:
    """The debtor denies the debt, says it is paid or asks for its proof: the account
    becomes ``disputed`` (no channel contacts it: the final check's `disputed`), a
    supervisor task opens (one per account while open) and the documents the operator
    attached become downloadable."""
    if kind not in DISPUTE_KINDS:
        raise ActionError("dispute_kind", N_("Elija el motivo de la disputa."))
    body = _text(text, "dispute_text")
    with transaction(engine) as session:
        account = _account(session, debtor)
        campaign, _config = _campaign(session, account)
        dispute = Dispute(account_id=account.id, kind=kind, text=body, source=debtor.via,
                          status=DisputeStatus.open.value, created_at=now)  # fmt: skip
        session.add(dispute)
        session.flush()
        task = session.scalar(
            select(SupervisorTask.id).where(SupervisorTask.account_id == account.id,
                                            SupervisorTask.kind == "dispute",
                                            SupervisorTask.status == "open")
        )  # fmt: skip
        if task is None:
            session.add(SupervisorTask(account_id=account.id, campaign_id=account.campaign_id,
                                       kind="dispute", ref_id=dispute.id, status="open",
                                       created_at=now))  # fmt: skip
        before = account.status
        if before in (AccountStatus.active.value, AccountStatus.disputed.value):
            account.status = AccountStatus.disputed.value
        if before != account.status:
            audit_append(session, "account_change",
                         {"account_id": account.id, "status": account.status,
                          "before": before, "by": "debtor", "dispute_id": dispute.id},
                         actor=debtor.actor, subject=f"account:{account.id}", now=now)  # fmt: skip
        ledger = record_contact_in(session, debtor, account, "dispute", now,
                                   {"dispute_id": dispute.id, "kind": kind})  # fmt: skip
        return ActionResult("dispute", account.id, _name(campaign), ledger, (dispute.id,),
                            stop_dialing=True)  # fmt: skip


def opt_out(
    engine: Engine, debtor: Debtor, channel: str | None, now: datetime, text: str = ""
) -> ActionResult:
    """Stop one channel (call, sms, whatsapp, email, visit) or, with None, every one,
    for the whole account, with the request as evidence (compliance/opt_outs.py; the
    final check of every channel reads it at once). Colombia's authorised channels:
    what is not stopped stays authorised."""
    channels = OPT_OUT_CHANNELS if channel is None else (str(channel).strip().lower()[:12],)
    if any(c not in OPT_OUT_CHANNELS for c in channels):
        raise ActionError("channel", N_("Ese canal no existe."))
    note = _text(text, "text")[:500]
    with transaction(engine) as session:
        account = _account(session, debtor)
        campaign, _config = _campaign(session, account)
        ledger = record_contact_in(session, debtor, account, "opt_out", now,
                                   {"channels": list(channels)})  # fmt: skip
        evidence = {"via": debtor.via, "ledger_id": ledger, "session": debtor.session[:64],
                    "client": debtor.client[:64], "text": note, "at": now.isoformat()}  # fmt: skip
        ids: list[int] = []
        try:
            for each in channels:
                result = record_opt_out(session, channel=each,
                                        source="portal" if debtor.via == "portal" else "reply",
                                        evidence=evidence, actor=debtor.actor,
                                        account_id=account.id, at=now)  # fmt: skip
                ids += result.ids
        except OptOutError as exc:  # only a programming error can get here
            raise ActionError("channel", N_("No se pudo registrar la baja.")) from exc
        return ActionResult("opt_out", account.id, _name(campaign), ledger, tuple(ids),
                            stop_dialing="call" in channels)  # fmt: skip


def opt_in(
    engine: Engine, debtor: Debtor, channel: str, now: datetime, text: str = ""
) -> ActionResult:
    """The debtor, identified in the portal, authorises again a channel they stopped
    there (Colombia's authorised channels: the debtor chooses them): their own portal
    opt-out is lifted with this request as evidence (compliance/opt_outs.py), so the
    next final check of the channel passes it again. Only the debtor's own, behind the
    identity check (the portal's page or its chat box): a stop asked on a call, by a
    reply from a number, over WhatsApp or SMS, or recorded by the operator stays
    (ActionError: the debtor is told to call), as do what is no opt-out at all: a
    registry (REUS), a dispute, a cease-contact or legal status, a number's consent."""
    wanted = str(channel).strip().lower()[:12]
    if wanted not in OPT_OUT_CHANNELS:
        raise ActionError("channel", N_("Ese canal no existe."))
    if debtor.via != "portal":
        raise ActionError("channel", N_("Los canales se autorizan desde el portal."))
    note = _text(text, "text")[:500]
    with transaction(engine) as session:
        account = _account(session, debtor)
        campaign, _config = _campaign(session, account)
        in_force = _account_wide_stops(session, account.id, wanted)
        if not in_force:
            raise ActionError("channel", N_("Ese canal ya está autorizado."))
        if not all(_debtors_own(r) for r in in_force):
            raise ActionError("channel", N_("Esa baja no se pidió en este portal: para autorizar "
                                            "el canal de nuevo, llámenos."))  # fmt: skip
        ledger = record_contact_in(session, debtor, account, "opt_in", now,
                                   {"channels": [wanted]})  # fmt: skip
        evidence = {"via": debtor.via, "ledger_id": ledger, "session": debtor.session[:64],
                    "client": debtor.client[:64], "text": note, "at": now.isoformat()}  # fmt: skip
        try:
            lift_opt_out(session, account_id=account.id, channel=wanted, evidence=evidence,
                         actor=debtor.actor, at=now, source="portal",
                         only_ids=[r.id for r in in_force])  # fmt: skip
        except OptOutError as exc:  # only a programming error can get here
            raise ActionError("channel", N_("No se pudo registrar la autorización.")) from exc
        if wanted == "call":
            # The refill that found calls stopped put the account to sleep for a day:
            # due again now, so calls come back at its next pass (nothing else wakes).
            wake_after_lifted_stop(session, account, "opted_out", now)
        return ActionResult("opt_in", account.id, _name(campaign), ledger,
                            tuple(r.id for r in in_force))  # fmt: skip


def _account_wide_stops(session: Session, account_id: int, channel: str | None = None) -> list[Any]:
    """The opt-outs in force that stop a channel for the whole account (an e-mail's
    is the account's: it has one), not those of one number."""
    return [r for r in opt_outs_in_force(session, account_id)
            if (channel is None or r.channel == channel)
            and (r.address is None or r.channel == "email")]  # fmt: skip


def _debtors_own(row: Any) -> bool:
    """A stop the debtor asked for behind the portal's identity check: on its page, or
    in its chat box (via ``chat``); not one asked by whoever holds a number."""
    via = row.evidence.get("via") if isinstance(row.evidence, dict) else None
    return bool(row.source == "portal" or (row.source == "reply" and via == "chat"))


def _reopenable(session: Session, account_id: int) -> frozenset[str]:
    by_channel: dict[str, bool] = {}
    for row in _account_wide_stops(session, account_id):
        by_channel[row.channel] = by_channel.get(row.channel, True) and _debtors_own(row)
    return frozenset(c for c, own in by_channel.items() if own)


def record_contact(
    engine: Engine, debtor: Debtor, action: str, now: datetime,
    details: Mapping[str, Any] | None = None,
) -> ActionResult:  # fmt: skip
    """A debtor-initiated contact with no other effect (identified in the portal, a
    message to the assistant): in the ledger and the audit log, on the timeline."""
    with transaction(engine) as session:
        account = _account(session, debtor)
        campaign, _config = _campaign(session, account)
        ledger = record_contact_in(session, debtor, account, action, now, details or {})
        return ActionResult("contact", account.id, _name(campaign), ledger)


def record_contact_in(
    session: Session, debtor: Debtor, account: Account, action: str, now: datetime,
    details: Mapping[str, Any],
) -> int:  # fmt: skip
    """The ledger row and the audit entry of one debtor action, in the caller's
    transaction; returns the row's id."""
    if debtor.via not in VIA:
        raise ValueError(f"unknown channel {debtor.via!r}; one of {', '.join(VIA)}")
    if debtor.via in PHONE_CHANNELS and not debtor.address:
        raise ValueError(f"a {debtor.via} contact needs the number it came from")
    action = str(action)[:40]
    row = CallAttempt(
        account_id=account.id,
        phone_e164=debtor.address[:20] if debtor.address and debtor.via in PHONE_CHANNELS else None,
        address=debtor.address[:320] if debtor.address and debtor.via not in PHONE_CHANNELS
        else None,
        campaign_id=account.campaign_id,
        direction="inbound",
        source=LEDGER_SOURCE,
        started_at=now,
        answered_at=now,
        ended_at=now,
        result=LEDGER_RESULT,
        right_party_contact=False,
        channel=debtor.via,
        details={"debtor_action": action, **dict(details)},
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit_append(session, "debtor_action",
                 {"account_id": account.id, "action": action, "via": debtor.via,
                  "ledger_id": row.id, "session": _short(debtor.session),
                  "details": dict(details)},
                 actor=debtor.actor, subject=f"account:{account.id}", now=now)  # fmt: skip
    return row.id


# ---- documents -------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    title: str
    filename: str
    content_type: str
    size_bytes: int


def documents_open(engine: Engine, account_id: int) -> bool:
    """Whether the debtor may download the account's documents: once they disputed
    the debt or asked for its proof."""
    with transaction(engine) as session:
        count = session.scalar(
            select(func.count(Dispute.id)).where(Dispute.account_id == account_id)
        )
        return bool(count)


def documents(engine: Engine, account_id: int) -> list[DocumentInfo]:
    with transaction(engine) as session:
        rows = session.execute(
            select(AccountDocument.id, AccountDocument.title, AccountDocument.filename,
                   AccountDocument.content_type, AccountDocument.size_bytes)
            .where(AccountDocument.account_id == account_id)
            .order_by(AccountDocument.id)
            .limit(50)
        ).all()  # fmt: skip
        return [DocumentInfo(*row) for row in rows]


def document(engine: Engine, account_id: int, document_id: int) -> tuple[DocumentInfo, bytes]:
    """One document of this account; LookupError for another account's or none."""
    with transaction(engine) as session:
        row = session.get(AccountDocument, document_id)
        if row is None or row.account_id != account_id:
            raise LookupError(document_id)
        info = DocumentInfo(row.id, row.title, row.filename, row.content_type, row.size_bytes)
        return info, bytes(row.content)


_MAGIC = {"application/pdf": (b"%PDF",), "image/png": (b"\x89PNG\r\n\x1a\n",),
          "image/jpeg": (b"\xff\xd8\xff",)}  # fmt: skip


def _looks_like(content_type: str, data: bytes) -> bool:
    """The content's first bytes are its type's (text: UTF-8 without NUL)."""
    if content_type == "text/plain":
        try:
            return "\x00" not in data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return data.startswith(_MAGIC.get(content_type, ()))


def attach_document(
    engine: Engine, external_ref: str, title: str, filename: str, content_type: str,
    data: bytes, actor: str, now: datetime,
) -> int:  # fmt: skip
    """The operator attaches a document to an account (`cobrador portal attach`);
    ValueError says what is wrong."""
    if content_type not in DOCUMENT_TYPES:
        raise ValueError(f"{content_type!r} is not one of {', '.join(DOCUMENT_TYPES)}")
    if not data or len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"a document has 1 to {MAX_DOCUMENT_BYTES} bytes")
    if not _looks_like(content_type, data):
        # The debtor's browser is told this type: a page saved as .pdf must not reach it.
        raise ValueError(f"the file's content is not {content_type} (named by its extension)")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[-120:] or "documento"
    title = _CONTROL.sub("", title).strip()[:200] or name
    with transaction(engine) as session:
        account = session.scalar(select(Account).where(Account.external_ref == external_ref))
        if account is None:
            raise ValueError(f"no account {external_ref!r}")
        digest = hashlib.sha256(data).hexdigest()
        row = AccountDocument(account_id=account.id, title=title, filename=name,
                              content_type=content_type, size_bytes=len(data), sha256=digest,
                              content=data, attached_by=actor[:100], attached_at=now)  # fmt: skip
        session.add(row)
        session.flush()
        audit_append(session, "account_document",
                     {"document_id": row.id, "account_id": account.id, "title": title,
                      "sha256": digest, "size_bytes": len(data)},
                     actor=actor, subject=f"account:{account.id}", now=now)  # fmt: skip
        return row.id


# ---- supervisor tasks ------------------------------------------------------------


def open_tasks(engine: Engine, campaign_ids: set[int] | None) -> list[dict[str, Any]]:
    """Open supervisor tasks, oldest first (None: every campaign), with the dispute."""
    with transaction(engine) as session:
        query = (
            select(SupervisorTask, Account.external_ref, Account.debtor_name, Dispute)
            .join(Account, Account.id == SupervisorTask.account_id)
            .outerjoin(Dispute, Dispute.id == SupervisorTask.ref_id)
            .where(SupervisorTask.status == "open")
            .order_by(SupervisorTask.created_at, SupervisorTask.id)
            .limit(200)
        )
        if campaign_ids is not None:
            query = query.where(SupervisorTask.campaign_id.in_(campaign_ids or {-1}))
        return [
            {"id": task.id, "account_id": task.account_id, "kind": task.kind, "ref": ref,
             "name": name, "created_at": task.created_at,
             "dispute_kind": dispute.kind if dispute else "",
             "text": dispute.text if dispute else "", "via": dispute.source if dispute else ""}
            for task, ref, name, dispute in session.execute(query).all()
        ]  # fmt: skip


# ---- helpers ---------------------------------------------------------------------


def _account(session: Session, debtor: Debtor) -> Account:
    account = session.get(Account, debtor.account_id, with_for_update=True)
    if account is None:
        raise ActionError("account", N_("La cuenta no existe."))
    return account


def _open_account(
    session: Session, debtor: Debtor
) -> tuple[Account, Campaign | None, dict[str, Any]]:
    """The account, if a promise, plan or callback may still be agreed on it."""
    account = _account(session, debtor)
    if account.status != AccountStatus.active.value:
        raise ActionError("account", N_("Esta cuenta no admite acuerdos ahora; llámenos."))
    if account.balance <= 0:
        raise ActionError("account", N_("La cuenta no tiene saldo pendiente."))
    campaign, config = _campaign(session, account)
    return account, campaign, config


def _campaign(session: Session, account: Account) -> tuple[Campaign | None, dict[str, Any]]:
    campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
    return campaign, dict(campaign.config or {}) if campaign is not None else {}


def _rules(config: Mapping[str, Any]) -> PlanRules:
    try:
        return plan_rules_for(config)
    except PlanRulesError:
        # A campaign whose rules do not load agrees no plan (fails closed).
        raise ActionError("plan", N_("La campaña no admite planes ahora; llámenos.")) from None


def _promise_days(config: Mapping[str, Any]) -> int:
    return campaign_limits.limit(config, "promise_max_days")


def _date_zones(account: Account) -> tuple[ZoneInfo, ...]:
    """The zones the debtor's date is read in (their candidates, else their country's)."""
    return date_zones(account.timezone, account.country, account.region, None)


def _today(account: Account, now: datetime) -> date:
    """The earliest of the debtor's dates in their zones (their country's when theirs
    are unknown): a date from it on is not past wherever they are, as the agent's form
    allows (console/dispositions.py). The first zone's date alone refused a promise
    "for today" from a debtor in a zone still on the day before, and UTC's date (an
    unknown zone) was already tomorrow for a Mexican debtor from 18:00."""
    return local_days(now, date_zones(account.timezone, account.country, account.region,
                                      None))[0]  # fmt: skip


def _hold(account: Account, until: datetime) -> datetime | None:
    """Not dialed before `until` (as an agent's disposition holds it)."""
    if account.later_than_its_date(until):
        account.next_attempt_at = until
        account.hopper_since = None
        return until
    return None


def _name(campaign: Campaign | None) -> str:
    return campaign.name if campaign is not None else ""


def _amount(raw: Decimal | str, field_name: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip().replace(",", "")) if len(str(raw)) <= 20 else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value <= 0 or value != value.quantize(CENT):
        raise ActionError(
            field_name, N_("Escriba un monto mayor que cero, con hasta dos decimales.")
        )
    return value


def _text(raw: str, field_name: str) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_TEXT:
        raise ActionError(field_name, N_("El texto pasa de {maximo} caracteres."),
                          {"maximo": str(MAX_TEXT)})  # fmt: skip
    return _CONTROL.sub("", raw).strip()


def _callback_phone(session: Session, account: Account, wanted: str | None) -> Phone:
    if wanted:
        phone = session.scalar(
            select(Phone).where(Phone.account_id == account.id, Phone.number_e164 == wanted[:20])
        )
        if phone is None or not _callable(phone):
            raise ActionError("callback_phone", N_("Ese número no es uno de los de su cuenta."))
        return phone
    phone = _first_phone(session, account)
    if phone is None:
        raise ActionError("callback_phone", N_("No tenemos un número al que llamarle."))
    return phone


def _first_phone(session: Session, account: Account) -> Phone | None:
    phones: Sequence[Phone] = session.scalars(
        select(Phone).where(Phone.account_id == account.id).order_by(Phone.position, Phone.id)
    ).all()
    return next((p for p in phones if _callable(p)), None)


def _callable(phone: Phone) -> bool:
    return (
        phone.status == PhoneStatus.active.value
        and "call" in (phone.channels or "call").split(",")
        and "call" not in (phone.opted_out or "").split(",")
    )


def _short(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:16] if session_id else ""


__all__ = [
    "DISPUTE_KINDS", "VIA", "ActionError", "ActionResult", "Debtor", "DocumentInfo",
    "PlanOption", "Summary", "attach_document", "callback_slots",
    "choose_plan", "choose_plan_option", "document", "documents", "documents_open",
    "make_promise", "notify_dialer", "open_dispute", "open_tasks", "opt_in", "opt_out",
    "plan_offer", "record_contact", "record_contact_in", "request_callback", "summary",
]  # fmt: skip
