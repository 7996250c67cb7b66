"""What the agent page reads and writes in SQL: the pop, dispositions, notes,
callbacks and the agent's own figures. Synchronous; handlers run it in a thread.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.orm import Session

from cobrador.ground import code_words
from cobrador.ground.masking import mask_phone
from compliance import campaign_limits
from compliance.callback_window import CallbackChecker, CallbackTarget
from compliance.debtor_time import date_zones, debtor_zones, local_days
from compliance.engine import contact_zones
from compliance.jurisdiction import country_profile
from compliance.opt_outs import OptOutError, record_opt_out
from compliance.profile import Profile, load_profiles
from compliance.protection import protection_reason
from compliance.service import account_facts
from console import call_script, verify_lock, verify_tries
from console.call_script import ScriptFacts
from console.contact_labels import (
    channel_label,
    mask_address,
    message_result_label,
    template_label,
)
from console.debtor_locale import DebtorLocale, spoken_locale
from console.dispositions import (
    NOT_VERIFIED,
    OUTCOMES,
    PARTY_LABELS,
    Effect,
    FormErrors,
    PromiseLimits,
    dial_hold,
    parse_disposition,
    plan_from_form,
)
from console.document_proof import document_matcher
from console.i18n import N_, gettext_
from console.identity import (
    DOCUMENT_PROMPT,
    VERIFIED_PARTIES,
    chat_prompts,
    failed_prompts,
    masked_ref,
    party_prompts,
    prompt_labels,
)
from console.money import money_format
from console.payment_plans import PlanRules, PlanRulesError
from console.phone_marks import phone_notes
from console.plan_service import (
    account_plans,
    calculator,
    plan_rules_for,
    plan_view,
    save_plan,
)
from console.result_metrics import DispositionFacts, count_disposition
from console.users import CurrentUser
from dialer.messages import Pop, StopAccount
from selfservice.identity import reference_locked_in
from store.audit import append as audit_append
from store.db import transaction
from store.models import (
    Account,
    AccountStatus,
    CallAttempt,
    Callback,
    Campaign,
    Disposition,
    Note,
    Phone,
    PhoneStatus,
    Promise,
    User,
)

STAGE_LABELS = code_words.STAGE_LABELS
RESULT_LABELS = code_words.CALL_RESULT_LABELS
DEFAULT_PROMISE_MAX_DAYS = 30
DEFAULT_WRAPUP_SECONDS = 20
DEFAULT_PAUSE_REASONS = ["break", "comida", "capacitacion", "baño", "supervisor"]
PENDING_WINDOW = timedelta(hours=24)
MISSED_CALLBACK_GRACE = timedelta(minutes=10)


def campaign_config(campaign: Campaign | None) -> dict[str, Any]:
    return dict(campaign.config or {}) if campaign is not None else {}


def _zones(account: Account, phone_e164: str | None) -> tuple[ZoneInfo, ...]:
    """compliance/timezones.py's candidates: account zone, region, country, number."""
    return debtor_zones(account.timezone, account.country, account.region, phone_e164)


def _local_now(
    account: Account, phone_e164: str | None, now: datetime
) -> tuple[datetime, tuple[ZoneInfo, ...]]:
    """The debtor's time now (UTC when no zone is known: the label then says so)."""
    zones = _zones(account, phone_e164)
    return (now.astimezone(zones[0]) if zones else now), zones


def _other_clocks(
    words: DebtorLocale, now: datetime, zones: tuple[ZoneInfo, ...], account: Account,
    phone_e164: str | None,
) -> str:  # fmt: skip
    """The debtor's time in the other zones the engine checks this call in (the account's
    and the number's: compliance/engine.py contact_zones) whose clock is not the first
    zone's: "12:05 (Tijuana)", joined by " · "; empty when there is none. A zone whose
    date is not the first zone's (near midnight) says its date too: "6 dic 2026, 23:05
    (Tijuana)", never a bare "23:05" beside another day's date."""
    if not zones:
        return ""
    first = words.clock(now, zones[0])
    first_day = now.astimezone(zones[0]).date()
    checked = contact_zones(account_facts(account), "call", phone_e164 or "").zones
    shown = dict.fromkeys(
        words.when(now, z, day=now.astimezone(z).date() != first_day)
        for z in checked
        if words.clock(now, z) != first
    )
    return " · ".join(shown)


def _earliest_day(account: Account, phone_e164: str | None, now: datetime) -> date:
    """The debtor's today for a promise or a plan: their date in the zone furthest
    behind of those they may be in, the candidates (their country's zones when none
    is known: compliance/debtor_time.py date_zones, never UTC's, which is tomorrow from
    18:00 in Mexico) and the zones the rules check a contact in (the number's too).
    Both ends count from it, as the portal and the assistant count them: a promise
    may be dated this day, and the campaign's horizon ends promise_max_days after it
    (from the first zone's date it allowed a day more than they did near midnight)."""
    checked = contact_zones(account_facts(account), "call", phone_e164 or "").zones
    own = date_zones(account.timezone, account.country, account.region, phone_e164)
    return local_days(now, (*own, *checked))[0]


def _days_past_due(account: Account, today: date) -> int:
    return max((today - account.due_date).days, 0) if account.due_date else 0


