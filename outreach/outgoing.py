"""What the scheduler hands a message channel: the attempt (already written and cleared
by the final check) with its rendered text, and the port a channel implements to send
it. SMS, WhatsApp and e-mail channels (outreach/channels/) implement `MessageSender`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from compliance.reach import MESSAGE_REACH as REACH
from dialer.channels import Attempt

# How long a message may take to reach the debtor after its final check
# (compliance/reach.py): a reminder sent at 21:50 is never delivered at 06:00 when the
# phone comes back on, where the channel lets us say so.
MESSAGE_REACH = REACH


class SendRefused(Exception):
    """The provider refused the message outright (bad address, rejected template):
    it did not leave; the attempt ends `failed`."""


@dataclass(frozen=True)
class OutgoingMessage:
    attempt: Attempt  # attempt_id, account, channel, address, sender
    template: str  # the strategy's template name (a WhatsApp approved template's name)
    stage: str
    text: str  # SMS / WhatsApp text; the e-mail's plain part
    subject: str | None = None  # e-mail
    html: str | None = None  # e-mail
    # The template's variables (Spanish names, as in the templates), for a provider
    # that fills an approved template itself (WhatsApp).
    params: Mapping[str, str] = field(default_factory=dict)


class MessageSender(Protocol):
    @property
    def kind(self) -> str:  # sms | whatsapp | email (read-only: a ContactChannel fits)
        ...

    async def send(self, message: OutgoingMessage) -> str | None:
        """Hand the message to the provider; returns its id for the message (delivery
        receipts name it). Raises SendRefused when refused, `dialer.channels.PlaceUncertain`
        when the answer never came (the message may have left: it is never sent again)."""
