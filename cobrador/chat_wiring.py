"""The debtors' chat wired into `cobrador outreach run`: SMS and WhatsApp replies go to
the chat, the chat's replies go out through the chat sender. `selfservice` and
`outreach` are siblings that know nothing of each other; this module, above both,
joins them (outreach.commands.WITH_CHANNELS). The assistant's payment links go through
the configured Mercado Pago (a `simulated` gateway lives in the console that started
it: this process then gives the creditor's payment instructions instead)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from gateways import mercadopago as mp
from selfservice.chat_sender import ChatSender
from selfservice.chat_service import ChatService
from selfservice.chat_setup import build_chat, reply_handler
from selfservice.payment_links import MercadoPagoProvider, PaymentProvider

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


REPLY_CHANNELS = ("sms", "whatsapp")


def register(subparsers: Any) -> None:
    """No command of its own: the chat joins `outreach run`'s channels."""
    from outreach.commands import WITH_CHANNELS

    if chat_alongside_channels not in WITH_CHANNELS:
        WITH_CHANNELS.append(chat_alongside_channels)


@contextlib.asynccontextmanager
async def chat_alongside_channels(settings: Settings, engine: Engine, redis: Any,
                                  compliance: Any, running: Any, *,
                                  payments: PaymentProvider | None = None,
                                  clock: Clock = wall_clock) -> AsyncIterator[ChatService]:  # fmt: skip
    """While the channels run: their replies go to the chat and the chat sender sends
    the pending replies through them. `payments`: the gateway for payment links (the
    demo's); None: the settings' Mercado Pago, if configured. `clock`: the chat sender's
    "now" for the final check (the demo's shifted clock; the wall clock otherwise)."""
    async with contextlib.AsyncExitStack() as stack:
        if payments is None:
            payments = await stack.enter_async_context(settings_gateway(settings))
        async with _chat_running(settings, engine, redis, compliance, running,
                                 payments, clock) as chat:  # fmt: skip
            yield chat


@contextlib.asynccontextmanager
async def settings_gateway(settings: Settings) -> AsyncIterator[PaymentProvider | None]:
    """Mercado Pago with the settings' credentials while the channels run; None without
    one, or for `simulated` (its stand-in belongs to the console that started it)."""
    if settings.payment_gateway != "mercadopago" or not (
        settings.mercadopago_access_token and settings.mercadopago_webhook_secret
    ):
        if settings.payment_gateway:
            log.info("chat: payment links only from the console (%s); the assistant gives "
                     "the payment instructions", settings.payment_gateway)  # fmt: skip
        yield None
        return
    client = mp.MercadoPagoClient(mp.MercadoPagoSettings(
        settings.mercadopago_access_token, settings.mercadopago_webhook_secret,
        api_base=settings.mercadopago_api_base))  # fmt: skip
    try:
        yield MercadoPagoProvider(client)
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def _chat_running(settings: Settings, engine: Engine, redis: Any, compliance: Any,
                        running: Any, payments: PaymentProvider | None,
                        clock: Clock) -> AsyncIterator[ChatService]:  # fmt: skip
    sender = ChatSender(engine, compliance, running.senders, clock)
    chat = build_chat(settings, engine, redis, on_pending=sender.nudge,
                      payments=lambda: payments)  # fmt: skip
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
