"""A handed-over chat from a number that names no single account (several accounts
share it, or none has it): the accounts it may be about, the campaign that routes it,
the agent's names-only pop, attaching it to the one account the debtor proves to be
theirs, and closing it without an account. Synchronous; handlers run it in a thread.

The rule is the inbound call's (console/inbound_service.py): names and masked
references only until the agent verifies the debtor's answers; each view of names,
each check and each attachment or closure is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from console.i18n import N_, gettext_
from console.inbound_service import InboundError, build_inbound_pop
from console.users import CurrentUser
from dialer.messages import InboundPop
from selfservice import conversations as conv
from store.audit import append as audit_append
from store.db import transaction
from store.models import (
    PHONE_CHANNELS,
    Account,
    CallAttempt,
    Campaign,
    Conversation,
    Phone,
    matchable_phone,
)

MAX_CANDIDATES = 10  # a number shared by more accounts shows these, then the search
ATTACH_URL = "/api/agent/chat/attach"
# The one refusal of a chat id that is missing or another agent's (here and in
# console/chat_views.py): the answer does not tell an agent which ids exist.
NO_SUCH_CHAT = N_("Esa conversación no existe o no es suya.")
# How an agent closes a chat that names no account: none of them is about a debt, so
# none needs an account (the dispositions of console/dispositions.py all do).
CLOSINGS = {
    "no_identificado": N_("No se pudo identificar al deudor"),
    "no_es_deudor": N_("No es deudor / número equivocado"),
    "sin_respuesta": N_("El deudor dejó de responder"),
    "informacion": N_("Solo pidió información"),
}


@dataclass(frozen=True)
class Route:
    """Where an unattached chat goes: the candidates' campaign when they all share one
    (its inbound skill group first), else any ready agent."""

    candidates: tuple[int, ...]
    campaign_id: int | None
    campaign: str
    skill_group: str | None


def candidate_ids(s: Session, c: Conversation) -> list[int]:
    """The accounts of the number the debtor writes from (a wrong number or a third
    party's excluded)."""
    if c.channel not in PHONE_CHANNELS:
        return []
    ids = s.scalars(
        select(Phone.account_id)
        .where(Phone.number_e164 == c.address, matchable_phone(c.address))
        .distinct()
        .order_by(Phone.account_id)
        .limit(MAX_CANDIDATES)
    )  # fmt: skip
    return list(ids)


def route_of(s: Session, c: Conversation) -> Route:
    ids = candidate_ids(s, c)
    campaign_ids = set(s.scalars(select(Account.campaign_id).where(Account.id.in_(ids)))) \
        if ids else set()  # fmt: skip
    campaign_id = c.campaign_id
    if campaign_id is None and len(campaign_ids) == 1:
        campaign_id = next(iter(campaign_ids))
    campaign = s.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        return Route(tuple(ids), None, "", None)
    inbound = (campaign.config or {}).get("inbound")
    group = inbound.get("skill_group") if isinstance(inbound, dict) else None
    return Route(tuple(ids), campaign.id, campaign.name, str(group) if group else None)


def _unattached(s: Session, attempt_id: int, agent_id: int) -> Conversation:
    c = conv.of_attempt(s, attempt_id)
    if c is None or c.agent_id != agent_id:  # one answer: ids cannot be probed
        raise InboundError(gettext_(NO_SUCH_CHAT), 404)
    if c.state != "agent":
        raise InboundError(gettext_("La conversación ya terminó."), 409)
    if c.account_id is not None:
        raise InboundError(gettext_("La conversación ya tiene una cuenta; tipifíquela."), 409)
    return c


def build_chat_pop(engine: Engine, message: dict[str, Any], agent: CurrentUser | None,
                   now: datetime, key: bytes | None = None) -> dict[str, Any]:  # fmt: skip
    """The names-only pop of an unattached chat: the inbound call's (candidates by name
    and masked reference, the campaign's verification prompts, a search), audited as
    a view of names (`chat_pop`), with where to verify and how to close it."""
    pop = build_inbound_pop(engine, message, agent, now, page="chat_pop", key=key)
    pop.update(
        direction="chat",
        label=gettext_("Conversación sin cuenta"),
        verify_url=ATTACH_URL,
        recording=None,  # nothing to record: it is written
        closings=[{"code": k, "label": gettext_(v)} for k, v in CLOSINGS.items()],
    )
    return pop


def pending_chat_pop(engine: Engine, agent: CurrentUser, now: datetime,
                     key: bytes | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The names-only pop of the unattached chat the agent has open, built again from
    SQL (the conversation is theirs, in state `agent`, with no account): a page reloaded
    during the pop shows it again, as an account's pop comes back; None without one.
    Audited as another view of the names."""
    with transaction(engine) as s:
        c = s.scalars(
            select(Conversation)
            .where(Conversation.agent_id == agent.id, Conversation.state == "agent",
                   Conversation.account_id.is_(None), Conversation.attempt_id.is_not(None))
            .order_by(Conversation.id.desc())
            .limit(1)
        ).first()  # fmt: skip
        if c is None or c.attempt_id is None:
            return None
        route = route_of(s, c)
        row = s.get(CallAttempt, c.attempt_id)
        waited = 0.0
        if row is not None and row.queued_at is not None and row.answered_at is not None:
            waited = round((row.answered_at - row.queued_at).total_seconds(), 1)
        message = InboundPop(c.attempt_id, agent.id, route.campaign, "ok", route.candidates,
                             None, (), waited, now.timestamp(), direction="chat")  # fmt: skip
    return build_chat_pop(engine, message.to_dict(), agent, now, key)


def candidates_of_attempt(engine: Engine, attempt_id: int) -> list[int]:
    """The accounts the agent may attach the chat to (besides those found by search)."""
    with transaction(engine) as s:
        c = conv.of_attempt(s, attempt_id)
        return candidate_ids(s, c) if c is not None else []


def check_unattached(engine: Engine, agent: CurrentUser, attempt_id: int) -> None:
    """InboundError unless the agent has this chat, open and with no account."""
    with transaction(engine) as s:
        _unattached(s, attempt_id, agent.id)


def attach(engine: Engine, agent: CurrentUser, attempt_id: int, account_id: int,
           now: datetime) -> None:  # fmt: skip
    """The chat is about this account from now on (the debtor's answers matched it:
    inbound_service.verify_identity tied the agent's ledger row already)."""
    with transaction(engine) as s:
        c = _unattached(s, attempt_id, agent.id)
        account = s.get(Account, account_id)
        if account is None:
            raise InboundError(gettext_("La cuenta no existe."), 404)
        c.account_id = account.id
        if c.campaign_id is None:
            c.campaign_id = account.campaign_id
        audit_append(s, "chat_attached",
                     {"conversation_id": c.id, "attempt_id": attempt_id, "account_id": account.id,
                      "channel": c.channel},
                     actor=agent.actor, subject=f"account:{account.id}", now=now)  # fmt: skip


def close_unattached(engine: Engine, agent: CurrentUser, attempt_id: int, closing: str,
                     now: datetime) -> None:  # fmt: skip
    """The agent ends a chat that names no account, with one of CLOSINGS."""
    if closing not in CLOSINGS:
        raise InboundError(gettext_("Elija cómo termina la conversación."), 400)
    with transaction(engine) as s:
        c = _unattached(s, attempt_id, agent.id)
        conv.close(s, c, "agent", now)
        row = s.get(CallAttempt, attempt_id)
        if row is not None:
            row.ended_at = row.ended_at or now
            row.details = {**(row.details or {}), "closing": closing}
        audit_append(s, "chat_closed",
                     {"conversation_id": c.id, "attempt_id": attempt_id, "closing": closing,
                      "channel": c.channel},
                     actor=agent.actor, subject=f"conversation:{c.id}", now=now)  # fmt: skip
