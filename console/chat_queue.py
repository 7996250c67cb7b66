"""The chat queue for agents: conversations handed over by the assistant go to a ready
agent the way inbound calls do (dialer/inbound/routing.py: the campaign's skill group
first, longest idle first; anyone ready once it waited past the overflow), blended
with calls: the agent is reserved atomically in Redis (only a ready agent can be), so
the dialer gives them no call meanwhile, and the chat is popped like a call.

A chat from a number that names no single account is routed too: to the campaign of
its candidate accounts when they share one, else to any ready agent, who gets a
names-only pop (console/chat_unattached.py) and attaches it to the account the debtor
proves to be theirs, or closes it without one.

Each handed-over chat gets its own row in the contact ledger (a debtor-initiated
contact on the chat's channel, direction inbound: never an attempt for the caps), the
one the agent's disposition names; a dispositioned chat is closed. SQL is the truth:
the claim is a compare-and-set on the conversation, so several console processes
may route at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from console import chat_unattached as unattached
from console.agent_service import CHAT_LEDGER_SOURCE
from console.keys import CHAT, CLOCK, ENGINE, REDIS, SETTINGS, STATES
from console.payment_webhook_views import payment_provider
from dialer.agent_state import AgentState, AgentStates
from dialer.inbound.routing import ReadyAgent, candidates
from dialer.inbound.skills import memberships
from dialer.messages import InboundPop, Notifier, Pop
from selfservice import conversations as conv
from selfservice.chat_setup import build_chat
from store.audit import append as audit_append
from store.db import transaction
from store.models import (
    PHONE_CHANNELS,
    Account,
    AttemptResult,
    CallAttempt,
    Campaign,
    Conversation,
    Disposition,
)

log = logging.getLogger(__name__)

ROUTE_EVERY_SECONDS = 1.0
# A chat waits this long for its own skill group's (or campaign's) agents, then goes
# to any ready agent.
OVERFLOW_SECONDS = 120.0
LEDGER_SOURCE = CHAT_LEDGER_SOURCE  # the agent's row of a chat (build_pop reads it too)
CHAT_DIRECTION = "chat"  # the pop's direction: the page shows the transcript


@dataclass(frozen=True)
class Waiting:
    item: conv.Queued
    account_id: int | None  # None: the number names no single account
    campaign: str  # "" when none routes it: any ready agent
    campaign_id: int | None = None
    skill_group: str | None = None
    candidates: tuple[int, ...] = ()  # the accounts an unattached chat may be about

    @property
    def overflow_after(self) -> float:
        """A chat no campaign routes goes to any ready agent at once (the inbound rule)."""
        return OVERFLOW_SECONDS if self.campaign else 0.0


def waiting_chats(engine: Engine) -> list[Waiting]:
    """The queue, longest waiting first."""
    with Session(engine) as s:
        out = []
        for item in conv.queued(s):
            if item.account_id is None:
                c = s.get(Conversation, item.conversation_id)
                if c is None:
                    continue
                route = unattached.route_of(s, c)
                out.append(Waiting(item, None, route.campaign, route.campaign_id,
                                   item.skill_group or route.skill_group, route.candidates))  # fmt: skip
                continue
            account = s.get(Account, item.account_id)
            if account is None:
                continue
            campaign_id = item.campaign_id or account.campaign_id
            campaign = s.get(Campaign, campaign_id) if campaign_id is not None else None
            out.append(Waiting(item, account.id, campaign.name if campaign else "", campaign_id,
                               item.skill_group))  # fmt: skip
        return out


def campaign_names(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(select(Campaign.name).order_by(Campaign.name)))


def chat_attempts(engine: Engine, attempt_ids: Iterable[int]) -> set[int]:
    """Which of these agents' ledger rows are chats given by this queue (an agent "En
    chat" has no call to listen to; the wallboard says which)."""
    ids = sorted({i for i in attempt_ids if i})[:1000]
    if not ids:
        return set()
    with transaction(engine) as s:
        return set(s.scalars(select(CallAttempt.id).where(CallAttempt.id.in_(ids),
                                                          CallAttempt.source == LEDGER_SOURCE)))  # fmt: skip


def assign(engine: Engine, waiting: Waiting, agent_id: int, now: datetime) -> int | None:
    """Gives the chat to the agent in SQL: the conversation claimed and the agent's
    ledger row written. The row's id, or None when another process took the chat."""
    with transaction(engine) as s:
        if not conv.claim(s, waiting.item.conversation_id, agent_id, now):
            return None
        c = s.get(Conversation, waiting.item.conversation_id)
        assert c is not None
        s.refresh(c)
        phone = c.address if c.channel in PHONE_CHANNELS else None
        row = CallAttempt(
            account_id=waiting.account_id, phone_e164=phone,
            # The candidates' campaign for an unattached chat: its verification prompts.
            campaign_id=c.campaign_id or waiting.campaign_id,
            agent_id=agent_id, direction="inbound", source=LEDGER_SOURCE, channel=c.channel,
            started_at=c.queued_at or now, queued_at=c.queued_at, answered_at=now,
            bridged_at=now, right_party_contact=False,
            # Answered from the start: an open inbound row (result NULL) would be closed
            # as lost by the dialers' inbound housekeeping.
            result=AttemptResult.contact.value,
            details={"debtor_action": "chat_agent", "conversation_id": c.id,
                     "handover": c.handover_reason},
        )  # fmt: skip
        s.add(row)
        s.flush()
        c.attempt_id = row.id
        audit_append(s, "chat_assigned",
                     {"conversation_id": c.id, "attempt_id": row.id, "agent_id": agent_id,
                      "account_id": waiting.account_id, "channel": c.channel,
                      "waited_seconds": round((now - (c.queued_at or now)).total_seconds(), 1)},
                     actor="console", now=now,
                     subject=f"account:{waiting.account_id}" if waiting.account_id
                     else f"conversation:{c.id}")  # fmt: skip
        return int(row.id)


