"""Sends the chat's replies that wait in SQL (status `pending`: the assistant's, an
agent's) over the conversation's SMS or WhatsApp channel, each through the final
check first. Runs where the message channels run (the outreach process); the console
only writes the reply.

The check is compliance's rules for the channel at that instant (hours and days in the
debtor's time, account status and legal stage, consent and authorised channels,
opt-outs, registries), recorded as a decision with its audit entry. The caps are left
out: a reply answers the debtor's own message, so it counts as no attempt of ours, and
its ledger row is part of the debtor-initiated contact (direction inbound). A reply
the check refuses is `held` with the reasons, never sent later by itself. A message is
claimed (pending -> sending) before it leaves, so two senders never send it twice; a
crash after the claim leaves it `sending`, never sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from compliance.reach import MESSAGE_REACH
from compliance.service import ComplianceService
from dialer.channels import Attempt, PlaceUncertain
from selfservice import conversations as conv
from store.db import transaction
from store.models import (
    CallAttempt,
    Campaign,
    ContactChannel,
    Conversation,
    ConversationMessage,
)

log = logging.getLogger(__name__)

SENT_BY_CHANNEL = ("sms", "whatsapp")
MAX_BATCH = 50
SEND_TIMEOUT_SECONDS = 30.0
LEDGER_SOURCE = "chat"


class Sender(Protocol):
    """A message channel as the chat sees it (outreach's MessageChannel fits)."""

    async def send(self, message: Any) -> str | None: ...


@dataclass(frozen=True)
class ChatOutgoing:
    """A reply as a message channel takes it (outreach.channels.Outgoing's shape)."""

    attempt: Attempt
    text: str
    template: str = "chat"
    stage: str = "chat"
    subject: str | None = None
    html: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Facts:
    message_id: int
    text: str
    channel: str
    address: str
    account_id: int | None
    campaign_id: int | None
    campaign: str | None
    sender_name: str


def pending_ids(engine: Engine, limit: int = MAX_BATCH) -> list[int]:
    """Replies waiting to go over SMS or WhatsApp, oldest first."""
    with Session(engine) as s:
        return list(
            s.scalars(
                select(ConversationMessage.id)
                .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
                .where(ConversationMessage.status == "pending",
                       Conversation.channel.in_(SENT_BY_CHANNEL))
                .order_by(ConversationMessage.id)
                .limit(min(max(limit, 1), MAX_BATCH))
            )
        )  # fmt: skip


def claim(engine: Engine, message_id: int) -> Facts | None:
    """pending -> sending, once; the facts to send it with. None: not pending any more."""
    with transaction(engine) as s:
        done = s.execute(
            update(ConversationMessage)
            .where(ConversationMessage.id == message_id, ConversationMessage.status == "pending")
            .values(status="sending")
            .execution_options(synchronize_session=False)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            return None
        row = s.get(ConversationMessage, message_id)
        assert row is not None
        c = s.get(Conversation, row.conversation_id)
        assert c is not None
        campaign = s.get(Campaign, c.campaign_id) if c.campaign_id is not None else None
        if campaign is None and c.account_id is not None:
            from store.models import Account

            account = s.get(Account, c.account_id)
            if account is not None and account.campaign_id is not None:
                campaign = s.get(Campaign, account.campaign_id)
        messages = dict((campaign.config or {}).get("messages") or {}) if campaign else {}
        name = str(messages.get("sms_sender") or "") if c.channel == "sms" else ""
        name = name or str(messages.get("sender") or "cobrador")
        return Facts(row.id, row.text, c.channel, c.address, c.account_id,
                     campaign.id if campaign else None, campaign.name if campaign else None,
                     name[:20])  # fmt: skip


def finish(engine: Engine, message_id: int, status: str, detail: str | None = None,
           provider_id: str | None = None) -> None:  # fmt: skip
    with transaction(engine) as s:
        conv.mark(s, message_id, status, detail, provider_id)


def ledger_row(engine: Engine, facts: Facts, decision_id: int, now: datetime) -> int:
    """The reply's row in the contact ledger, part of the debtor-initiated contact."""
    assert facts.account_id is not None
    with transaction(engine) as s:
        row = CallAttempt(account_id=facts.account_id, phone_e164=facts.address,
                          campaign_id=facts.campaign_id, decision_id=decision_id,
                          direction="inbound", source=LEDGER_SOURCE, channel=facts.channel,
                          started_at=now, right_party_contact=False,
                          details={"debtor_action": "chat_reply",
                                   "chat_message_id": facts.message_id})  # fmt: skip
        s.add(row)
        s.flush()
        return int(row.id)


class ChatSender:
    def __init__(self, engine: Engine, compliance: ComplianceService,
                 senders: Mapping[str, Sender], clock: Callable[[], datetime]) -> None:  # fmt: skip
        self.engine = engine
        self.compliance = compliance
        self.senders = senders
        self.clock = clock
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def nudge(self, _message_id: int | None = None) -> None:
        """A reply is waiting (the chat service's `on_pending`): send without waiting
        for the next round. Safe from a worker thread; before `run`, nothing to do."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def send_pending(self) -> int:
        """One round: every pending reply sent or held; returns how many were sent."""
        sent = 0
        for message_id in await asyncio.to_thread(pending_ids, self.engine):
            if await self.send_one(message_id) == "sent":
                sent += 1
        return sent

    async def send_one(self, message_id: int) -> str | None:
        """The reply's final status (sent, held, failed), or None when another took it."""
        facts = await asyncio.to_thread(claim, self.engine, message_id)
        if facts is None:
            return None
        status, detail, provider_id = await self._send(facts)
        await asyncio.to_thread(finish, self.engine, message_id, status, detail, provider_id)
        if status != "sent":
            # The detail (a gateway's own words may name the number) stays in SQL with the
            # message; the log says only what kind of failure it was.
            log.info("chat reply %s %s (%s)", message_id, status, (detail or "").split(":")[0][:40])
        return status

    async def _send(self, facts: Facts) -> tuple[str, str | None, str | None]:
        sender = self.senders.get(facts.channel)
        if sender is None:
            return "failed", f"no {facts.channel} channel running", None
        if facts.account_id is None:
            return "held", "no_account", None  # nothing to check the reply against
        now = self.clock()
        try:
            item = await asyncio.to_thread(self._item, facts)
        except (LookupError, ValueError) as exc:
            return "held", str(exc)[:200], None
        [(decision, decision_id)] = await self.compliance.evaluate_and_record(
            [item], now, stage="chat_reply", actor="chat"
        )
        if not decision.allowed:
            return "held", ",".join(decision.reasons)[:200], None
        attempt_id = await asyncio.to_thread(ledger_row, self.engine, facts, decision_id, now)
        attempt = Attempt(attempt_id, facts.account_id, ContactChannel(facts.channel),
                          facts.address, facts.sender_name)  # fmt: skip
        try:
            provider_id = await asyncio.wait_for(
                sender.send(ChatOutgoing(attempt, facts.text)), SEND_TIMEOUT_SECONDS
            )
        except (PlaceUncertain, TimeoutError, OSError) as exc:
            return "sent", f"unconfirmed: {exc or type(exc).__name__}"[:200], None
        except Exception as exc:  # the gateway refused it: nothing left
            return "failed", str(exc)[:200] or type(exc).__name__, None
        return "sent", None, provider_id

    def _item(self, facts: Facts) -> Any:
        with Session(self.engine) as s:
            item = self.compliance.load_item(s, account_id=facts.account_id,
                                             phone_e164=facts.address, channel=facts.channel,
                                             campaign_name=facts.campaign)  # fmt: skip
        # A reply to the debtor's own message is no attempt of ours: no caps. The hours
        # must allow the time it may take to reach the debtor, as any message's.
        return replace(item, profile=replace(item.profile, caps=()),
                       reach_seconds=MESSAGE_REACH.total_seconds())  # fmt: skip

    async def run(self, stop: asyncio.Event, period: float = 2.0) -> None:
        """Sends pending replies until `stop`: at once when nudged, else every `period`."""
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await self.send_pending()
            except Exception:  # keep sending; the next round retries
                log.exception("chat sender round failed")
            self._wake.clear()
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waits, timeout=period, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
