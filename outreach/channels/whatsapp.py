"""WhatsApp through the Business Cloud API: an approved template when the step names one
the campaign has approved (`templates`), else a session message (the API refuses it,
with a failed status 131047, outside 24 h of the debtor's last message). Statuses and
replies come through the signed webhook (`outreach.channels.callbacks`)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime

from dialer.channels import PlaceUncertain
from gateways.whatsapp.cloud_api import (
    UNREACHABLE_RECIPIENT_CODES,
    ApiRefused,
    ApiUncertain,
    ApiUnreachable,
    CloudApiClient,
    StatusEvent,
    WhatsAppSettings,
    parse_webhook,
    template_message,
    text_message,
)
from outreach.channels import (
    Handed,
    MessageNotSent,
    MessageRefused,
    MessageStatus,
    OnBadAddress,
    OptOut,
    Outgoing,
    StatusReport,
)
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import Listener, MessageChannel, OnOutcome, refused
from store.models import ContactChannel

log = logging.getLogger(__name__)

WEBHOOK_STATUS = {
    "sent": MessageStatus.sent,
    "delivered": MessageStatus.delivered,
    "read": MessageStatus.read,
    "failed": MessageStatus.failed,
}


class CloudApiTransport:
    def __init__(self, settings: WhatsAppSettings, *, templates: Collection[str] = (),
                 language: str = "es_MX") -> None:  # fmt: skip
        """`templates`: the names of the templates Meta approved for this number; a
        step naming one is sent as that template, in `language`."""
        self.settings = settings
        self.client = CloudApiClient(settings)
        self.templates = frozenset(templates)
        self.language = language
        self._listener: Listener | None = None

    def listen(self, listener: Listener) -> None:
        self._listener = listener

    async def close(self) -> None:
        await self.client.close()

    async def send(self, message: Outgoing) -> Handed:
        to = message.attempt.address
        if message.template in self.templates:
            body = template_message(to, message.template, self.language, message.params)
        else:
            body = text_message(to, message.text)
        try:
            # The Cloud API takes no expiry per message (a template's TTL is set on the
            # template at Meta, a session message has none): unbounded here; a delivery
            # reported after MESSAGE_REACH is recorded as late (delivery.py).
            return Handed(await self.client.send(body), None)
        except ApiUnreachable as exc:
            raise MessageNotSent(str(exc)) from exc
        except ApiRefused as exc:
            raise MessageRefused(str(exc)) from exc
        except ApiUncertain as exc:
            raise PlaceUncertain(str(exc)) from exc

    async def on_webhook(self, body: bytes) -> tuple[int, int]:
        """A signature-checked webhook body (WebhookInputError when it does not parse):
        (statuses recorded, replies handed on). An error recording a reply propagates:
        the endpoint answers 503 and Meta sends the notification again."""
        listener = self._listener
        if listener is None:
            raise RuntimeError("WhatsApp transport has no listener yet")
        webhook = parse_webhook(body, self.settings.phone_number_id)
        if webhook.foreign:
            log.warning("WhatsApp webhook: %d change(s) about another phone number skipped",
                        webhook.foreign)  # fmt: skip
            refused(ContactChannel.whatsapp, "foreign_number")
        recorded = 0
        for event in webhook.statuses:
            recorded += await listener.on_report(self._report(event))
        for message in webhook.messages:
            await listener.on_reply(f"+{message.sender}", message.text or f"[{message.kind}]",
                                    provider_id=message.message_id,
                                    in_reply_to=message.context_id,
                                    at=datetime.fromtimestamp(message.timestamp, UTC))  # fmt: skip
        return recorded, len(webhook.messages)

    @staticmethod
    def _report(event: StatusEvent) -> StatusReport:
        status = WEBHOOK_STATUS[event.status]
        error = None
        if status == MessageStatus.failed:
            error = f"{event.error_code} {event.error_title}".strip()
        return StatusReport(
            ContactChannel.whatsapp, event.message_id, status,
            datetime.fromtimestamp(event.timestamp, UTC), error,
            address_invalid=event.error_code in UNREACHABLE_RECIPIENT_CODES,
        )  # fmt: skip


def whatsapp_channel(settings: WhatsAppSettings, book: DeliveryBook, *, opt_out: OptOut,
                     templates: Collection[str] = (), language: str = "es_MX",
                     on_bad_address: OnBadAddress | None = None,
                     on_outcome: OnOutcome | None = None) -> MessageChannel:  # fmt: skip
    transport = CloudApiTransport(settings, templates=templates, language=language)
    return MessageChannel(ContactChannel.whatsapp, transport, book, opt_out=opt_out,
                          on_bad_address=on_bad_address, on_outcome=on_outcome)  # fmt: skip
