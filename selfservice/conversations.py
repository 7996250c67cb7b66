"""Debtors' written conversations, durable in SQL: one per channel and address (a
portal session, a phone number on SMS or WhatsApp) while it is open, its messages as
evidence, its assistant state, and the chat queue it enters when handed over to a
human. Bounded: a message's length, a conversation's messages, a debtor's pace.

Synchronous, in the caller's session; the chat service and the console call it in a
worker thread. The queue's claim is a compare-and-set on the row, so two console
processes can never give one conversation to two agents.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.models import Conversation, ConversationMessage, SkillGroup

CHANNELS = ("chat", "sms", "whatsapp")  # chat: the portal's chat box
SENDERS = ("debtor", "assistant", "agent", "system")
STATUSES = ("received", "pending", "sending", "sent", "shown", "held", "failed")
MAX_TEXT = 1000  # characters of one message (an SMS of 6 parts; WhatsApp allows more)
TAIL_TEXT = 300  # of a longer gateway message, its last characters are kept too
MAX_ADDRESS = 64
MAX_MESSAGES = 200  # per conversation: the next message opens a new one
MAX_DEBTOR_PER_HOUR = 30  # a debtor's messages in one conversation in a rolling hour
IDLE = timedelta(hours=24)  # a conversation quiet this long is over (WhatsApp's session too)
MAX_QUEUE_READ = 50  # queued conversations one routing pass looks at
MAX_DETAIL = 200
# Why a conversation went to a person: asked for one, not understood twice, the amount
# or the day still unclear after it was asked again, a dispute, the identity check failed, no single account matches, a plan needs a supervisor, the
# writer is not the debtor (a wrong number, a relative) or tells of the debtor's death.
HANDOVER_REASONS = (
    "agent", "misunderstood", "dispute", "identity", "no_account", "plan", "full", "operator",
    "third_party", "deceased", "amount", "date",
)  # fmt: skip


class ChatError(ValueError):
    """Input a conversation refuses; the message says why. `status` is the HTTP answer,
    `code` a stable name for a page to word it (empty, too_long, closed, full,
    throttled, invalid)."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ChatThrottled(ChatError):
    def __init__(self, message: str) -> None:
        super().__init__(message, 429, "throttled")


def clean_text(text: str, *, truncate: bool = False) -> str:
    """The text as kept: control characters dropped (line breaks kept), trimmed.
    Empty: ChatError. Longer than MAX_TEXT: ChatError, or cut when `truncate` (a
    gateway's message: refusing it would only make it come again) to its head and its
    last TAIL_TEXT characters with " … " between: a request that closes a long message
    ("... ya no me escriban") is kept and read."""
    if not isinstance(text, str):
        raise ChatError("the message must be text")
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()
    if not kept:
        raise ChatError("the message is empty", code="empty")
    if len(kept) > MAX_TEXT:
        if not truncate:
            raise ChatError(f"the message is longer than {MAX_TEXT} characters", code="too_long")
        kept = kept[: MAX_TEXT - TAIL_TEXT - 3] + " … " + kept[-TAIL_TEXT:]
    return kept


def _check_address(channel: str, address: str) -> str:
    if channel not in CHANNELS:
        raise ChatError(f"unknown chat channel {channel!r}; one of {', '.join(CHANNELS)}")
    address = (address or "").strip()
    if not address or len(address) > MAX_ADDRESS or not address.isprintable():
        raise ChatError(f"a conversation's address is 1 to {MAX_ADDRESS} printable characters")
    return address


def current(session: Session, channel: str, address: str, now: datetime) -> Conversation | None:
    """The open conversation on this channel and address; one gone quiet for IDLE is
    closed (`idle`) on the way and None is returned."""
    address = _check_address(channel, address)
    conv = session.scalar(
        select(Conversation)
        .where(Conversation.channel == channel, Conversation.address == address,
               Conversation.state != "closed")
        .order_by(Conversation.id.desc())
        .limit(1)
    )  # fmt: skip
    if conv is None:
        return None
    if conv.last_message_at <= now - IDLE and conv.state == "bot":
        close(session, conv, "idle", now)
        return None
    return conv


def open_conversation(session: Session, channel: str, address: str, now: datetime, *,
                      account_id: int | None = None,
                      campaign_id: int | None = None) -> Conversation:  # fmt: skip
    """The open conversation at this address, or a new one."""
    conv = current(session, channel, address, now)
    if conv is not None:
        if conv.account_id is None and account_id is not None:
            conv.account_id, conv.campaign_id = account_id, campaign_id
        return conv
    conv = Conversation(account_id=account_id, campaign_id=campaign_id, channel=channel,
                        address=_check_address(channel, address), state="bot", dialogue={},
                        messages=0, created_at=now, last_message_at=now)  # fmt: skip
    session.add(conv)
    session.flush()
    return conv


