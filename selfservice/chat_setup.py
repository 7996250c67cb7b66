"""The chat put together for a process: the real assistant and debtor actions, what
the dialer must hear after an action, the portal's identity key; and the handler a
message channel gives SMS and WhatsApp replies to. The console (portal chat, agents)
and the process running the message channels (cobrador/chat_wiring.py) build it so."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cobrador.ground.settings import Settings
from compliance.callback_window import compliance_callback_checker
from selfservice import conversations as conv
from selfservice import debtor_actions as da
from selfservice.chat_actions import DebtorActions, no_gateway
from selfservice.chat_assistant import ChatAssistant
from selfservice.chat_service import ChatService, Incoming
from selfservice.identity import IdentityError, identity_key
from selfservice.payment_links import PaymentProvider
from store.models import Phone, matchable_phone

log = logging.getLogger(__name__)


def portal_identity_key(settings: Settings) -> bytes | None:
    """None when the portal's identity key is not set: nobody is verified by chat."""
    if not settings.portal_identity_key:
        return None
    try:
        return identity_key(settings.portal_identity_key)
    except IdentityError:
        log.warning("portal_identity_key is not valid: the chat verifies nobody")
        return None


def build_chat(settings: Settings, engine: Engine, redis: Any, *, on_pending: Any = None,
               payments: Callable[[], PaymentProvider | None] = no_gateway) -> ChatService:  # fmt: skip
    """The chat with the real assistant and debtor actions; what an action changes for
    the dialer (hopper, a ringing call of a disputed account) is told after its commit.
    `payments`: the payment gateway links are made with, asked at each link (the
    console's starts with the app); none: the assistant gives the payment instructions."""

    async def notify(result: da.ActionResult) -> None:
        await da.notify_dialer(redis, result)

    actions = DebtorActions(compliance_callback_checker(), notify, payments=payments,
                            link_hours=settings.payment_link_hours)  # fmt: skip
    assistant = ChatAssistant(portal_identity_key(settings),
                              online_pay=lambda: payments() is not None)  # fmt: skip
    return ChatService(engine, assistant, actions, on_pending=on_pending)


def sole_account(engine: Engine, number: str) -> int | None:
    """The one account a number belongs to; None for none or several (the assistant
    then asks who it is, and nothing about a debt is said). A number someone else
    answers (a wrong number, a third party's mark on any account) belongs to none, as
    for an inbound call (store.models.matchable_phone)."""
    with Session(engine) as s:
        ids = set(s.scalars(select(Phone.account_id).where(
            Phone.number_e164 == number, matchable_phone(number))))  # fmt: skip
    return ids.pop() if len(ids) == 1 else None


def reply_handler(chat: ChatService, engine: Engine) -> Any:
    """A message channel's `on_message`: the debtor's reply into their conversation. A
    reply the chat refuses (empty, too many this hour) is dropped and logged; anything
    else propagates, so the gateway delivers it again (the chat skips a repeat)."""

    async def on_message(reply: Any) -> None:
        account_id = reply.account_id
        if account_id is None:
            account_id = await asyncio.to_thread(sole_account, engine, reply.address)
        incoming = Incoming(str(reply.channel), reply.address, reply.text, reply.at,
                            account_id=account_id, provider_id=reply.provider_id)  # fmt: skip
        try:
            await chat.handle_async(incoming)
        except conv.ChatError as exc:
            log.info("%s reply not taken by the chat: %s", reply.channel, exc)

    return on_message
