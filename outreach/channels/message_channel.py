"""One message channel behind the dialer's `Channel` port, whatever its gateway: sends
through a `Transport`, writes each status into the attempt row, counts it, emits the
port's outcome events, hands replies that ask to stop to the opt-out function and
any other reply to `on_message` when the process gives one (the debtors' chat)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from dialer.channels import Attempt, Outcome, OutcomeKind, PlaceUncertain, Report, WithdrawFailed
from metrics.definitions import MESSAGE_REPORTS_REFUSED, MESSAGES
from outreach.channels import (
    STATUS_OUTCOME,
    BadAddress,
    Handed,
    MessageRefused,
    MessageStatus,
    OnBadAddress,
    OptOut,
    Outgoing,
    Reply,
    StatusReport,
    asks_to_stop,
)
from outreach.channels.delivery import Change, DeliveryBook, ForeignRecipient, UnknownMessage
from store.models import ContactChannel

log = logging.getLogger(__name__)

# How long a report about an unknown id waits for the sends under way to be recorded.
REPORT_WAIT_SECONDS = 10.0

Render = Callable[[Attempt], Awaitable[Outgoing]]
OnOutcome = Callable[[Outcome], None]


class Transport(Protocol):
    """A gateway as a channel sees it: sends one message and names it; tells its
    listener (the channel) of reports and replies as they come."""

    async def send(self, message: Outgoing) -> str | Handed:
        """The provider's id of the message (with how its delivery is bounded, when the
        transport says). MessageRefused / MessageNotSent: nothing left; PlaceUncertain:
        it may have left."""

    def listen(self, listener: Listener) -> None: ...


class Listener(Protocol):
    async def on_report(self, report: StatusReport) -> bool: ...

    async def on_unproven(self, address: str, subject: str, text: str, at: datetime,
                          why: str) -> None: ...  # fmt: skip

    async def on_reply(self, address: str, text: str, *, provider_id: str | None = None,
                       in_reply_to: str | None = None, at: datetime | None = None) -> Reply: ...  # fmt: skip


def refused(channel: ContactChannel, reason: str) -> None:
    MESSAGE_REPORTS_REFUSED.labels(channel.value, reason).inc()


class MessageChannel:
    def __init__(self, kind: ContactChannel, transport: Transport, book: DeliveryBook, *,
                 opt_out: OptOut, render: Render | None = None,
                 on_bad_address: OnBadAddress | None = None,
                 on_outcome: OnOutcome | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.kind = kind
        self.transport = transport
        self.book = book
        self.opt_out = opt_out
        self.on_bad_address = on_bad_address
        # Replies that do not ask to stop, for whoever converses with debtors (set by
        # the process that runs the channels: the chat, selfservice/chat_service.py).
        self.on_message: OptOut | None = None
        self.render = render
        self.on_outcome = on_outcome
        self.clock = clock
        # Sends under way: a report can come before its send is recorded (an SMSC's
        # receipt racing its submit_sm_resp, a webhook racing the API's answer).
        self._sending = 0
        self._sent = asyncio.Condition()
        transport.listen(self)

    # --- the port ---

    async def place(self, attempt: Attempt) -> None:
        """The port's placing: renders the attempt's message with `render` and sends it."""
        if self.render is None:
            raise TypeError(f"{self.kind.value} channel: place() needs a render function; "
                            "or call send(attempt, message)")  # fmt: skip
        await self.send(await self.render(attempt))

    async def withdraw(self, attempt_id: int, handle: str | None) -> None:
        raise WithdrawFailed(f"a {self.kind.value} message cannot be taken back once sent")

    def outcomes(self, report: Report) -> Sequence[Outcome]:
        """A report with `message_id` and `status` (a StatusReport, a webhook's fields)
        as the outcome of the attempt it names; none when it names no message of ours."""
        message_id, status = report.get("message_id"), report.get("status")
        if not message_id or status is None or status not in MessageStatus.__members__:
            return []
        found = self.book.find(self.kind, message_id)
        if found is None:
            return []
        return [self._outcome(found[0], MessageStatus(status), report.get("error"))]

    # --- sending ---

    async def send(self, message: Outgoing) -> str:
        """Sends and records (the scheduler's `MessageSender`): the provider's id.
        MessageRefused (MessageNotSent: unreachable) when nothing left: the attempt is
        already `failed` and a place_failed outcome emitted. PlaceUncertain when it may
        have left: recorded as sent without an id, never sent again."""
        attempt = message.attempt
        if attempt.channel != self.kind:
            raise ValueError(f"a {attempt.channel} attempt on the {self.kind.value} channel")
        self._sending += 1
        try:
            return await self._send(message)
        finally:
            self._sending -= 1
            async with self._sent:
                self._sent.notify_all()

    async def _send(self, message: Outgoing) -> str:
        attempt = message.attempt
        try:
            answer = await self.transport.send(message)
        except MessageRefused as exc:
            self.book.not_sent(attempt, str(exc), self.clock())
            MESSAGES.labels(self.kind.value, MessageStatus.failed.value).inc()
            self._emit(Outcome(attempt.attempt_id, OutcomeKind.place_failed, detail=str(exc)))
            raise
        except PlaceUncertain as exc:
            log.warning("%s attempt %s: fate unknown (%s); not sent again", self.kind.value,
                        attempt.attempt_id, exc)  # fmt: skip
            self.book.sent(attempt, "", self.clock())
            MESSAGES.labels(self.kind.value, MessageStatus.sent.value).inc()
            raise
        handed = answer if isinstance(answer, Handed) else Handed(answer)
        provider_id = handed.provider_id
        self.book.sent(attempt, provider_id, self.clock(), bound=handed.bound)
        MESSAGES.labels(self.kind.value, MessageStatus.sent.value).inc()
        self._emit(self._outcome(attempt.attempt_id, MessageStatus.sent, None))
        return provider_id

    # --- what the gateway reports ---

    async def on_report(self, report: StatusReport) -> bool:
        """False when the report names no message of ours (refused and counted) or
        changes nothing (a repeat, or a status behind the one known)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REPORT_WAIT_SECONDS
        while True:
            try:
                change = self.book.report(report)
                break
            except ForeignRecipient as exc:
                log.warning("%s", exc)
                refused(self.kind, "foreign_recipient")
                return False
            except UnknownMessage as exc:
                # Maybe a send under way, not recorded yet: look again once one ends.
                remaining = deadline - loop.time()
                if self._sending and remaining > 0:
                    async with self._sent:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._sent.wait(), remaining)
                    continue
                log.warning("%s", exc)
                refused(self.kind, "unknown_message")
                return False
        if change is None:
            return False
        self._count(change)
        self._emit(self._outcome(change.attempt_id, change.status, report.error))
        if report.address_invalid and self.on_bad_address is not None:
            await self.on_bad_address(BadAddress(self.kind, change.address, change.account_id,
                                                 change.attempt_id, report.error or ""))  # fmt: skip
        return True

    async def on_unproven(self, address: str, subject: str, text: str, at: datetime,
                          why: str) -> None:  # fmt: skip
        """A message whose sender the gateway could not prove (an e-mail whose From:
        its receiving server did not authenticate): it answers no attempt, asks no stop
        and opens no chat on the account of the address it names (anyone can write any
        From:); it is kept for a person (DeliveryBook.unproven) and counted."""
        await asyncio.to_thread(self.book.unproven, self.kind, address, subject, text, at, why)
        log.warning("%s message from an unproven sender kept for a person (%s)",
                    self.kind.value, why)  # fmt: skip
        refused(self.kind, "unproven_sender")

    async def on_reply(self, address: str, text: str, *, provider_id: str | None = None,
                       in_reply_to: str | None = None, at: datetime | None = None) -> Reply:  # fmt: skip
        """Marks the attempt answered as replied and, when the text asks to stop,
        awaits the opt-out (an error propagates: the gateway must deliver it again);
        any other text goes to `on_message` (errors propagate the same way)."""
        at = at or self.clock()
        change = self.book.reply(self.kind, address, at, provider_id=provider_id,
                                 in_reply_to=in_reply_to)  # fmt: skip
        if change is not None and change.first:
            self._count(change)
            self._emit(self._outcome(change.attempt_id, MessageStatus.replied, None))
        reply = Reply(self.kind, address, text, at,
                      attempt_id=change.attempt_id if change else None,
                      account_id=change.account_id if change else None,
                      provider_id=provider_id)  # fmt: skip
        # Even for a reply delivered again: the first delivery's opt-out may have failed
        # (the provider retries because of it), and recording an opt-out twice is harmless.
        if asks_to_stop(text):
            await self.opt_out(reply)
        elif self.on_message is not None:
            await self.on_message(reply)
        return reply

    def _count(self, change: Change) -> None:
        MESSAGES.labels(self.kind.value, change.status.value).inc()

    def _outcome(self, attempt_id: int, status: MessageStatus, error: str | None) -> Outcome:
        return Outcome(attempt_id, STATUS_OUTCOME[status], detail=status.value if not error
                       else f"{status.value}: {error}")  # fmt: skip

    def _emit(self, outcome: Outcome) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)