def add_message(session: Session, conv: Conversation, sender: str, text: str, now: datetime,
                *, status: str, agent_id: int | None = None, detail: str | None = None,
                provider_id: str | None = None) -> ConversationMessage:  # fmt: skip
    """Appends a message (its text already through `clean_text`). A conversation at
    MAX_MESSAGES takes no more (ChatError 409: the caller closes it and opens a new
    one); a debtor past MAX_DEBTOR_PER_HOUR is refused (ChatThrottled)."""
    if sender not in SENDERS:
        raise ChatError(f"unknown sender {sender!r}")
    if status not in STATUSES:
        raise ChatError(f"unknown message status {status!r}")
    if conv.state == "closed":
        raise ChatError("the conversation is closed", 409, "closed")
    if conv.messages >= MAX_MESSAGES:
        raise ChatError("the conversation is full", 409, "full")
    if len(text) > MAX_TEXT:
        raise ChatError(f"the message is longer than {MAX_TEXT} characters", code="too_long")
    if sender == "debtor":
        recent = session.scalar(
            select(func.count(ConversationMessage.id)).where(
                ConversationMessage.conversation_id == conv.id,
                ConversationMessage.sender == "debtor",
                ConversationMessage.at > now - timedelta(hours=1),
            )
        )
        if (recent or 0) >= MAX_DEBTOR_PER_HOUR:
            raise ChatThrottled("too many messages in the last hour; try again later")
    row = ConversationMessage(conversation_id=conv.id, sender=sender, text=text, at=now,
                              agent_id=agent_id, status=status,
                              detail=detail[:MAX_DETAIL] if detail else None,
                              provider_id=provider_id[:128] if provider_id else None)  # fmt: skip
    session.add(row)
    conv.messages += 1
    conv.last_message_at = max(conv.last_message_at, now)
    session.flush()
    return row


def has_message(session: Session, conv: Conversation, provider_id: str) -> bool:
    """Whether the conversation holds the debtor's message the provider names so."""
    return (
        session.scalar(
            select(ConversationMessage.id)
            .where(
                ConversationMessage.conversation_id == conv.id,
                ConversationMessage.provider_id == provider_id[:128],
            )
            .limit(1)
        )
        is not None
    )


def mark(session: Session, message_id: int, status: str, detail: str | None = None,
         provider_id: str | None = None) -> None:  # fmt: skip
    """An outgoing message's fate once the channel answered (sent, held, failed)."""
    if status not in STATUSES:
        raise ChatError(f"unknown message status {status!r}")
    row = session.get(ConversationMessage, message_id)
    if row is None:
        raise ChatError(f"no message {message_id}", 404)
    row.status = status
    row.detail = detail[:MAX_DETAIL] if detail else row.detail
    row.provider_id = provider_id[:128] if provider_id else row.provider_id
    session.flush()


def transcript(session: Session, conversation_id: int, after_id: int = 0,
               limit: int = MAX_MESSAGES) -> list[dict[str, Any]]:  # fmt: skip
    """The messages in order (after `after_id`, for a page that polls), as plain data."""
    rows = session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id,
               ConversationMessage.id > after_id)
        .order_by(ConversationMessage.id)
        .limit(min(max(limit, 1), MAX_MESSAGES))
    )  # fmt: skip
    return [
        {"id": m.id, "sender": m.sender, "text": m.text, "at": m.at.isoformat(),
         "status": m.status, "detail": m.detail, "agent_id": m.agent_id}
        for m in rows
    ]  # fmt: skip


def save_dialogue(conv: Conversation, state: dict[str, Any]) -> None:
    conv.dialogue = dict(state)


def hand_over(session: Session, conv: Conversation, reason: str, now: datetime,
              skill_group: str | None = None) -> bool:  # fmt: skip
    """Into the chat queue (of `skill_group` when the campaign names one). False when
    it is already queued or with an agent (nothing changes)."""
    if reason not in HANDOVER_REASONS:
        raise ChatError(f"unknown handover reason {reason!r}")
    if conv.state in ("queued", "agent"):
        return False
    if conv.state == "closed":
        raise ChatError("the conversation is closed", 409, "closed")
    group_id = None
    if skill_group:
        group_id = session.scalar(select(SkillGroup.id).where(SkillGroup.name == skill_group))
    conv.state, conv.handover_reason, conv.queued_at = "queued", reason, now
    conv.skill_group_id = group_id
    session.flush()
    return True


@dataclass(frozen=True)
class Queued:
    conversation_id: int
    account_id: int | None
    campaign_id: int | None
    skill_group: str | None
    channel: str
    queued_at: datetime
    reason: str | None


def queued(session: Session, limit: int = MAX_QUEUE_READ) -> list[Queued]:
    """The chat queue, longest waiting first."""
    rows = session.execute(
        select(Conversation, SkillGroup.name)
        .outerjoin(SkillGroup, SkillGroup.id == Conversation.skill_group_id)
        .where(Conversation.state == "queued")
        .order_by(Conversation.queued_at, Conversation.id)
        .limit(min(max(limit, 1), MAX_QUEUE_READ))
    ).all()
    return [Queued(c.id, c.account_id, c.campaign_id, group, c.channel,
                   c.queued_at or c.created_at, c.handover_reason) for c, group in rows]  # fmt: skip


def claim(session: Session, conversation_id: int, agent_id: int, now: datetime) -> bool:
    """Gives the queued conversation to the agent; False when another took it first
    (or it left the queue): the row is changed only while it is still queued."""
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == "queued")
        .values(state="agent", agent_id=agent_id, assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def requeue(session: Session, conversation_id: int) -> None:
    """Back to the queue (the agent could not be reserved after all), first in line."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == "agent")
        .values(state="queued", agent_id=None, assigned_at=None, attempt_id=None)
        .execution_options(synchronize_session=False)
    )


def of_attempt(session: Session, attempt_id: int) -> Conversation | None:
    """The conversation an agent's ledger row (its disposition's attempt) belongs to."""
    return session.scalar(select(Conversation).where(Conversation.attempt_id == attempt_id))


def close(session: Session, conv: Conversation, reason: str, now: datetime) -> None:
    """Over (`idle`, `full`, `agent` once dispositioned, `opt_out`); the next message
    at the address opens a new conversation."""
    conv.state, conv.closed_at, conv.close_reason = "closed", now, reason[:20]
    session.flush()