def _money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.2f}"


CHAT_LEDGER_SOURCE = "chat"  # console/chat_queue.py's rows: an agent given a chat


def _is_chat(attempt: CallAttempt | None) -> bool:
    return attempt is not None and attempt.source == CHAT_LEDGER_SOURCE


def _questions(config: dict[str, Any], party: str, account: Account,
               attempt: CallAttempt | None, key: bytes | None) -> tuple[str, ...]:  # fmt: skip
    """The questions that verify ``party`` on this attempt: a chat's are an inbound
    caller's (identity.chat_prompts: the document's digits where on file), a call's
    the campaign's party questions."""
    if _is_chat(attempt):
        return chat_prompts(config, party, document_matcher(key, account) is not None)
    return party_prompts(config, party)


def build_pop(
    engine: Engine,
    account_id: int,
    attempt_id: int | None,
    agent: CurrentUser | None,
    now: datetime,
    purpose: str,
    audit: bool = True,
    verified_party: str | None = None,
    key: bytes | None = None,
) -> dict[str, Any] | None:
    """What the agent needs about the account; writes a pii_view entry (unless
    ``audit`` is False: the caller then records the view itself). ``key``: the
    portal's identity key (document_proof.document_key), which a chat's questions
    need to ask the document's digits.

    Until the person on the line is verified (``verified_party`` is "titular" or
    "aval") the pop carries no fact about the debt: name, masked reference, the
    opening anyone may hear, the third party's neutral message and the identity
    questions; the balance, the debt script, promises and notes come after.
    """
    verified = verified_party if verified_party in VERIFIED_PARTIES else None
    with transaction(engine) as session:
        account = session.get(Account, account_id)
        if account is None:
            return None
        attempt = session.get(CallAttempt, attempt_id) if attempt_id else None
        campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
        config = campaign_config(campaign)
        phone: Phone | None = None
        if attempt is not None and attempt.phone_id:
            phone = session.get(Phone, attempt.phone_id)
        if phone is None and account.phones:
            phone = account.phones[0]
        phone_e164 = (
            attempt.phone_e164 if attempt is not None else (phone.number_e164 if phone else None)
        )
        local, zones = _local_now(account, phone_e164, now)
        # What the agent reads aloud (dates, zones): the console's language, the
        # Spanish of the debtor's country ("6 de setiembre de 2026" in Peru).
        words = spoken_locale(account.country)
        recording = recording_facts(campaign, config, account.country)
        profile = _profile_of(campaign, account.country)
        balance = _money(account.balance)
        money = money_format(account.country, account.currency)
        facts = ScriptFacts(
            agent=agent.display_name if agent else "",
            debtor_name=account.debtor_name,
            local=local,
            config=config,
            campaign=campaign.name if campaign else "",
            stage=account.stage,
            contract=account.external_ref,
            amount=money.show(account.balance or Decimal(0)),
            due_date=words.day(account.due_date) if account.due_date else "",
            payment_instructions=str(config.get("payment_instructions", "")),
            # The agent's script carries the recording notice (the profile's or
            # the campaign's choice; see docs/recording-capture.md).
            recording_notice=recording["notice"] == "script",
            opening=profile.opening if profile is not None else ScriptFacts.opening,
        )
        max_days = campaign_limits.limit(config, "promise_max_days")
        earliest = _earliest_day(account, phone_e164, now)
        pop: dict[str, Any] = {
            "type": Pop.TYPE,  # the browser reads the pop's kind
            "attempt_id": attempt_id,
            "account_id": account.id,
            "campaign": campaign.name if campaign else "",
            "chat": _is_chat(attempt),  # a handed-over conversation: its transcript is shown
            "verified": verified,
            "account": {"ref": masked_ref(account.external_ref), "name": account.debtor_name},
            "opening": (
                call_script.chat_opening(facts, gettext_)
                if _is_chat(attempt)
                else call_script.opening(facts, gettext_)
            ),  # fmt: skip
            "third_party": {
                "script": call_script.third_party(facts, gettext_),
                "rule": gettext_(call_script.THIRD_PARTY_RULE),
            },
            "verification": {
                party: [
                    {"code": p["code"], "label": gettext_(p["label"])}
                    for p in prompt_labels(_questions(config, party, account, attempt, key), party)
                ]
                for party in VERIFIED_PARTIES
            },
            "recording": recording,
            "phone": {
                "masked": mask_phone(phone_e164),
                "type": phone.phone_type if phone else "",
                "consent": bool(phone.consent) if phone else False,
                "consent_ref": (phone.consent_ref or "") if phone else "",
            },
            "attempts": _last_attempts(session, account, words),
            # Every number of the account: which ones the dialer leaves, since when
            # and why (a number the carrier said twice does not exist, a reactivation).
            "phones": phone_notes(account, words),
            "no_number_left": not any(p.status == PhoneStatus.active.value for p in account.phones),
            "local_time": {
                "iso": local.isoformat(timespec="minutes"),
                "time": words.clock(local, zones[0] if zones else None),  # "14:05"
                "date": local.date().isoformat(),
                "zone": ", ".join(z.key for z in zones),  # IANA ids, for machines
                # What the agent reads beside "time": the city of its zone (where a
                # callback typed on this page is due), and the clock of every other
                # zone the rules check this call in ("12:05 (Tijuana)").
                "zone_label": words.zone_name(zones[0] if zones else None),
                "also": _other_clocks(words, now, zones, account, phone_e164),
            },
            # A promise may be for the debtor's today in any candidate zone: near
            # midnight one of them may still be on the day before the first zone's;
            # the horizon counts from that same day (_earliest_day).
            "promise_min_date": earliest.isoformat(),
            "promise_max_date": (earliest + timedelta(days=max_days)).isoformat(),
            "money": money.as_dict(),
            "wrapup_seconds": campaign_limits.limit(config, "wrapup_seconds"),
            # Before anything else, verified or not: a protected person is never asked
            # for the debt (compliance/protection.py); None when the account is not one.
            "protection": protection_notice(account.protection),
        }
        if verified is not None:
            pop["account"] = {
                "ref": account.external_ref,
                "name": account.debtor_name,
                "balance": balance,
                "balance_display": money.show(account.balance or Decimal(0)),
                "currency": account.currency,
                "days_past_due": _days_past_due(account, earliest),
                "stage": account.stage,
                "stage_label": code_words.word(
                    STAGE_LABELS, account.stage, gettext_, code_words.OTHER_STAGE
                ),
                "status": account.status,
            }
            script = call_script.debtor if verified == "titular" else call_script.guarantor
            pop["script"] = script(facts, gettext_)
            pop["promises"] = _open_promises(session, account.id, account.country, words)
            pop["notes"] = _notes(session, account.id, zones, words)
            pop["payment_instructions"] = str(config.get("payment_instructions", ""))
            # The debtor locked out of the portal (wrong answers): the agent may open it
            # again on this call, the titular verified (console/portal_unlock.py).
            pop["portal_locked"] = verified == "titular" and reference_locked_in(
                session, account.id, now
            )
            pop["plans"] = account_plans(session, account, words)
            pop["calculator"] = calculator(
                _plan_rules(config), account.stage, account.balance or Decimal(0),
                earliest, money,
            )  # fmt: skip
        if audit:
            _pii_view(session, agent, account.id, attempt_id, purpose)
        return pop


