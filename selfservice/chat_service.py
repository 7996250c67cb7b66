"""A debtor's written message and everything it causes: the conversation it belongs to
(selfservice/conversations.py), its entry in the contact ledger (debtor-initiated,
never an attempt for the caps), the assistant's turn, the actions the turn asks for
(a promise, a plan, a callback, a dispute, an opt-out, a payment link: the debtor
actions), the replies (shown in the portal at once; over SMS or WhatsApp queued for the
chat sender, which sends them through the final check), and the handover to a human.

The assistant and the debtor actions are given as adapters (`Assistant`, `Actions`),
so the flow is tested with stand-ins of them and the wiring picks the real ones.
The SQL steps run in worker threads; the actions are awaited on the event loop (a
payment link waits on the payment gateway's answer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from selfservice import conversations as conv
from store.audit import append as audit_append
from store.db import transaction
from store.models import Conversation

log = logging.getLogger(__name__)

PORTAL = "chat"  # the portal's chat box: replies are shown, never sent over a network
LANGS = ("es", "en")
MAX_REPLIES = 5  # replies kept from one turn of the assistant


@dataclass(frozen=True)
class Incoming:
    """A message the debtor wrote. `account_id`: the account it is known to be about
    (the portal's verified session, the attempt a reply answers), else None."""

    channel: str  # chat | sms | whatsapp
    address: str  # the portal session's reference, or the number (E.164)
    text: str
    at: datetime
    account_id: int | None = None
    campaign_id: int | None = None
    provider_id: str | None = None
    lang: str = "es"
    # The debtor passed the identity check for this account (the portal's session).
    verified: bool = False


@dataclass(frozen=True)
class Said:
    message_id: int
    text: str
    status: str  # shown (portal) | pending (for the chat sender)


@dataclass(frozen=True)
class Handled:
    conversation_id: int
    state: str  # bot | queued | agent | closed
    replies: tuple[Said, ...] = ()
    handed_over: str | None = None  # the reason, when this message handed it over
    errors: tuple[str, ...] = ()  # actions that could not be carried out (the reason)


class Turn(Protocol):
    """The assistant's answer (selfservice.assistant.Turn)."""

    @property
    def replies(self) -> Sequence[str]: ...
    @property
    def actions(self) -> Sequence[Any]: ...
    @property
    def state(self) -> Any: ...


class Assistant(Protocol):
    """The assistant as the chat sees it (selfservice.assistant behind it)."""

    def load(self, data: dict[str, Any], verified: bool) -> Any:
        """The dialogue state saved with the conversation ({}: a new one); `verified`:
        the debtor passed the identity check outside the dialogue (the portal)."""

    def dump(self, state: Any) -> dict[str, Any]: ...

    def facts(self, engine: Engine, account_id: int, now: datetime) -> Any | None:
        """The account's facts the assistant answers from (None: unknown)."""

    def respond(
        self,
        engine: Engine,
        state: Any,
        text: str,
        facts: Any | None,
        now: datetime,
        lang: str,
        address: str,
    ) -> Turn:
        """One turn; an identity check the turn asks for is the assistant's to carry
        out (`address`: where the debtor writes from, the check's throttle)."""

    def handover(self, action: Any) -> str | None:
        """The reason when the action is a handover (agent, misunderstood, dispute)."""


@dataclass(frozen=True)
class Who:
    """Who acts through the conversation (selfservice.debtor_actions.Debtor's facts)."""

    account_id: int
    channel: str
    address: str
    conversation_id: int


@dataclass(frozen=True)
class Done:
    """What carrying out one action came to: `problem`, why it was not carried out (for
    the transcript; None when it was), and the `replies` it gives the debtor (a payment
    link's address), sent after the assistant's own."""

    problem: str | None = None
    replies: tuple[str, ...] = ()


class Actions(Protocol):
    """The debtor actions (selfservice.debtor_actions) as the chat carries them out."""

    def record_contact(self, engine: Engine, who: Who, now: datetime, text: str) -> None:
        """A debtor-initiated contact in the ledger and the audit log (the timeline)."""

    async def execute(self, engine: Engine, who: Who, action: Any, now: datetime) -> Done:
        """Carries out one action (its SQL in a worker thread: this runs on the loop)."""


@dataclass(frozen=True)
class _Read:
    """A message stored and the assistant's turn on it, before its actions."""

    incoming: Incoming
    conversation_id: int
    account_id: int | None
    turn: Turn


@dataclass
class ChatService:
    """The chat's entry points; `engine` is the SQL of record."""

    engine: Engine
    assistant: Assistant
    actions: Actions
    # Told (after the commit) of each reply waiting to go out over SMS/WhatsApp.
    on_pending: Callable[[int], None] | None = None
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    # --- the debtor writes ---

    async def handle_async(self, incoming: Incoming) -> Handled:
        """One message from the debtor, all the way to the replies, one message at a
        time per address (two at once from one number must not open two conversations).
        ChatError when the message is refused (empty, too long from the portal, too
        many this hour)."""
        key = (incoming.channel, incoming.address)
        lock = self._locks.get(key)
        if lock is None:
            if len(self._locks) > 10_000:  # bounded: forget the idle ones
                for k in [k for k, v in self._locks.items() if not v.locked()]:
                    del self._locks[k]
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            return await self._handle(incoming)

    def handle(self, incoming: Incoming) -> Handled:
        """`handle_async` for a caller that is no coroutine (scripts, tests), on an event
        loop of its own (in a thread of its own when this thread runs one already)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._handle(incoming))
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self._handle(incoming)).result()

    async def _handle(self, incoming: Incoming) -> Handled:
        read = await asyncio.to_thread(self._read, incoming)
        if isinstance(read, Handled):
            return read
        errors, replies, reason = await self._carry_out(read)
        return await asyncio.to_thread(self._answer, read, errors, replies, reason)

    def _read(self, incoming: Incoming) -> Handled | _Read:
        """Steps 1 and 2: the message stored as evidence, then the assistant's turn."""
        lang = incoming.lang if incoming.lang in LANGS else "es"
        text = conv.clean_text(incoming.text, truncate=incoming.channel != PORTAL)
        now = incoming.at
        # 1. The message, and its contact in the ledger, are evidence before anything.
        with transaction(self.engine) as s:
            c = self._conversation(s, incoming, now)
            if incoming.provider_id and conv.has_message(s, c, incoming.provider_id):
                # The gateway delivered it again (a webhook retried): handled already.
                return Handled(c.id, c.state)
            conv.add_message(s, c, "debtor", text, now, status="received",
                             provider_id=incoming.provider_id)  # fmt: skip
            cid, state, account_id = c.id, c.state, c.account_id
            dialogue = dict(c.dialogue or {})
        if account_id is not None:
            self.actions.record_contact(self.engine, self._who(incoming, cid, account_id),
                                        now, text)  # fmt: skip
        if state != "bot":
            # An agent has it (or it waits for one): the agent's page shows the message.
            return Handled(cid, state)
        # 2. The assistant's turn, from the account's facts once the debtor is known.
        facts = self.assistant.facts(self.engine, account_id, now) if account_id else None
        state0 = self.assistant.load(dialogue, incoming.verified and account_id is not None)
        turn = self.assistant.respond(self.engine, state0, text, facts, now, lang,
                                      incoming.address)  # fmt: skip
        return _Read(incoming, cid, account_id, turn)

    async def _carry_out(self, read: _Read) -> tuple[list[str], list[str], str | None]:
        """Step 3: what the turn asks for (a handover is the chat's own): the problems,
        the replies the actions give, the handover's reason."""
        errors: list[str] = []
        replies: list[str] = []
        reason: str | None = None
        for action in read.turn.actions:
            why = self.assistant.handover(action)
            if why is not None:
                reason = reason or why
                continue
            if read.account_id is None:
                errors.append("no_account")
                continue
            who = self._who(read.incoming, read.conversation_id, read.account_id)
            try:
                done = await self.actions.execute(self.engine, who, action, read.incoming.at)
            except Exception:  # an action's bug must not lose the conversation
                log.exception("chat %s: action %s failed", read.conversation_id,
                              type(action).__name__)  # fmt: skip
                done = Done("error")
            if done.problem:
                errors.append(done.problem)
            replies.extend(done.replies)
        return errors, replies, reason

    def _conversation(self, s: Any, incoming: Incoming, now: datetime) -> Conversation:
        c = conv.open_conversation(s, incoming.channel, incoming.address, now,
                                   account_id=incoming.account_id,
                                   campaign_id=incoming.campaign_id)  # fmt: skip
        if c.messages >= conv.MAX_MESSAGES:
            conv.close(s, c, "full", now)
            c = conv.open_conversation(s, incoming.channel, incoming.address, now,
                                       account_id=incoming.account_id,
                                       campaign_id=incoming.campaign_id)  # fmt: skip
        return c

    @staticmethod
    def _who(incoming: Incoming, cid: int, account_id: int) -> Who:
        return Who(account_id, incoming.channel, incoming.address, cid)

    def _answer(self, read: _Read, errors: list[str], replies: list[str],
                reason: str | None) -> Handled:  # fmt: skip
        """Step 4: the replies and the new state; the handover into the queue."""
        incoming, cid, turn, now = read.incoming, read.conversation_id, read.turn, read.incoming.at
        status = "shown" if incoming.channel == PORTAL else "pending"
        said: list[Said] = []
        with transaction(self.engine) as s:
            c = s.get(Conversation, cid)
            assert c is not None
            conv.save_dialogue(c, self.assistant.dump(turn.state))
            for problem in errors:
                conv.add_message(s, c, "system", f"action not carried out: {problem}", now,
                                 status="shown")  # fmt: skip
            for reply in [*turn.replies, *replies][:MAX_REPLIES]:
                try:
                    text = conv.clean_text(reply, truncate=True)
                except conv.ChatError:
                    continue
                row = conv.add_message(s, c, "assistant", text, now, status=status)
                said.append(Said(row.id, text, status))
            handed = None
            if reason is not None:
                group = _skill_group(s, c)
                if conv.hand_over(s, c, _known_reason(reason), now, skill_group=group):
                    handed = reason
                    audit_append(s, "chat_handover",
                                 {"conversation_id": cid, "account_id": c.account_id,
                                  "channel": c.channel, "reason": reason, "skill_group": group},
                                 actor="assistant",
                                 subject=f"account:{c.account_id}" if c.account_id else None,
                                 now=now)  # fmt: skip
            state = c.state
        if self.on_pending is not None:
            for reply_said in said:
                if reply_said.status == "pending":
                    self.on_pending(reply_said.message_id)
        return Handled(cid, state, tuple(said), handed, tuple(errors))


def _known_reason(reason: str) -> str:
    return reason if reason in conv.HANDOVER_REASONS else "agent"


def _skill_group(s: Any, c: Conversation) -> str | None:
    """The skill group the campaign names for its inbound calls takes its chats too."""
    from store.models import Account, Campaign

    campaign_id = c.campaign_id
    if campaign_id is None and c.account_id is not None:
        account = s.get(Account, c.account_id)
        campaign_id = account.campaign_id if account is not None else None
    campaign = s.get(Campaign, campaign_id) if campaign_id is not None else None
    inbound = ((campaign.config or {}).get("inbound") or {}) if campaign is not None else {}
    group = inbound.get("skill_group") if isinstance(inbound, dict) else None
    return str(group) if group else None
