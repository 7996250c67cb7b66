"""The chat's `Actions` over the debtor actions (selfservice/debtor_actions.py): each
action the assistant asks for (a promise, a plan, a callback, a dispute, an opt-out)
carried out as the portal does it, on behalf of the conversation's debtor, and every
debtor message recorded as a debtor-initiated contact in the ledger.

Actions are matched by their class name and fields (selfservice/assistant.py's
dataclasses), so the chat needs nothing else of the assistant. What the debtor can
cause (a plan outside the rules, a callback outside the legal window) comes back as
the reason, for the transcript; nothing is written then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from compliance.callback_window import CallbackChecker
from selfservice import debtor_actions as da
from selfservice.chat_service import Who
from store.models import PHONE_CHANNELS

log = logging.getLogger(__name__)

MAX_EVIDENCE_TEXT = 500


def debtor(who: Who) -> da.Debtor:
    """The debtor as the debtor actions know them: `chat` for the portal's chat box."""
    address = who.address if who.channel in PHONE_CHANNELS else None
    return da.Debtor(who.account_id, via=who.channel, address=address,
                     session=f"conversation:{who.conversation_id}")  # fmt: skip


class DebtorActions:
    """`notify` is told of each result after its commit (the account leaves the hopper,
    a disputed account's ringing call is hung up: debtor_actions.notify_dialer)."""

    def __init__(self, checker: CallbackChecker | None = None,
                 notify: Callable[[da.ActionResult], None] | None = None) -> None:  # fmt: skip
        self.checker = checker
        self.notify = notify

    def record_contact(self, engine: Engine, who: Who, now: datetime, text: str) -> None:
        da.record_contact(engine, debtor(who), "message", now,
                          {"conversation_id": who.conversation_id, "chars": len(text)})  # fmt: skip

    def execute(self, engine: Engine, who: Who, action: Any, now: datetime) -> str | None:
        try:
            result = self._run(engine, debtor(who), action, now)
        except da.ActionError as exc:
            return f"{exc.field}: {exc.message}"[:200]
        if result is None:
            return f"{type(action).__name__}: not available here"
        if self.notify is not None:
            self.notify(result)
        return None

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
        return None  # a payment link (its own port), anything unknown
