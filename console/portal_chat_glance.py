"""The debtor's portal conversation at a glance: which one the chat page shows, and
for the account page whether an agent answered last (a reply the debtor would
otherwise only find by opening the chat). Reads SQL only; no aiohttp."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, select

from console.debtor_locale import debtor_locale
from selfservice import conversations as conv
from selfservice.chat_service import PORTAL
from store.db import transaction
from store.models import Conversation, ConversationMessage

# A conversation an agent closed stays on the page this long, marked as over.
ENDED_SHOWN = timedelta(hours=1)
SHOWN_SENDERS = ("debtor", "assistant", "agent")  # "system" lines are the agent's notes
EXCERPT = 140  # characters of an agent's reply quoted on the account page


def aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def latest_conversation(s: Any, account_id: int, now: datetime) -> Conversation | None:
    """The account's portal conversation still open, or closed within ENDED_SHOWN."""
    c = s.scalar(
        select(Conversation)
        .where(Conversation.channel == PORTAL, Conversation.account_id == account_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if c is None:
        return None
    if c.state == "closed":
        closed = aware(c.closed_at or c.last_message_at)
        return c if closed > now - ENDED_SHOWN else None
    if c.state == "bot" and aware(c.last_message_at) <= now - conv.IDLE:
        return None  # over by silence: the next message opens a new one
    return c


def when_label(at: datetime, zone: str, country: str, lang: str) -> str:
    """A message's time on the debtor's clock, in the portal's words (console/debtor_locale),
    with the zone named by its city: 'mar 24 de nov, 11:00 (Ciudad de México)'."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    words = debtor_locale(country, lang)
    return f"{words.moment(aware(at), tz)} ({words.zone_name(tz)})"


@dataclass(frozen=True)
class AgentReply:
    """An agent's message that is the conversation's last shown line."""

    text: str  # at most EXCERPT characters, an ellipsis when cut
    at: datetime


def agent_replied_last(engine: Engine, account_id: int, now: datetime) -> AgentReply | None:
    """The agent's reply when it is the last line the chat page would show, else None."""
    with transaction(engine) as s:
        c = latest_conversation(s, account_id, now)
        if c is None:
            return None
        last = s.scalar(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == c.id,
                   ConversationMessage.sender.in_(SHOWN_SENDERS))
            .order_by(ConversationMessage.id.desc())
            .limit(1)
        )  # fmt: skip
        if last is None or last.sender != "agent":
            return None
        text = last.text if len(last.text) <= EXCERPT else last.text[: EXCERPT - 1] + "…"
        return AgentReply(text, aware(last.at))