def unassign(engine: Engine, conversation_id: int, attempt_id: int, now: datetime) -> None:
    """The agent could not be reserved after all: the chat back in the queue, the row
    closed as never placed (no contact, no attempt)."""
    with transaction(engine) as s:
        conv.requeue(s, conversation_id)
        row = s.get(CallAttempt, attempt_id)
        if row is not None:
            row.agent_id, row.result, row.ended_at = None, "not_placed", now


def close_dispositioned(engine: Engine, now: datetime) -> int:
    """Chats whose agent recorded the disposition are over."""
    with transaction(engine) as s:
        done = list(
            s.scalars(
                select(Conversation)
                .join(Disposition, Disposition.attempt_id == Conversation.attempt_id)
                .where(Conversation.state == "agent")
                .limit(conv.MAX_QUEUE_READ)
            )
        )
        for c in done:
            conv.close(s, c, "agent", now)
            row = s.get(CallAttempt, c.attempt_id) if c.attempt_id else None
            if row is not None and row.ended_at is None:
                row.ended_at = now
        return len(done)


async def route_chats(engine: Engine, states: AgentStates, notifier: Notifier,
                      now: datetime) -> int:  # fmt: skip
    """One routing pass: each waiting chat to the first agent who can be reserved.
    Returns how many were given."""
    queue = await asyncio.to_thread(waiting_chats, engine)
    if not queue:
        return 0
    skills = await asyncio.to_thread(memberships, engine)
    ready: list[ReadyAgent] = []
    for name in await asyncio.to_thread(campaign_names, engine):
        for snap in await states.list(name):
            if snap.state is AgentState.ready:
                ready.append(ReadyAgent(snap.agent_id, snap.campaign, snap.since,
                                        skills.get(snap.agent_id, frozenset())))  # fmt: skip
    given = 0
    for waiting in queue:
        if not ready:
            break
        waited = (now - waiting.item.queued_at).total_seconds()
        for agent_id in candidates(ready, waiting.campaign, waiting.skill_group, waited,
                                   waiting.overflow_after):  # fmt: skip
            attempt_id = await asyncio.to_thread(assign, engine, waiting, agent_id, now)
            if attempt_id is None:
                break  # another console process gave it first
            if await states.reserve(agent_id, attempt_id):
                await states.talking(agent_id, attempt_id)
                ready = [a for a in ready if a.agent_id != agent_id]
                await notifier.send(_pop(waiting, attempt_id, agent_id, waited))
                given += 1
                log.info("chat %s given to agent %s", waiting.item.conversation_id, agent_id)
                break
            # Not ready any more (a call reserved them first): the chat waits again.
            await asyncio.to_thread(unassign, engine, waiting.item.conversation_id, attempt_id,
                                    now)  # fmt: skip
            ready = [a for a in ready if a.agent_id != agent_id]
    return given


def _pop(waiting: Waiting, attempt_id: int, agent_id: int, waited: float) -> Pop | InboundPop:
    """The account's pop; names only (as an inbound caller's) when it names no account."""
    if waiting.account_id is not None:
        return Pop(attempt_id, agent_id, waiting.account_id, waiting.campaign, time.time(),
                   direction=CHAT_DIRECTION)  # fmt: skip
    return InboundPop(attempt_id, agent_id, waiting.campaign, "ok", waiting.candidates, None, (),
                      round(waited, 1), time.time(), direction=CHAT_DIRECTION)  # fmt: skip


async def chat_routing_ctx(app: web.Application) -> AsyncIterator[None]:
    """The console's routing loop: chats to ready agents, dispositioned chats closed."""
    clock: Callable[[], datetime] = app[CLOCK]

    async def loop() -> None:
        notifier = Notifier(app[REDIS])
        while True:
            try:
                await asyncio.to_thread(close_dispositioned, app[ENGINE], clock())
                await route_chats(app[ENGINE], app[STATES], notifier, clock())
            except Exception:  # keep routing alive; the next round retries
                log.exception("chat routing failed")
            await asyncio.sleep(ROUTE_EVERY_SECONDS)

    task = asyncio.create_task(loop(), name="console-chat-routing")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def chat_service_ctx(app: web.Application) -> AsyncIterator[None]:
    """The chat the portal's chat box talks to: the assistant and the debtor actions;
    its replies are shown in the portal (SMS and WhatsApp are the outreach process's).
    Its payment links go through the console's payment gateway, if one is configured."""
    app[CHAT].service = build_chat(app[SETTINGS], app[ENGINE], app[REDIS],
                                   payments=lambda: payment_provider(app))  # fmt: skip
    yield
    app[CHAT].service = None
