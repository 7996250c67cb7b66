"""What the agent page reads and writes for an inbound call: the "llamada entrante"
pop (names only until identity is verified), the identity check, the search.
Synchronous; handlers run it in a thread. Every view of personal data is audited.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from console import verify_lock, verify_tries
from console.agent_service import build_pop, campaign_config, recording_facts
from console.document_proof import document_matcher
from console.i18n import N_, gettext_
from console.identity import (
    DOCUMENT_PROMPT,
    PROMPT_LABELS,
    chose_questions,
    failed_prompts,
    masked_ref,
)
from console.users import CurrentUser
from dialer.inbound.ani import normalise_ani
from dialer.inbound.settings import DEFAULT_VERIFICATION, VERIFICATIONS
from dialer.messages import InboundPop
from store.audit import append as audit_append
from store.db import transaction
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Campaign,
    Phone,
    PhoneStatus,
    matchable_phone,
)

SEARCH_LIMIT = 10
SEARCH_PAGE = "inbound_search"  # the pii_view of a search: its results and how found
# Searches on one call or chat: a caller spells a reference or a number a few times; an
# agent who could search without end on a call of their own (the inbound number
# dialled from their mobile) read the names of every account, reference by reference.
# Counted from the searches' audit entries in SQL (`search_accounts`).
MAX_SEARCHES = 10
TOO_MANY_SEARCHES = N_("Se alcanzó el límite de búsquedas de este contacto.")
# The views of one call read back for its searches: ten searches (MAX_SEARCHES) and a
# few pops; past this, the later searches' finds are not allowed, and no more searches.
MAX_VIEWS_READ = 200
ANI_LABELS = {
    "ok": N_("Número identificado"),
    "foreign": N_("Número de otro país"),
    "withheld": N_("Número oculto"),
    "invalid": N_("Número no válido"),
}
# The one refusal of an inbound call id that is missing or not the agent's (load_call).
NO_SUCH_INBOUND = N_("Esa llamada entrante no existe o no es suya.")
REFERENCE_PROMPT = "account_last4"  # the last digits of the reference (console/identity.py)
NAME_PROMPT = "full_name"


class InboundError(ValueError):
    """Something the agent can fix or must know; the message is for the agent."""

    def __init__(self, message: str, status: int = 422, *, wrong_answers: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.wrong_answers = wrong_answers  # the identity answers did not match (a spent try)


@dataclass(frozen=True)
class InboundCall:
    attempt_id: int
    campaign_id: int | None
    account_id: int | None
    phone_e164: str
    verification: tuple[str, ...]
    chosen: bool  # the campaign set its questions (`chose_questions`)


def _verification(config: dict[str, Any]) -> tuple[str, ...]:
    raw = (config.get("inbound") or {}).get("verification", DEFAULT_VERIFICATION)
    return tuple(v for v in raw if v in VERIFICATIONS) or DEFAULT_VERIFICATION


def proof_prompts(prompts: tuple[str, ...], named_by_reference: bool,
                  has_document: bool = False, chosen: bool = True) -> tuple[str, ...]:  # fmt: skip
    """The questions that prove the caller is the account's debtor. The default question
    (the reference's last 4 digits, printed on every letter and SMS) gives way to the
    last 4 digits of the debtor's document when the portal's identity is on file
    (`has_document`) and the campaign did not choose its questions (`chosen`). An
    account found by the reference the caller gave is not proven by that reference's
    last 4 digits (the caller has just said them): its campaign's other questions; when
    those are none or only the full name (printed on the same letter), the document's
    digits if on file, else the full name."""
    if has_document and not chosen:
        return (DOCUMENT_PROMPT,)
    if not named_by_reference:
        return prompts
    others = tuple(p for p in prompts if p != REFERENCE_PROMPT)
    if has_document and all(p == NAME_PROMPT for p in others):
        return (DOCUMENT_PROMPT,)
    return others or (NAME_PROMPT,)


def _labelled(prompts: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"code": p, "label": gettext_(PROMPT_LABELS[p])} for p in prompts]


def load_call(engine: Engine, attempt_id: int, agent_id: int,
              live_attempt: int | None) -> InboundCall:  # fmt: skip
    """The inbound call (or chat) this agent is on now; InboundError otherwise.

    `live_attempt` is the call the agent's Redis state names (reserved, talking or
    wrapping up: console/agent_views._live_attempt): the dialer reserves the agent on
    the attempt before it writes the agent on the row (records.mark_bridged), and a
    chat's row names its agent from the start. An inbound row with no agent written is
    a caller still queued, a call just given to someone, or a debtor's own action in a
    ledger: nobody's call to search or verify on; nor is the agent's own call once
    they are on another (search shows names of any account by reference)."""
    with transaction(engine) as s:
        attempt = s.get(CallAttempt, attempt_id)
        # An inbound call always has the caller's number (phone channels carry one).
        # Missing, not inbound, another agent's or not live: one answer, so that an
        # agent cannot learn from it which attempt ids exist.
        if (
            attempt is None
            or attempt.direction != "inbound"
            or attempt.phone_e164 is None
            or attempt.id != live_attempt
            or attempt.agent_id not in (None, agent_id)
        ):
            raise InboundError(gettext_(NO_SUCH_INBOUND), 404)
        campaign = s.get(Campaign, attempt.campaign_id) if attempt.campaign_id else None
        config = campaign_config(campaign)
        return InboundCall(attempt.id, attempt.campaign_id, attempt.account_id,
                           attempt.phone_e164, _verification(config),
                           chose_questions(config))  # fmt: skip


def _candidate(account: Account) -> dict[str, Any]:
    """What an agent sees before identity is verified: the name and a masked reference."""
    return {"account_id": account.id, "name": account.debtor_name,
            "ref": masked_ref(account.external_ref)}  # fmt: skip


def build_inbound_pop(engine: Engine, message: dict[str, Any], agent: CurrentUser | None,
                      now: datetime, page: str = "inbound_pop",
                      key: bytes | None = None) -> dict[str, Any]:  # fmt: skip
    """The pop of an inbound call: candidates (names only, each with the questions that
    prove it, `proof_prompts`), prompts, or a search. `page` names the view in the audit
    log (an unattached chat's pop is built here too); `key`: the portal's identity key
    (`document_key`)."""
    ids = [int(a) for a in message.get("account_ids") or []]
    attempt_id = int(message["attempt_id"])
    with transaction(engine) as s:
        accounts = list(s.scalars(select(Account).where(Account.id.in_(ids)).order_by(Account.id))) \
            if ids else []  # fmt: skip
        attempt = s.get(CallAttempt, attempt_id)
        campaign = s.get(Campaign, attempt.campaign_id) if attempt and attempt.campaign_id else None
        config = campaign_config(campaign)
        prompts = _verification(config)
        chosen = chose_questions(config)
        if accounts:
            audit_append(
                s, "pii_view",
                {"page": page, "attempt_id": attempt_id,
                 "account_ids": [a.id for a in accounts], "fields": ["name"]},
                actor=agent.actor if agent else "system", subject=f"attempt:{attempt_id}",
            )  # fmt: skip
    status = str(message.get("ani_status", "invalid"))
    return {
        "type": InboundPop.TYPE,
        "direction": "inbound",
        "label": gettext_("Llamada entrante"),
        "attempt_id": attempt_id,
        "campaign": campaign.name if campaign else message.get("campaign", ""),
        "ani_status": status,
        "ani_label": gettext_(ANI_LABELS.get(status, ANI_LABELS["invalid"])),
        "candidates": [
            {
                **_candidate(a),
                "prompts": _labelled(
                    proof_prompts(prompts, False, document_matcher(key, a) is not None, chosen)
                ),
            }
            for a in accounts
        ],  # fmt: skip
        "search": not accounts,
        "prompts": _labelled(prompts),
        "waited_seconds": message.get("waited_seconds"),
        # on_demand: the agent may record before (or without) opening an account.
        "recording": recording_facts(
            campaign, campaign_config(campaign), campaign.country if campaign else ""
        ),
    }


def verify_identity(engine: Engine, agent: CurrentUser, attempt_id: int, account_id: int,
                    answers: dict[str, str], now: datetime, allowed_accounts: list[int] | None,
                    live_attempt: int | None, named_by_reference: Collection[int] = (),
                    key: bytes | None = None,
                    too_many: str = verify_tries.TOO_MANY_ON_CALL) -> dict[str, Any]:  # fmt: skip
    """The caller's answers against the account's data; on success the call is tied to
    the account and the full pop is returned (audited as a pii_view).
    `named_by_reference`: accounts found on this call by the reference the caller gave
    (their questions are `proof_prompts`'); `key`: the portal's identity key
    (`document_key`), which checks the document's digits. Past the call's wrong answers
    (console/verify_tries.py) nothing is compared: 429 with `too_many`."""
    call = load_call(engine, attempt_id, agent.id, live_attempt)
    if call.account_id is not None and call.account_id != account_id:
        raise InboundError(gettext_("Esta cuenta no le fue asignada."), 403)
    if allowed_accounts is not None and account_id not in allowed_accounts:
        raise InboundError(gettext_("Esta cuenta no le fue asignada."), 403)
    with transaction(engine) as s:
        account = s.get(Account, account_id)
        if account is None:
            raise InboundError(gettext_("La cuenta no existe."), 404)
        # The call's own three wrong answers, its row held before the account's.
        try:
            tries = verify_tries.take(s, attempt_id, now)
        except verify_tries.Spent:
            raise InboundError(gettext_(too_many), 429) from None
        document = document_matcher(key, account)
        prompts = proof_prompts(call.verification, account_id in named_by_reference,
                                document is not None, call.chosen)  # fmt: skip
        # The account's wrong answers over every call and chat (the document's with the
        # portal's), its row held until this check is counted (console/verify_lock.py):
        # a locked account is not checked.
        gate = verify_lock.take(s, account_id, now, DOCUMENT_PROMPT in prompts)
        failed = (
            failed_prompts(prompts, answers, account.external_ref, account.debtor_name,
                           account.custom_fields, document)
            if gate is not None else []
        )  # fmt: skip
        passed = gate is not None and not failed
        audit_append(
            s, "identity_check",
            {"attempt_id": attempt_id, "account_id": account_id, "prompts": list(prompts),
             "passed": passed, "failed": failed,
             **({"refused": "account_locked"} if gate is None else {})},
            actor=agent.actor, subject=f"account:{account_id}",
        )  # fmt: skip
        if gate is not None:
            verify_tries.record(tries, passed)
            verify_lock.record(s, gate, account, passed, now, agent.actor, prompts)
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None
        if passed:
            _tie(s, attempt, account_id, agent.id)
    if gate is None:  # refused before any answer was compared: no try spent on the call
        raise InboundError(gettext_(verify_lock.LOCKED), 423)
    if failed:  # the failed check is evidence too: committed above, refused here
        raise InboundError(gettext_("Los datos no coinciden; no se muestra la cuenta."),
                           wrong_answers=True)  # fmt: skip
    pop = build_pop(engine, account_id, attempt_id, agent, now, "inbound_verified",
                    verified_party="titular", key=key)  # fmt: skip
    assert pop is not None
    pop["direction"] = "inbound"
    pop["label"] = gettext_("Llamada entrante")
    return pop


def _tie(s: Any, attempt: CallAttempt, account_id: int, agent_id: int) -> None:
    """The verified caller's account becomes the attempt's (dispositions, caps)."""
    if attempt.account_id is None:
        attempt.account_id = account_id
        phone = s.scalar(select(Phone).where(Phone.account_id == account_id,
                                             Phone.number_e164 == attempt.phone_e164))  # fmt: skip
        attempt.phone_id = phone.id if phone else None
    attempt.agent_id = agent_id


def search_accounts(engine: Engine, agent: CurrentUser, attempt_id: int, query: str,
                    country: str, live_attempt: int | None,
                    key: bytes | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Accounts by exact reference or phone number (names and masked references only),
    each with the questions that prove the caller is its debtor (`proof_prompts`) and
    `by_reference`: found by the reference typed."""
    call = load_call(engine, attempt_id, agent.id, live_attempt)
    text = query.strip()
    if len(text) < 4:
        raise InboundError(gettext_("Escriba al menos 4 caracteres."))
    ani = normalise_ani(text, country)
    with transaction(engine) as s:
        # The call's searches counted from their audit entries, the call's row held so
        # that parallel searches are counted one after the other: a Redis counter let
        # a flush or an eviction allow ten more.
        _hold_call(s, attempt_id)
        searches, complete = _search_entries(s, attempt_id)
        if not complete or len(searches) >= MAX_SEARCHES:
            raise InboundError(gettext_(TOO_MANY_SEARCHES), 429)
        conditions = [Account.external_ref == text]
        if ani.e164:
            phones = select(Phone.account_id).where(
                Phone.number_e164 == ani.e164, matchable_phone(ani.e164)
            )
            conditions.append(Account.id.in_(phones))
        rows = list(s.scalars(select(Account).where(or_(*conditions)).order_by(Account.id)
                              .limit(SEARCH_LIMIT)))  # fmt: skip
        # The evidence of the search is also the call's record of what it found and how
        # (searched_accounts): durable, where a Redis set could be evicted.
        audit_append(
            s, "pii_view",
            {"page": SEARCH_PAGE, "attempt_id": attempt_id,
             "by": "phone" if ani.e164 else "reference", "results": [a.id for a in rows],
             "by_reference": [a.id for a in rows if a.external_ref == text],
             "fields": ["name"]},
            actor=agent.actor, subject=f"attempt:{attempt_id}",
        )  # fmt: skip
    found = []
    for a in rows:
        by_reference = a.external_ref == text
        has_document = document_matcher(key, a) is not None
        prompts = proof_prompts(call.verification, by_reference, has_document, call.chosen)
        found.append({**_candidate(a), "prompts": _labelled(prompts), "by_reference": by_reference})
    return found


def _hold_call(s: Session, attempt_id: int) -> None:
    """The call's row locked for this transaction (PostgreSQL: FOR UPDATE; SQLite: the
    write lock an update takes, as selfservice.identity.gate_row's insert does)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(CallAttempt.id).where(CallAttempt.id == attempt_id).with_for_update())
    else:
        s.execute(update(CallAttempt).where(CallAttempt.id == attempt_id)
                  .values(id=CallAttempt.id))  # fmt: skip


def _search_entries(s: Session, attempt_id: int) -> tuple[list[dict[str, Any]], bool]:
    """The audit entries of this call's searches (pii_view of page SEARCH_PAGE), in
    order, and whether every view of the call was read (MAX_VIEWS_READ)."""
    payloads = list(s.scalars(
        select(AuditEntry.payload)
        .where(AuditEntry.kind == "pii_view", AuditEntry.subject == f"attempt:{attempt_id}")
        .order_by(AuditEntry.id)
        .limit(MAX_VIEWS_READ)
    ))  # fmt: skip
    entries = []
    for raw in payloads:
        try:
            entry = json.loads(raw or "{}")
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("page") == SEARCH_PAGE:
            entries.append(entry)
    return entries, len(payloads) < MAX_VIEWS_READ


def searched_accounts(engine: Engine, attempt_id: int) -> tuple[set[int], set[int]]:
    """The accounts found by search on this call or chat (they may be verified), and
    those among them found by the reference typed (`proof_prompts`: its last digits
    prove nothing), read from the searches' audit entries in SQL: two Redis sets lost
    apart (an eviction under memory pressure) left the account found by reference
    among the found ones but no longer named, and its last 4 digits proved it again.
    An entry that does not say which results came by reference (written before it
    did) names them all: fail closed."""
    with transaction(engine) as s:
        entries, _ = _search_entries(s, attempt_id)
    found: set[int] = set()
    named: set[int] = set()
    for entry in entries:
        results = {a for a in entry.get("results") or [] if isinstance(a, int)}
        by_reference = entry.get("by_reference")
        found |= results
        named |= results if not isinstance(by_reference, list) else results & set(by_reference)
    return found, named


def pending_inbound_pop(engine: Engine, agent: CurrentUser, attempt_id: int, now: datetime,
                        key: bytes | None = None,
                        unverified: bool = False) -> dict[str, Any] | None:  # fmt: skip
    """The names-only pop of the inbound call the agent is on, built again from SQL (a
    page reloaded during it: the caller is still there and the agent must see whom the
    number matches); None unless the call is theirs, inbound, not over and tied to no
    account yet, or (`unverified`: the caller knows no party is verified on it) tied by
    the dialer to the one account its number names. Audited as another view of the
    names."""
    with transaction(engine) as s:
        call = s.get(CallAttempt, attempt_id)
        if (call is None or call.direction != "inbound" or call.source != "inbound"
                or (call.account_id is not None and not unverified)
                or call.ended_at is not None or call.agent_id != agent.id):  # fmt: skip
            return None
        # How the dialer read the caller's number is written only in its evidence.
        payload = s.scalar(
            select(AuditEntry.payload)
            .where(AuditEntry.kind == "inbound_call", AuditEntry.subject == f"attempt:{attempt_id}")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )  # fmt: skip
        waited = None
        if call.queued_at is not None and call.bridged_at is not None:
            waited = round((call.bridged_at - call.queued_at).total_seconds(), 1)
    try:
        status = str(json.loads(payload or "{}").get("ani_status", "invalid"))
    except (ValueError, AttributeError):
        status = "invalid"
    message = {"attempt_id": attempt_id, "account_ids": attempt_accounts(engine, attempt_id),
               "ani_status": status, "waited_seconds": waited}  # fmt: skip
    return build_inbound_pop(engine, message, agent, now, key=key)


def attempt_accounts(engine: Engine, attempt_id: int) -> list[int]:
    """Accounts of the caller's number (the pop's candidates), for the verify check."""
    with transaction(engine) as s:
        attempt = s.get(CallAttempt, attempt_id)
        if attempt is None or not attempt.phone_e164:
            return []
        return list(s.scalars(select(Phone.account_id).where(
            Phone.number_e164 == attempt.phone_e164,
            Phone.status != PhoneStatus.wrong_number.value)))  # fmt: skip


def campaign_country(engine: Engine, campaign_id: int | None) -> str:
    """The country whose numbering plan reads a national number typed in a search."""
    with transaction(engine) as s:
        campaign = s.get(Campaign, campaign_id) if campaign_id else None
        return campaign.country if campaign else "MX"