# The same words as the reasons' (console/code_labels.py, which reads this module).
PROTECTION_LABELS = {
    "debtor_deceased": N_("Deudor fallecido"),
    "debtor_minor": N_("Deudor menor de edad"),
    "insolvency_proceeding": N_("Deudor en proceso de insolvencia"),
    "protected_person": N_("Persona protegida"),
}
PROTECTION_RULE = N_(
    "Persona protegida: no cobre ni hable de la deuda; registre la llamada y avise a su supervisor."
)


def protection_notice(protection: str | None) -> dict[str, str] | None:
    """What the agent reads about a protected person: the reason's label and the rule."""
    reason = protection_reason(protection)
    if reason is None:
        return None
    label = PROTECTION_LABELS.get(reason, PROTECTION_LABELS["protected_person"])
    return {"code": reason, "label": gettext_(label), "rule": gettext_(PROTECTION_RULE)}


def _profile_of(campaign: Campaign | None, country: str) -> Profile | None:
    """The debtor's country's profile: the campaign's when it is of that country
    (compliance/jurisdiction.py), else the country's default."""
    profiles = _shipped_profiles()
    chosen = profiles.get(campaign.profile) if campaign and campaign.profile else None
    if chosen is not None and chosen.country == (country or "").upper():
        return chosen
    return country_profile(profiles, country)


def recording_facts(
    campaign: Campaign | None, config: dict[str, Any], country: str
) -> dict[str, Any]:
    """The campaign's recording mode and how the debtor hears about it (None: not recorded)."""
    from dialer.recording import recording_mode, recording_notice

    mode = recording_mode(config)
    if mode == "none":
        return {"mode": mode, "notice": None}
    profile = _profile_of(campaign, country)
    default = profile.recording_notice if profile is not None else "script"
    return {"mode": mode, "notice": recording_notice(default, config)}


@functools.cache
def _shipped_profiles() -> dict[str, Profile]:
    return load_profiles()


def _pii_view(
    session: Session,
    agent: CurrentUser | None,
    account_id: int,
    attempt_id: int | None,
    purpose: str,
) -> None:
    audit_append(
        session,
        "pii_view",
        {"page": purpose, "account_id": account_id, "attempt_id": attempt_id},
        actor=agent.actor if agent else "system",
        subject=f"account:{account_id}",
    )


def record_pii_view(
    engine: Engine, agent: CurrentUser | None, account_id: int, attempt_id: int | None, purpose: str
) -> None:
    with transaction(engine) as session:
        _pii_view(session, agent, account_id, attempt_id, purpose)


def _last_attempts(
    session: Session, account: Account, words: DebtorLocale, limit: int = 12
) -> list[dict[str, Any]]:
    """Each time in the debtor's zone for the number that was dialed, labelled."""
    rows = session.execute(
        select(CallAttempt, Disposition)
        .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
        .where(CallAttempt.account_id == account.id)
        .order_by(CallAttempt.started_at.desc())
        .limit(limit)
    ).all()
    out = []
    for attempt, disposition in rows:
        channel = attempt.channel or "call"
        out.append(
            {
                "at": words.stamp(attempt.started_at, _zones(account, attempt.phone_e164)),
                # Every contact on every channel: a call, an SMS, a WhatsApp, an e-mail...
                "channel": channel_label(channel),
                "what": template_label((attempt.details or {}).get("template")),
                "result": message_result_label(channel, attempt.result, result_label),
                "outcome": code_words.outcome_word(channel, disposition.outcome, gettext_)
                if disposition
                else "",
                "phone": mask_address(channel, attempt.phone_e164, attempt.address),
            }
        )
    return out


