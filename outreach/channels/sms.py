"""SMS over SMPP 3.4 straight to a carrier's or aggregator's SMSC: each message asks
for a delivery receipt; receipts become statuses, mobile-originated messages replies.

    channel = sms_channel(SmppSettings(...), DeliveryBook(sql), opt_out=...)
    await channel.transport.start(); await channel.send(attempt, message)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from dialer.channels import PlaceUncertain
from gateways.smpp.client import NotBound, SmppClient, SmppSettings, SubmitRejected, SubmitUncertain
from gateways.smpp.codec import (
    RECEIPT_ON_FINAL,
    BodyError,
    ShortMessage,
    parse_receipt,
    relative_validity,
)
from outreach.channels import (
    Handed,
    MessageNotSent,
    MessageRefused,
    MessageStatus,
    OptOut,
    Outgoing,
    StatusReport,
)
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import Listener, MessageChannel, OnOutcome, refused
from outreach.outgoing import MESSAGE_REACH
from store.models import ContactChannel

log = logging.getLogger(__name__)

# A receipt's final state word as a status; ENROUTE / ACCEPTD say nothing new.
RECEIPT_STATUS = {
    "DELIVRD": MessageStatus.delivered,
    "UNDELIV": MessageStatus.failed,
    "EXPIRED": MessageStatus.failed,
    "DELETED": MessageStatus.failed,
    "REJECTD": MessageStatus.failed,
    "UNKNOWN": MessageStatus.failed,
}
# An alphanumeric sender ID shows on the phone in place of a number: 11 characters
# at most (GSM 03.40's alphanumeric address: 11 characters in 7-bit packing).
MAX_ALPHANUMERIC_SENDER = 11
# Type of number / numbering plan: an international number, an alphanumeric sender.
TON_INTERNATIONAL, NPI_ISDN = 1, 1
TON_ALPHANUMERIC, NPI_UNKNOWN = 5, 0


def smpp_address(e164: str) -> str:
    """+525512345678 -> 525512345678 (international TON carries the plus)."""
    return e164.removeprefix("+")


def e164(address: str) -> str:
    digits = address.removeprefix("+")
    return f"+{digits}" if digits.isdigit() else address


class SmppTransport:
    """The `Transport` of SMS over our SMPP client."""

    def __init__(self, settings: SmppSettings) -> None:
        self.client = SmppClient(settings, self._on_message)
        self._listener: Listener | None = None

    def listen(self, listener: Listener) -> None:
        self._listener = listener

    def start(self) -> None:
        self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def send(self, message: Outgoing) -> Handed:
        attempt = message.attempt
        sender = attempt.sender
        numeric = sender.removeprefix("+").isdigit()
        if not numeric and len(sender) > MAX_ALPHANUMERIC_SENDER:
            raise MessageRefused(
                f"SMS sender {sender!r}: an alphanumeric sender ID has at most "
                f"{MAX_ALPHANUMERIC_SENDER} characters (set messages.sms_sender to a short "
                "code, a number or a shorter name)"
            )
        try:
            parts = ShortMessage.parts_of_text(
                smpp_address(sender), smpp_address(attempt.address), message.text,
                reference=attempt.attempt_id, registered_delivery=RECEIPT_ON_FINAL,
                source_ton=TON_INTERNATIONAL if numeric and sender.startswith("+") else
                (0 if numeric else TON_ALPHANUMERIC),
                source_npi=NPI_ISDN if numeric else NPI_UNKNOWN,
                validity_period=relative_validity(MESSAGE_REACH.total_seconds()),
            )  # fmt: skip
        except ValueError as exc:  # a field no SMSC takes: refused here, nothing sent
            raise MessageRefused(str(exc)) from exc
        message_id = ""
        for number, part in enumerate(parts, start=1):
            try:
                message_id = await self.client.submit(part)
            except (NotBound, SubmitRejected) as exc:
                if number > 1:  # earlier parts left: the message is half on its way
                    raise PlaceUncertain(f"part {number} of {len(parts)}: {exc}") from exc
                if isinstance(exc, NotBound):
                    raise MessageNotSent(str(exc)) from exc
                raise MessageRefused(str(exc)) from exc
            except SubmitUncertain as exc:
                raise PlaceUncertain(str(exc)) from exc
        # The receipt is asked for on the last part: its id names the message.
        return Handed(message_id, "smpp validity_period")

    async def _on_message(self, message: ShortMessage) -> None:
        """A receipt or a reply; an error raised here (the store down) makes the client
        answer a temporary error, and the SMSC delivers it again."""
        listener = self._listener
        if listener is None:
            raise RuntimeError("SMS transport has no listener yet")
        now = datetime.now(UTC)
        if not message.is_receipt:
            await listener.on_reply(e164(message.source), message.text, at=now)
            return
        try:
            receipt = parse_receipt(message)
        except BodyError as exc:
            log.warning("SMS delivery receipt ignored: %s", exc)
            refused(ContactChannel.sms, "malformed")
            return
        status = RECEIPT_STATUS.get(receipt.state)
        if status is None:
            return
        error = (
            None if status == MessageStatus.delivered else f"{receipt.state} err:{receipt.error}"
        )
        await listener.on_report(
            StatusReport(ContactChannel.sms, receipt.message_id, status, now, error)
        )


def sms_channel(settings: SmppSettings, book: DeliveryBook, *, opt_out: OptOut,
                on_outcome: OnOutcome | None = None) -> MessageChannel:  # fmt: skip
    return MessageChannel(ContactChannel.sms, SmppTransport(settings), book, opt_out=opt_out,
                          on_outcome=on_outcome)  # fmt: skip
