"""SMS through a Kannel gateway's HTTP interface: Kannel holds the SMPP link to the
carrier; we send with sendsms and hear back on two callbacks (delivery reports and
replies) served by `outreach.channels.callbacks`. The message's provider id is our own
reference, carried in the dlr-url and given back by Kannel."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import aiohttp

from dialer.channels import PlaceUncertain
from gateways.kannel import (
    DlrType,
    KannelSettings,
    new_reference,
    parse_dlr,
    parse_mo,
    receipt_error,
    sendsms_query,
)
from outreach.channels import (
    Handed,
    MessageNotSent,
    MessageRefused,
    MessageStatus,
    OptOut,
    Outgoing,
    Reply,
    StatusReport,
)
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import Listener, MessageChannel, OnOutcome
from outreach.outgoing import MESSAGE_REACH
from store.models import ContactChannel

# Kannel's `validity` is in whole minutes: the carrier drops what it could not deliver.
VALIDITY_MINUTES = int(MESSAGE_REACH.total_seconds() // 60)
MAX_ANSWER_BYTES = 1024  # of sendsms's answer read ("0: Accepted for delivery")

log = logging.getLogger(__name__)

DLR_STATUS = {
    DlrType.delivered: MessageStatus.delivered,
    DlrType.failed: MessageStatus.failed,
    DlrType.smsc_rejected: MessageStatus.failed,
}


class KannelTransport:
    def __init__(self, settings: KannelSettings) -> None:
        self.settings = settings
        self._listener: Listener | None = None
        self._session: aiohttp.ClientSession | None = None

    def listen(self, listener: Listener) -> None:
        self._listener = listener

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def send(self, message: Outgoing) -> Handed:
        attempt = message.attempt
        reference = new_reference(attempt.attempt_id)
        query = sendsms_query(self.settings, sender=attempt.sender, to=attempt.address,
                              text=message.text, reference=reference,
                              validity_minutes=VALIDITY_MINUTES)  # fmt: skip
        try:
            async with self._http().get(self.settings.sendsms_url, params=query) as response:
                # What a refusal says, never more: a gateway (or whatever answers at its
                # address) streaming an endless body must not grow the process.
                head = await response.content.read(MAX_ANSWER_BYTES)
                body = head.decode("utf-8", "replace")[:200]
        except aiohttp.ClientConnectorError as exc:
            raise MessageNotSent(f"Kannel unreachable: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PlaceUncertain(f"Kannel's answer lost: {exc!r}") from exc
        if response.status in (200, 202):
            return Handed(reference, "kannel validity")
        raise MessageRefused(f"Kannel refused the message: HTTP {response.status} {body.strip()}")

    def _needs_listener(self) -> Listener:
        if self._listener is None:
            raise RuntimeError("Kannel transport has no listener yet")
        return self._listener

    async def on_dlr(self, query: Mapping[str, str]) -> bool:
        """A delivery report (KannelInputError when it does not parse); False when it
        names no message of ours or says nothing new."""
        report = parse_dlr(query)
        status = DLR_STATUS.get(report.type)
        if status is None:
            return True  # buffered / accepted by the SMSC: nothing final yet
        error = None if status == MessageStatus.delivered else receipt_error(report.reply)
        return await self._needs_listener().on_report(
            StatusReport(ContactChannel.sms, report.reference, status, datetime.now(UTC), error)
        )

    async def on_mo(self, query: Mapping[str, str]) -> Reply:
        mo = parse_mo(query)
        return await self._needs_listener().on_reply(mo.sender, mo.text, at=datetime.now(UTC))


def kannel_sms_channel(settings: KannelSettings, book: DeliveryBook, *, opt_out: OptOut,
                       on_outcome: OnOutcome | None = None) -> MessageChannel:  # fmt: skip
    return MessageChannel(ContactChannel.sms, KannelTransport(settings), book, opt_out=opt_out,
                          on_outcome=on_outcome)  # fmt: skip
