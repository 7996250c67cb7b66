"""The message channels (SMS, WhatsApp, e-mail) behind the dialer's `Channel` port.

A channel gets an attempt already decided (its row written, the final check passed)
and a rendered message, hands it to its gateway, and turns what the provider reports
(accepted, delivered, failed, read, a reply) into the attempt row's status
(`delivery.DeliveryBook`), outcome events and metrics. Replies that ask to stop
("BAJA", "STOP") go to the opt-out function the caller gives the channel.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dialer.channels import Attempt, OutcomeKind
from outreach.outgoing import SendRefused
from store.models import ContactChannel


class MessageStatus(StrEnum):
    """What a provider says of a message, in the order it can happen (failed ends it)."""

    sent = "sent"  # the gateway accepted it
    delivered = "delivered"  # the handset / mailbox / WhatsApp client has it
    read = "read"  # WhatsApp's blue ticks
    replied = "replied"  # the debtor answered
    failed = "failed"  # refused, undeliverable, bounced


# How far along each status is: a late report never moves an attempt back.
STATUS_RANK = {
    MessageStatus.sent: 1,
    MessageStatus.delivered: 2,
    MessageStatus.read: 3,
    MessageStatus.replied: 4,
    MessageStatus.failed: 5,
}

# What each channel's providers can tell us. SMTP has no delivery or read receipt
# (a DSN that is not a failure is ignored, outreach/channels/email.py), and no SMS
# gateway reports a read; a figure of such a status is unknown, not zero.
REPORTABLE = {
    "sms": frozenset({MessageStatus.sent, MessageStatus.delivered, MessageStatus.replied,
                      MessageStatus.failed}),
    "whatsapp": frozenset(MessageStatus),
    "email": frozenset({MessageStatus.sent, MessageStatus.replied, MessageStatus.failed}),
}  # fmt: skip

# Each status as the port's outcome kind: sent and delivered are "ringing" (there,
# not yet taken), read and replied "answered" (the debtor took it), failed "ended".
STATUS_OUTCOME = {
    MessageStatus.sent: OutcomeKind.ringing,
    MessageStatus.delivered: OutcomeKind.ringing,
    MessageStatus.read: OutcomeKind.answered,
    MessageStatus.replied: OutcomeKind.answered,
    MessageStatus.failed: OutcomeKind.ended,
}


class Outgoing(Protocol):
    """A message to send, as the scheduler hands it (outreach.outgoing.OutgoingMessage):
    the attempt (written, cleared by the final check: its address and sender), `text`
    always (the SMS, the e-mail's plain part, a WhatsApp session message), `subject`
    and `html` for e-mail, `template` and `params` for a WhatsApp approved template."""

    @property
    def attempt(self) -> Attempt: ...
    @property
    def template(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def html(self) -> str | None: ...
    @property
    def params(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class StatusReport:
    """A provider's report about one message it accepted, named by its id."""

    channel: ContactChannel
    provider_id: str
    status: MessageStatus
    at: datetime
    error: str | None = None
    # The provider says the address itself is bad (a permanent bounce, a number that
    # does not exist or has no WhatsApp): the channel tells `on_bad_address`.
    address_invalid: bool = False
    # The addresses the report is about (an e-mail bounce's Final- and Original-
    # Recipient): when given, the message must have gone to one of them, or the report
    # is refused (DeliveryBook.report: a forged bounce naming a message of ours).
    recipients: tuple[str, ...] = ()

    def get(self, key: str, /) -> str | None:
        """As the port's `Report`: message_id, status, error."""
        return {"message_id": self.provider_id, "status": self.status.value,
                "error": self.error}.get(key)  # fmt: skip


@dataclass(frozen=True)
class Reply:
    """A message from the debtor: `address` is where it came from (phone, e-mail);
    `attempt_id` the latest attempt it answers, when one is found."""

    channel: ContactChannel
    address: str
    text: str
    at: datetime
    attempt_id: int | None = None
    account_id: int | None = None
    provider_id: str | None = None
    details: dict[str, str] = field(default_factory=dict)


OptOut = Callable[[Reply], Awaitable[None]]


@dataclass(frozen=True)
class BadAddress:
    """An address the provider says cannot be reached (for the account's records)."""

    channel: ContactChannel
    address: str
    account_id: int | None
    attempt_id: int
    reason: str


OnBadAddress = Callable[[BadAddress], Awaitable[None]]

# A reply that is one of these words (accents, case and punctuation aside) asks to
# stop messages on that channel: Spanish first, the carriers' English keywords too.
OPT_OUT_WORDS = frozenset({
    "baja", "stop", "alto", "parar", "cancelar", "cancela", "no mas", "no molestar",
    "darme de baja", "dar de baja", "unsubscribe", "detener", "fin",
})  # fmt: skip
_NOT_LETTERS = re.compile(r"[^a-z ]+")


def asks_to_stop(text: str) -> bool:
    """True for a reply like "BAJA", "Stop.", "¡no más!"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = " ".join(_NOT_LETTERS.sub(" ", plain).split())
    return words in OPT_OUT_WORDS


@dataclass(frozen=True)
class Handed:
    """A transport's answer: the provider's id of the message and how the provider
    bounds its delivery to MESSAGE_REACH (`bound` names the mechanism: "smpp
    validity_period", "kannel validity", "smtp deliverby"; None: it cannot be bounded,
    e.g. WhatsApp's Cloud API, an SMTP relay without DELIVERBY)."""

    provider_id: str
    bound: str | None = None


class MessageRefused(SendRefused):
    """The gateway refused the message for good: the attempt failed, nothing left (the
    scheduler's SendRefused: it ends the step `failed`)."""


class MessageNotSent(MessageRefused):
    """The gateway could not be reached: nothing left, the attempt failed."""