def _open_promises(
    session: Session, account_id: int, country: str, words: DebtorLocale
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Promise)
        .where(Promise.account_id == account_id, Promise.status == "open")
        .order_by(Promise.due_date)
    ).all()
    return [
        {
            "amount": _money(p.amount),
            "currency": p.currency,
            "display": money_format(country, p.currency).show(p.amount),
            "due_date": p.due_date.isoformat(),
            "due_date_shown": words.day(p.due_date),
        }
        for p in rows
    ]


def result_label(result: str | None) -> str:
    """Never the raw code: an open call, a known result, or "other"."""
    if not result:
        return gettext_(N_("En curso"))
    return gettext_(RESULT_LABELS.get(result, N_("Otro resultado")))


def _notes(
    session: Session,
    account_id: int,
    zones: tuple[ZoneInfo, ...],
    words: DebtorLocale,
    limit: int = 10,
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Note, User.display_name)
        .outerjoin(User, User.id == Note.author_id)
        .where(Note.account_id == account_id)
        .order_by(Note.created_at.desc(), Note.id.desc())
        .limit(limit)
    ).all()
    return [
        {"at": words.stamp(n.created_at, zones), "author": who or "", "text": n.text}
        for n, who in rows
    ]


def pending_attempt(
    engine: Engine, agent_id: int, now: datetime, live_attempt: int | None = None
) -> tuple[int, int] | None:
    """(attempt_id, account_id) of the agent's newest call still without a disposition.

    ``live_attempt`` is the call the dialer gave the agent (the agent's Redis
    state): the dialer writes ``agent_id`` on the attempt row only when the
    call ends, so during the call that state is what ties the call to the agent.
    """
    with transaction(engine) as session:
        if live_attempt is not None:
            live = session.execute(
                select(CallAttempt.id, CallAttempt.account_id, CallAttempt.agent_id)
                .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
                .where(CallAttempt.id == live_attempt, Disposition.id.is_(None))
            ).first()
            if live is not None and live[1] is not None and live[2] in (None, agent_id):
                return int(live[0]), int(live[1])
        row = session.execute(
            select(CallAttempt.id, CallAttempt.account_id)
            .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
            .where(
                CallAttempt.agent_id == agent_id,
                CallAttempt.account_id.is_not(None),
                Disposition.id.is_(None),
                CallAttempt.started_at >= now - PENDING_WINDOW,
            )
            .order_by(CallAttempt.started_at.desc())
            .limit(1)
        ).first()
        return (int(row[0]), int(row[1])) if row and row[1] is not None else None


def agent_may_see(
    engine: Engine,
    agent_id: int,
    account_id: int,
    now: datetime,
    preview_account: int | None,
    live_attempt: int | None = None,
) -> bool:
    """Only the account popped to the agent (undisposed call), their preview or callbacks."""
    if preview_account == account_id:
        return True
    live = pending_attempt(engine, agent_id, now, live_attempt) if live_attempt else None
    if live is not None and live[1] == account_id:
        return True
    with transaction(engine) as session:
        popped = session.scalar(
            select(CallAttempt.id)
            .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
            .where(
                CallAttempt.agent_id == agent_id,
                CallAttempt.account_id == account_id,
                Disposition.id.is_(None),
                CallAttempt.started_at >= now - PENDING_WINDOW,
            )
            .limit(1)
        )
        if popped is not None:
            return True
        mine = session.scalar(
            select(Callback.id)
            .where(
                Callback.account_id == account_id,
                Callback.agent_id == agent_id,
                Callback.status == "pending",
            )
            .limit(1)
        )
        return mine is not None


# The outbound party check asked on a call the debtor made: its caller is proven by the
# inbound identity check only (console/inbound_service.py verify_identity).
INBOUND_CHECK_ONLY = N_(
    "En una llamada entrante, verifique a quien llama con las preguntas de la llamada entrante."
)


class InboundCallCheck(PermissionError):
    """The party check asked on an inbound phone call (`INBOUND_CHECK_ONLY`)."""


class AccountLocked(PermissionError):
    """A chat's party check refused unchecked: the account's identity check is locked
    over every call and chat (console/verify_lock.py, `verify_lock.LOCKED`)."""


def _inbound_call(attempt: CallAttempt) -> bool:
    """A phone call the debtor made (not a chat's row). The dialer writes its account
    on it from the start when the caller's number names one (dialer/inbound/calls.py),
    yet its caller is not proven by the outbound questions (the name and the
    reference's digits, both on every letter): the inbound check's questions, its
    account's lock over calls and chats, and only then the account."""
    return attempt.direction == "inbound" and attempt.source == "inbound"


