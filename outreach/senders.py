"""The scheduler's `MessageSender` over a message channel of outreach/channels: the
rendered message goes to the channel, which sends it through its gateway and records
every status in the attempt row itself."""

from __future__ import annotations

from typing import Protocol

from dialer.channels import Attempt
from outreach.channels import RenderedMessage
from outreach.outgoing import OutgoingMessage, SendRefused

# A WhatsApp approved template's body parameters {{1}}, {{2}}, ... in this order.
TEMPLATE_PARAMETERS = ("nombre", "remitente", "enlace", "fecha_promesa")


class Sends(Protocol):
    async def send(self, attempt: Attempt, message: RenderedMessage) -> str | None: ...


class ChannelSender:
    def __init__(self, kind: str, channel: Sends, language: str = "es_MX") -> None:
        self.kind = kind
        self.channel = channel
        self.language = language

    async def send(self, message: OutgoingMessage) -> str | None:
        rendered = RenderedMessage(
            text=message.text,
            subject=message.subject or "",
            html=message.html,
            template=message.template if self.kind == "whatsapp" else None,
            language=self.language,
            parameters=tuple(message.params.get(p, "") for p in TEMPLATE_PARAMETERS),
        )
        provider_id = await self.channel.send(message.attempt, rendered)
        if provider_id is None:
            # The channel recorded why (the attempt is failed): nothing left.
            raise SendRefused("the gateway refused the message or could not be reached")
        return provider_id
