"""The chat's `Actions` over the debtor actions (selfservice/debtor_actions.py): each
action the assistant asks for (a promise, a plan, a callback, a dispute, an opt-out, a
payment link) carried out as the portal does it, on behalf of the conversation's
debtor, and every debtor message recorded as a debtor-initiated contact in the ledger.

Actions are matched by their class name and fields (selfservice/assistant.py's
dataclasses), so the chat needs nothing else of the assistant. What the debtor can
cause (a plan outside the rules, a callback outside the legal window) comes back as
the reason, for the transcript; nothing is written then. A payment link is made
through the configured payment gateway (selfservice/payment_links.py, the portal's
rules: at most the balance); its address is the reply, worded by the assistant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Engine

from compliance.callback_window import CallbackChecker
from selfservice import debtor_actions as da
from selfservice.chat_service import Done, Who
from selfservice.payment_links import (
    PaymentLinkError,
    PaymentProvider,
    ProviderUnavailable,
    create_link,
)
from store.audit import append as audit_append
from store.models import PHONE_CHANNELS

log = logging.getLogger(__name__)

MAX_EVIDENCE_TEXT = 500
DEFAULT_LINK_HOURS = 24  # as the portal's pay online


def no_gateway() -> PaymentProvider | None:
    return None


def debtor(who: Who) -> da.Debtor:
    """The debtor as the debtor actions know them: `chat` for the portal's chat box."""
    address = who.address if who.channel in PHONE_CHANNELS else None
    return da.Debtor(who.account_id, via=who.channel, address=address,
                     session=f"conversation:{who.conversation_id}")  # fmt: skip


class DebtorActions:
    """`notify` is told of each result after its commit (the account leaves the hopper,
    a disputed account's ringing call is hung up: debtor_actions.notify_dialer).
    `payments` gives the configured payment gateway at the moment of asking (None:
    none, and the assistant gives the creditor's instructions instead of a link)."""

    def __init__(self, checker: CallbackChecker | None = None,
                 notify: Callable[[da.ActionResult], Awaitable[None]] | None = None, *,
                 payments: Callable[[], PaymentProvider | None] = no_gateway,
                 link_hours: int = DEFAULT_LINK_HOURS) -> None:  # fmt: skip
        self.checker = checker
        self.notify = notify
        self.payments = payments
        self.link_hours = link_hours

    def record_contact(self, engine: Engine, who: Who, now: datetime, text: str) -> None:
        da.record_contact(engine, debtor(who), "message", now,
                          {"conversation_id": who.conversation_id, "chars": len(text)})  # fmt: skip

    async def execute(self, engine: Engine, who: Who, action: Any, now: datetime) -> Done:
        if type(action).__name__ == "SendPaymentLink":
            return await self._payment_link(engine, who, action, now)
        try:
            result = await asyncio.to_thread(self._run, engine, debtor(who), action, now)
        except da.ActionError as exc:
            return Done(f"{exc.field}: {exc.message}"[:200])
        if result is None:
            return Done(f"{type(action).__name__}: not available here")
        if self.notify is not None:
            try:
                await self.notify(result)
            except (RedisError, OSError) as exc:  # SQL holds it; the final check reads SQL
                log.warning("chat %s: the dialer was not told of a %s now (%s)",
                            who.conversation_id, result.action, type(exc).__name__)  # fmt: skip
        return Done()

    async def _payment_link(self, engine: Engine, who: Who, action: Any, now: datetime) -> Done:
        """A link for the amount asked through the gateway, its address the reply; no
        gateway, or one that does not answer: the assistant's `failed` words, and
        nothing recorded as sent (a link the gateway refused is kept as failed)."""
        provider = self.payments()
        if provider is None:
            return Done("payment_link: no payment gateway", (action.failed,))
        payer = debtor(who)
        try:
            link = await create_link(engine, provider, who.account_id, action.amount,
                                     actor=payer.actor, now=now, hours=self.link_hours,
                                     audit=audit_append)  # fmt: skip
        except PaymentLinkError as exc:
            return Done(f"payment_link: {exc}"[:200], (action.failed,))
        except ProviderUnavailable:
            log.warning("chat %s: the payment gateway did not answer", who.conversation_id)
            return Done("payment_link: the payment gateway did not answer", (action.failed,))
        await asyncio.to_thread(da.record_contact, engine, payer, "payment_link", now,
                                {"link_id": link.id, "amount": str(link.amount),
                                 "conversation_id": who.conversation_id})  # fmt: skip
        return Done(replies=(f"{action.sent} {link.url}".strip(),))

    def _run(self, engine: Engine, who: da.Debtor, action: Any,
             now: datetime) -> da.ActionResult | None:  # fmt: skip
        kind = type(action).__name__
        if kind == "MakePromise":
            return da.make_promise(engine, who, action.amount, action.due, now)
        if kind == "ChoosePlan":
            return da.choose_plan_option(engine, who, action.option_id, now)
        if kind == "OpenDispute":
            return da.open_dispute(engine, who, action.kind,
                                   str(action.text)[:MAX_EVIDENCE_TEXT], now)  # fmt: skip
        if kind == "OptOut":
            return da.opt_out(engine, who, action.channel, now, text="chat")
        if kind == "RequestCallback":
            if self.checker is None:
                return None
            when = action.at
            if when is None:
                slots = da.callback_slots(engine, who.account_id, now, self.checker)
                if not slots:
                    raise da.ActionError("callback", "no legal slot in the next days")
                when = slots[0]
            return da.request_callback(engine, who, when, now, self.checker)
        return None  # anything unknown