def is_inbound_call(engine: Engine, attempt_id: int) -> bool:
    with transaction(engine) as session:
        attempt = session.get(CallAttempt, attempt_id)
        return attempt is not None and _inbound_call(attempt)


def _verifies(attempt: CallAttempt, agent: CurrentUser, live_attempt: int | None) -> bool:
    """Whether this agent may ask the identity questions on this attempt: their call, or
    the live call the dialer gave them before the attempt names its agent."""
    if attempt.account_id is None:
        return False
    return attempt.agent_id == agent.id or (attempt.agent_id is None and attempt.id == live_attempt)


def verify_party(
    engine: Engine,
    agent: CurrentUser,
    attempt_id: int,
    party: str,
    answers: dict[str, str],
    live_attempt: int | None = None,
    now: datetime | None = None,
    key: bytes | None = None,
) -> bool:
    """The answers of the person on the agent's call against the campaign's question
    set for ``party``; the check (passed or not) is written to the audit chain.

    Whose call first, then the call's own wrong answers (console/verify_tries.py, in
    SQL): a call whose three are spent is not checked (`verify_tries.Spent`). A chat's
    person is asked an inbound caller's questions (`_questions`) and its wrong answers
    count toward the account's lock over every call and chat (console/verify_lock.py):
    a locked account is not checked (`AccountLocked`).
    ``key``: the portal's identity key, which checks the document's digits."""
    if party not in VERIFIED_PARTIES:
        raise FormErrors({"party": N_("Indique con quién se habló.")})
    at = now or datetime.now(UTC)
    with transaction(engine) as session:
        attempt = session.get(CallAttempt, attempt_id)
        if attempt is None or not _verifies(attempt, agent, live_attempt):
            raise PermissionError(attempt_id)
        if _inbound_call(attempt):
            raise InboundCallCheck(attempt_id)
        # The call's own three wrong answers (its row held before the account's): a
        # spent call is refused unchecked (verify_tries.Spent).
        tries = verify_tries.take(session, attempt_id, at)
        account = session.get(Account, attempt.account_id)
        assert account is not None
        campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
        prompts = _questions(campaign_config(campaign), party, account, attempt, key)
        chat = _is_chat(attempt)
        # The account's row held until this check is counted: parallel checks of one
        # account get no extra tries (None: locked, nothing compared).
        gate = (
            verify_lock.take(session, account.id, at, DOCUMENT_PROMPT in prompts) if chat else None
        )
        locked = chat and gate is None
        failed = (
            []
            if locked
            else failed_prompts(prompts, answers, account.external_ref, account.debtor_name,
                                account.custom_fields, document_matcher(key, account))
        )  # fmt: skip
        passed = not locked and not failed
        audit_append(
            session,
            "identity_check",
            {
                "attempt_id": attempt_id,
                "account_id": account.id,
                "party": party,
                "prompts": list(prompts),
                "passed": passed,
                "failed": failed,
                **({"refused": "account_locked"} if locked else {}),
            },
            actor=agent.actor,
            subject=f"account:{account.id}",
        )
        if not locked:
            verify_tries.record(tries, passed)
        if gate is not None:
            verify_lock.record(session, gate, account, passed, at, agent.actor, prompts)
    if locked:  # the refusal is evidence too: committed above, refused here
        raise AccountLocked(attempt_id)
    return passed


@dataclass
class DispositionResult:
    disposition_id: int
    account_id: int
    campaign: str
    effect: Effect
    outcome: str
    commands: list[StopAccount] = field(default_factory=list)
    # Held or stopped: out of the campaign's hopper now (agent_views), loop or not.
    drop_from_hopper: bool = False
    plan_pending: bool = False  # a plan above the agent's limits waits for a supervisor
    # A chat's: its disposition ends it (a call ends when the dialer sees it end).
    chat: bool = False


