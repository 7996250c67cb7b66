"""The debtors' chat wired into `cobrador outreach run`: SMS and WhatsApp replies go to
the chat, the chat's replies go out through the chat sender. `selfservice` and
`outreach` are siblings that know nothing of each other; this module, above both,
joins them (outreach.commands.WITH_CHANNELS)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from selfservice.chat_sender import ChatSender
from selfservice.chat_service import ChatService
from selfservice.chat_setup import build_chat, reply_handler

REPLY_CHANNELS = ("sms", "whatsapp")


def register(subparsers: Any) -> None:
    """No command of its own: the chat joins `outreach run`'s channels."""
    from outreach.commands import WITH_CHANNELS

    if chat_alongside_channels not in WITH_CHANNELS:
        WITH_CHANNELS.append(chat_alongside_channels)


@contextlib.asynccontextmanager
async def chat_alongside_channels(settings: Settings, engine: Engine, redis: Any,
                                  compliance: Any, running: Any) -> AsyncIterator[ChatService]:  # fmt: skip
    """While the channels run: their replies go to the chat and the chat sender sends
    the pending replies through them."""
    sender = ChatSender(engine, compliance, running.senders, lambda: datetime.now(UTC))
    chat = build_chat(settings, engine, redis, on_pending=sender.nudge)
    handler = reply_handler(chat, engine)
    hooked = [running.senders[k] for k in REPLY_CHANNELS if k in running.senders]
    for channel in hooked:
        channel.on_message = handler
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop), name="chat-sender")
    try:
        yield chat
    finally:
        for channel in hooked:
            channel.on_message = None
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
