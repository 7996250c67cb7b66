"""The chat's `Assistant` over selfservice/assistant.py: the dialogue state kept as
plain JSON with the conversation, the account's facts from SQL (the same summary and
plan options the portal shows), and the identity check the assistant asks for over
SMS or WhatsApp (the portal's: the last digits of the national document, three wrong
answers lock it) carried out here, so the chat service sees one turn per message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from selfservice import assistant as bot
from selfservice import debtor_actions as da
from selfservice import identity

# The assistant's handover reasons as the chat queue names them.
REASONS = {
    "agent_requested": "agent",
    "not_understood": "misunderstood",
    "amount_unclear": "amount",
    "date_unclear": "date",
    "dispute": "dispute",
    "identity_failed": "identity",
    "no_account": "no_account",
    "plan_request": "plan",
    "third_party": "third_party",
    "deceased": "deceased",
}
LOCALES = {"MX": "es_MX", "CO": "es_CO", "PE": "es_PE", "US": "en_US"}
MAX_IDENTITY_ROUNDS = 3


def never() -> bool:
    return False


class ChatAssistant:
    """`identity_key`: the portal's identity key (None: nobody can be verified over
    SMS or WhatsApp, so the assistant says nothing about the debt there).
    `online_pay`: whether a payment gateway makes links now (else the assistant gives
    the creditor's payment instructions)."""

    def __init__(self, identity_key: bytes | None,
                 online_pay: Callable[[], bool] = never) -> None:  # fmt: skip
        self.identity_key = identity_key
        self.online_pay = online_pay

    # --- the state, as JSON ---

    def load(self, data: dict[str, Any], verified: bool) -> bot.DialogueState:
        state = bot.load_state(data)
        return replace(state, verified=True) if verified and not state.verified else state

    def dump(self, state: bot.DialogueState) -> dict[str, Any]:
        return bot.dump_state(state)

    # --- the account ---

    def facts(self, engine: Engine, account_id: int, now: datetime) -> bot.AccountFacts | None:
        try:
            summary = da.summary(engine, account_id, now)
        except (LookupError, da.ActionError):
            return None
        options = tuple(
            bot.PlanOption(o.id, o.instalments, o.amount, o.interval, o.first_date,
                           needs_supervisor=o.needs_supervisor)
            for o in summary.plan_options
        )  # fmt: skip
        return bot.AccountFacts(
            account_id=summary.account_id, debtor_name=summary.debtor_name,
            balance=summary.balance, currency=summary.currency,
            locale=LOCALES.get(summary.country, "es_MX"), due_date=summary.due_date,
            open_promises=tuple(bot.OpenPromise(amount, due)
                                for _id, amount, due in summary.open_promises),
            # An unresolved zone is the country's (Bogotá, Lima), never Mexico City's
            # for every account; UTC only for a country whose zones we do not know.
            plan_options=options,
            timezone=summary.timezone or next(iter(summary.zones), "UTC"),
            zones=summary.zones,
            max_promise_days=summary.promise_max_days,
            online_pay=self.online_pay(), payment_instructions=summary.payment_instructions,
        )  # fmt: skip

    # --- one turn ---

    def respond(self, engine: Engine, state: bot.DialogueState, text: str,
                facts: bot.AccountFacts | None, now: datetime, lang: str,
                address: str) -> bot.Turn:  # fmt: skip
        turn = bot.respond(state, text, facts, now, lang)
        replies = list(turn.replies)
        for _ in range(MAX_IDENTITY_ROUNDS):
            check = next((a for a in turn.actions if isinstance(a, bot.VerifyIdentity)), None)
            if check is None:
                break
            ok = self._verified(engine, facts, check.answer, address, now)
            after = bot.identity_checked(turn.state, ok, facts, now, lang)
            others = [a for a in turn.actions if a is not check]
            turn = bot.Turn(replies + list(after.replies), others + list(after.actions),
                            after.state, turn.intent)  # fmt: skip
            replies = list(turn.replies)
        return turn

    def _verified(self, engine: Engine, facts: bot.AccountFacts | None, answer: str,
                  address: str, now: datetime) -> bool:  # fmt: skip
        if facts is None or self.identity_key is None:
            return False
        try:
            verdict = identity.check(engine, gate=identity.reference_gate(facts.account_id),
                                     account_id=facts.account_id, answer=answer,
                                     key=self.identity_key, client=address or "chat", now=now)  # fmt: skip
        except identity.IdentityError:
            return False
        return verdict.verified

    def handover(self, action: Any) -> str | None:
        if isinstance(action, bot.HandOver):
            return REASONS.get(action.reason, "agent")
        return None