def save_disposition(
    engine: Engine,
    agent: CurrentUser,
    attempt_id: int,
    form: dict[str, str],
    now: datetime,
    checker: CallbackChecker,
    live_attempt: int | None = None,
    verified_party: str | None = None,
) -> DispositionResult:
    """Validate and save in one transaction; FormErrors means nothing was written.

    An outcome that speaks about the debt (promise, payment, refusal, dispute)
    needs the person it names verified on this call (``verified_party``)."""
    with transaction(engine) as session:
        attempt = session.get(CallAttempt, attempt_id)
        if attempt is None:
            raise PermissionError(attempt_id)
        # Theirs: the row says so, or (during the call, before the dialer writes
        # the row's agent) the dialer gave them this call in their Redis state.
        if attempt.agent_id is None and attempt.id == live_attempt:
            attempt.agent_id = agent.id
        if attempt.agent_id != agent.id:
            raise PermissionError(attempt_id)
        if session.scalar(select(Disposition.id).where(Disposition.attempt_id == attempt_id)):
            raise FormErrors({"outcome": N_("Esta llamada ya tiene una tipificación.")})
        # An inbound caller (or a chat) not verified yet names no account: no result to
        # record (the page shows no form; a request sent anyway was a 500).
        account = session.get(Account, attempt.account_id) if attempt.account_id else None
        if account is None:
            raise FormErrors({"party": NOT_VERIFIED})
        campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
        config = campaign_config(campaign)
        zones = _zones(account, attempt.phone_e164)
        limits = _limits(account, config, now, attempt.phone_e164)
        data = parse_disposition(form, limits, verified_party)
        callback_due: datetime | None = None
        if data.callback_local is not None:
            callback_due = _callback_instant(data.callback_local, zones)
            if callback_due is None:
                raise FormErrors({"callback_at": N_("No se conoce la zona horaria del deudor.")})
            if callback_due <= now:
                raise FormErrors({"callback_at": N_("La hora de la nueva llamada ya pasó.")})
            target = CallbackTarget(
                country=account.country,
                account_timezone=account.timezone,
                phone_e164=attempt.phone_e164,
                region=account.region,
                profile=campaign.profile if campaign else None,
                campaign=campaign.name if campaign else None,
                compliance_overrides=config.get("compliance"),
            )
            reasons = checker(target, callback_due)
            if reasons:
                raise FormErrors(
                    {
                        "callback_at": N_(
                            "Esa hora está fuera del horario permitido para llamar al deudor."
                        )
                    }
                )

        disposition = Disposition(
            attempt_id=attempt.id,
            account_id=account.id,
            agent_id=agent.id,
            party=data.party.value,
            outcome=data.outcome.code,
            notes=data.notes,
            created_at=now,
        )
        session.add(disposition)
        attempt.right_party_contact = data.right_party_contact
        if data.notes:
            session.add(
                Note(account_id=account.id, author_id=agent.id, text=data.notes, created_at=now)
            )
        commands: list[StopAccount] = []
        payload: dict[str, Any] = {
            "attempt_id": attempt.id,
            "account_id": account.id,
            "party": data.party.value,
            "outcome": data.outcome.code,
            "effect": data.outcome.effect.value,
            "right_party_contact": data.right_party_contact,
        }
        if data.promise_amount is not None and data.promise_date is not None:
            session.add(
                Promise(
                    account_id=account.id,
                    attempt_id=attempt.id,
                    agent_id=agent.id,
                    amount=data.promise_amount,
                    currency=account.currency,
                    due_date=data.promise_date,
                    created_at=now,
                )
            )
            payload["promise"] = {"amount": data.promise_amount, "due_date": data.promise_date}
        plan_pending = False
        if data.plan is not None:
            plan = save_plan(session, data.plan, account, attempt.id, agent.id, now)
            plan_pending = plan.status == "pending"
            payload["plan"] = {"plan_id": plan.id, "status": plan.status, "total": plan.total,
                               "discount": plan.discount, "instalments": len(plan.schedule),
                               "approval_reasons": list(plan.approval_reasons)}  # fmt: skip
        if callback_due is not None:
            session.add(
                Callback(
                    account_id=account.id,
                    phone_id=attempt.phone_id,
                    campaign_id=account.campaign_id,
                    agent_id=agent.id if data.callback_personal else None,
                    created_by=agent.id,
                    due_at=callback_due,
                    created_at=now,
                )
            )
            payload["callback"] = {"due_at": callback_due, "personal": data.callback_personal}
        hold = dial_hold(
            data,
            callback_due,
            now,
            campaign_limits.limit(config, "paid_claim_hold_days"),
            date_zones(account.timezone, account.country, account.region, None),
        )
        if hold is not None and account.later_than_its_date(hold):
            account.next_attempt_at = hold
            account.hopper_since = None  # the disposition's date replaces the hopper's hold
        if hold is not None:
            payload["hold_until"] = hold
        if data.outcome.effect is Effect.stop_number and attempt.phone_id:
            session.execute(
                update(Phone)
                .where(Phone.id == attempt.phone_id)
                .values(status=PhoneStatus.wrong_number.value)
            )
        if data.outcome.opt_out and data.right_party_contact:
            session.flush()  # the disposition's id is the opt-out's evidence
            payload["opt_out"] = _record_opt_outs(session, data.outcome.opt_out, account,
                                                  attempt, disposition.id, agent.actor)  # fmt: skip
        if data.outcome.account_status is not None:
            account.status = data.outcome.account_status
            audit_append(
                session,
                "account_change",
                {
                    "account_id": account.id,
                    "status": data.outcome.account_status,
                    "by": "disposition",
                },
                actor=agent.actor,
                subject=f"account:{account.id}",
            )
        # Everything above changes what may be dialed and is written in this
        # transaction. The dialer is told only what needs its live state (its
        # commands, dialer/messages.py): take the
        # account out of the hopper and hang up its ringing calls.
        campaign_name = campaign.name if campaign else ""
        if account.status == AccountStatus.cease_contact.value:
            commands.append(StopAccount(account.id, "cease_contact", campaign_name))
        elif data.outcome.effect is Effect.stop_account:
            commands.append(StopAccount(account.id, data.outcome.code, campaign_name))
        session.flush()
        audit_append(
            session, "disposition", payload, actor=agent.actor, subject=f"account:{account.id}"
        )
        counted = DispositionFacts(
            campaign=campaign.name if campaign else "",
            country=account.country,
            region=account.region,
            outcome=data.outcome.code,
            right_party_contact=data.right_party_contact,
            promised=data.promise_amount if data.promise_date is not None else None,
            local_call_time=attempt.started_at.astimezone(zones[0]) if zones else None,
        )
        result = DispositionResult(
            disposition.id,
            account.id,
            campaign.name if campaign else "",
            data.outcome.effect,
            data.outcome.code,
            commands,
            # A call still live leaves the hopper when it ends (the dialer releases it);
            # its lease is not taken from under it.
            # A wrong number too: its queued entry would be claimed only to be blocked;
            # the next refill queues the account again with the numbers left.
            drop_from_hopper=attempt.result is not None
            and (
                hold is not None
                or account.status != AccountStatus.active.value
                or data.outcome.effect is Effect.stop_number
            ),  # fmt: skip
            plan_pending=plan_pending,
            chat=_is_chat(attempt),
        )
    # Committed: only now is it a result (a form refused above counted nothing).
    count_disposition(counted)
    return result


def _record_opt_outs(session: Session, channels: tuple[str, ...], account: Account,
                     attempt: CallAttempt, disposition_id: int, actor: str) -> list[str]:  # fmt: skip
    """The debtor asked the agent to stop these channels: the messages at the number
    called, the e-mail at the account's address; returns the channels stopped."""
    evidence = {"disposition_id": disposition_id, "attempt_id": attempt.id}
    stopped = []
    for channel in channels:
        address = attempt.phone_e164 if channel in ("sms", "whatsapp") else account.email
        if channel == "email" and not address:
            continue  # no e-mail to stop
        ask = functools.partial(record_opt_out, session, channel=channel, source="agent",
                                evidence=evidence, actor=actor, account_id=account.id)  # fmt: skip
        try:
            ask(address=address)
        except OptOutError:
            ask(address=None)  # a number not the account's (an inbound caller): all of them
        stopped.append(channel)
    return stopped


def _limits(
    account: Account, config: dict[str, Any], now: datetime, phone_e164: str | None = None
) -> PromiseLimits:
    """What a promise or a plan on this account may be, in the debtor's today (the
    earliest of their zones', _earliest_day: both ends of a promise and a plan's first
    date count from it, as the portal's and the assistant's do)."""
    today = _earliest_day(account, phone_e164, now)
    return PromiseLimits(
        balance=account.balance,
        today=today,
        earliest=today,
        max_days=campaign_limits.limit(config, "promise_max_days"),
        money=money_format(account.country, account.currency),
        stage=account.stage,
        plan_rules=_plan_rules(config),
        words=spoken_locale(account.country),
    )


def preview_plan(
    engine: Engine,
    agent: CurrentUser,
    attempt_id: int,
    form: dict[str, str],
    now: datetime,
    live_attempt: int | None = None,
    verified_party: str | None = None,
) -> dict[str, Any]:
    """The calculator: the plan these terms give on the agent's call, nothing saved.
    FormErrors lists the rules broken; only for a person verified on this call."""
    with transaction(engine) as session:
        attempt = session.get(CallAttempt, attempt_id)
        if attempt is None or attempt.account_id is None:
            raise PermissionError(attempt_id)
        # Theirs: the row says so, or the dialer gave them this live call (save_disposition).
        live = attempt.agent_id is None and attempt.id == live_attempt
        if not live and attempt.agent_id != agent.id:
            raise PermissionError(attempt_id)
        if verified_party not in VERIFIED_PARTIES:
            raise FormErrors({"plan": N_("Verifique la identidad antes de hablar de un plan.")})
        account = session.get(Account, attempt.account_id)
        assert account is not None
        campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
        limits = _limits(account, campaign_config(campaign), now, attempt.phone_e164)
        errors: dict[str, str] = {}
        fills: dict[str, dict[str, str]] = {}
        plan = plan_from_form(form, limits, errors, fills)
        if plan is None:
            raise FormErrors(errors, fills)
        return plan_view(plan, limits.money, limits.words)


def _plan_rules(config: dict[str, Any]) -> PlanRules:
    """The campaign's plan rules; a campaign whose rules no longer read allows no plan."""
    try:
        return plan_rules_for(config)
    except PlanRulesError:
        return PlanRules(max_instalments=1)


def _callback_instant(local: datetime, zones: tuple[ZoneInfo, ...]) -> datetime | None:
    if not zones:
        return None
    return local.replace(tzinfo=zones[0]).astimezone(UTC)


def add_note(engine: Engine, agent: CurrentUser, account_id: int, text: str, now: datetime) -> None:
    with transaction(engine) as session:
        session.add(Note(account_id=account_id, author_id=agent.id, text=text, created_at=now))


def day_figures(
    engine: Engine, agent_id: int, now: datetime, start: datetime | None = None
) -> dict[str, Any]:
    """The agent's own figures since ``start``: the agent's local midnight, which the
    page sends (console/day_window.py); 00:00 UTC without it. Kept rate: 30 days."""
    if start is None:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with transaction(engine) as session:
        rpc = session.scalar(
            select(func.count(CallAttempt.id)).where(
                CallAttempt.agent_id == agent_id,
                CallAttempt.started_at >= start,
                CallAttempt.right_party_contact.is_(True),
            )
        )
        promised = session.execute(
            select(func.count(Promise.id), func.coalesce(func.sum(Promise.amount), 0)).where(
                Promise.agent_id == agent_id, Promise.created_at >= start
            )
        ).one()
        by_currency = session.execute(
            select(Account.country, Promise.currency, func.sum(Promise.amount))
            .join(Account, Account.id == Promise.account_id)
            .where(Promise.agent_id == agent_id, Promise.created_at >= start)
            .group_by(Account.country, Promise.currency)
            .order_by(Promise.currency, Account.country)
        ).all()
        kept, resolved = session.execute(
            select(
                func.count(Promise.id).filter(Promise.status == "kept"),
                func.count(Promise.id).filter(Promise.status.in_(("kept", "broken"))),
            ).where(Promise.agent_id == agent_id, Promise.created_at >= now - timedelta(days=30))
        ).one()
        talk = session.execute(
            select(CallAttempt.bridged_at, CallAttempt.ended_at).where(
                CallAttempt.agent_id == agent_id,
                CallAttempt.started_at >= start,
                CallAttempt.bridged_at.is_not(None),
                CallAttempt.ended_at.is_not(None),
            )
        ).all()
        talk_seconds = sum(max((e - b).total_seconds(), 0.0) for b, e in talk if b and e)
        calls = session.scalar(
            select(func.count(Disposition.id)).where(
                Disposition.agent_id == agent_id, Disposition.created_at >= start
            )
        )
    return {
        "calls": int(calls or 0),
        "right_party_contacts": int(rpc or 0),
        "promises": int(promised[0] or 0),
        "promised_amount": _money(Decimal(promised[1] or 0)),
        "promised_display": " · ".join(
            money_format(country, currency).show(Decimal(total))
            for country, currency, total in by_currency
        )
        or "—",  # nothing promised: no amount, so no currency to show a zero in
        "kept_rate": (kept / resolved) if resolved else None,
        "talk_seconds": int(talk_seconds),
    }


def my_callbacks(engine: Engine, agent_id: int) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        rows = session.execute(
            select(Callback, Account, Phone.number_e164)
            .join(Account, Account.id == Callback.account_id)
            .outerjoin(Phone, Phone.id == Callback.phone_id)
            .where(Callback.agent_id == agent_id, Callback.status == "pending")
            .order_by(Callback.due_at)
            .limit(50)
        ).all()
        # In the debtor's time, as it was agreed ("11:00" stays 11:00), with its zone.
        return [
            {
                "id": cb.id,
                "account_id": cb.account_id,
                "due_at": cb.due_at.isoformat(timespec="minutes"),
                "due": spoken_locale(account.country).stamp(cb.due_at, _zones(account, number)),
                "name": account.debtor_name,
                "ref": account.external_ref,
            }
            for cb, account, number in rows
        ]


def my_history(engine: Engine, agent_id: int, limit: int = 15) -> list[dict[str, Any]]:
    """The agent's own latest dispositions (their history; nobody else's)."""
    with transaction(engine) as session:
        rows = session.execute(
            select(Disposition, Account, CallAttempt.phone_e164)
            .join(Account, Account.id == Disposition.account_id)
            .outerjoin(CallAttempt, CallAttempt.id == Disposition.attempt_id)
            .where(Disposition.agent_id == agent_id)
            .order_by(Disposition.created_at.desc(), Disposition.id.desc())
            .limit(limit)
        ).all()
        out = []
        for d, account, number in rows:
            outcome = OUTCOMES.get(d.outcome)
            out.append(
                {
                    "at": spoken_locale(account.country).stamp(
                        d.created_at, _zones(account, number)
                    ),
                    "ref": account.external_ref,
                    "name": account.debtor_name,
                    "outcome": gettext_(outcome.label if outcome else N_("Otro resultado")),
                }
            )
        return out


def release_missed_callbacks(engine: Engine, now: datetime) -> int:
    """Personal callbacks past due by more than the grace go to anyone in the campaign.

    The row stays ``pending`` (the dialer's refill takes pending, due callbacks)
    with no agent; the miss itself is recorded in the audit chain.
    """
    with transaction(engine) as session:
        rows = session.scalars(
            select(Callback).where(
                and_(
                    Callback.status == "pending",
                    Callback.agent_id.is_not(None),
                    Callback.due_at < now - MISSED_CALLBACK_GRACE,
                )
            )
        ).all()
        for cb in rows:
            audit_append(
                session,
                "callback",
                {"callback_id": cb.id, "action": "missed_released", "agent_id": cb.agent_id},
                subject=f"account:{cb.account_id}",
            )
            cb.agent_id = None
        return len(rows)


def party_choices() -> list[tuple[str, str]]:
    return [(p.value, gettext_(label)) for p, label in PARTY_LABELS.items()]


def outcome_choices() -> list[dict[str, Any]]:
    return [
        {
            "code": o.code,
            "label": gettext_(o.label),
            "parties": sorted(p.value for p in o.parties),
            "effect": o.effect.value,
            "promise": o.needs_promise,
            "plan": o.needs_plan,
            "callback": o.needs_callback,
        }
        for o in OUTCOMES.values()
    ]


def account_exists(engine: Engine, account_id: int) -> bool:
    with transaction(engine) as session:
        return session.get(Account, account_id) is not None


def attempt_account(engine: Engine, attempt_id: int) -> int | None:
    with transaction(engine) as session:
        return session.scalar(select(CallAttempt.account_id).where(CallAttempt.id == attempt_id))
