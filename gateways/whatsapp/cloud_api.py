"""The WhatsApp Business Cloud API as Meta publishes it: `POST /{version}/{phone-number-id}
/messages` for approved templates and session (free-form) messages, and the webhook
Meta calls with message statuses and the user's messages, signed with the app secret
(`X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body>`), verified once by a GET
with `hub.mode=subscribe`, `hub.verify_token` and `hub.challenge`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_WEBHOOK_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024  # the API's answers are a few hundred bytes
MAX_TEXT = 4096  # a text message's body limit
STATUSES = ("sent", "delivered", "read", "failed")
# Error codes that say the recipient cannot get WhatsApp messages at all.
UNREACHABLE_RECIPIENT_CODES = frozenset({131026})


@dataclass(frozen=True)
class WhatsAppSettings:
    phone_number_id: str
    access_token: str
    app_secret: str
    verify_token: str
    api_base: str = "https://graph.facebook.com/v21.0"
    timeout_seconds: float = 15.0

    @property
    def messages_url(self) -> str:
        return f"{self.api_base.rstrip('/')}/{self.phone_number_id}/messages"


class ApiRefused(Exception):
    """The API answered an error (4xx with Meta's error object): nothing was sent."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"WhatsApp API refused (HTTP {status}, code {code}): {message}")
        self.status = status
        self.code = code


class ApiUnreachable(ApiRefused):
    """No connection to the API: nothing was sent."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, f"WhatsApp API unreachable: {message}")
        self.status = 0
        self.code = None


class ApiUncertain(Exception):
    """The request left and no usable answer came (timeout, 5xx): it may have been sent."""


def wa_number(e164: str) -> str:
    """The API's phone numbers are digits with the country code, without '+'."""
    return e164.removeprefix("+")


def text_message(to: str, body: str) -> dict[str, Any]:
    """A session message: allowed within 24 h of the user's last message."""
    return {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": wa_number(to), "type": "text", "text": {"preview_url": False, "body": body}}  # fmt: skip


def template_message(to: str, name: str, language: str,
                     params: Mapping[str, str] = {}) -> dict[str, Any]:  # fmt: skip
    """An approved template, its body's named parameters filled in."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if params:
        template["components"] = [{"type": "body", "parameters": [
            {"type": "text", "parameter_name": key, "text": value} for key, value in params.items()
        ]}]  # fmt: skip
    return {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": wa_number(to), "type": "template", "template": template}  # fmt: skip


class CloudApiClient:
    def __init__(self, settings: WhatsAppSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
            )
        return self._session

    async def send(self, body: Mapping[str, Any]) -> str:
        """The message's id (`wamid...`)."""
        headers = {"Authorization": f"Bearer {self.settings.access_token}"}
        try:
            async with self._http().post(self.settings.messages_url, json=body,
                                         headers=headers) as response:  # fmt: skip
                status = response.status
                received = bytearray()
                async for chunk in response.content.iter_any():
                    received += chunk
                    if len(received) > MAX_ANSWER_BYTES:
                        raise ApiUncertain(f"WhatsApp API answer over {MAX_ANSWER_BYTES} bytes")
                raw = bytes(received)
        except aiohttp.ClientConnectorError as exc:
            raise ApiUnreachable(str(exc)) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ApiUncertain(f"no answer from the WhatsApp API: {exc!r}") from exc
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if status >= 500 or not isinstance(answer, dict):
            raise ApiUncertain(f"WhatsApp API answered HTTP {status}")
        if status >= 400:
            error = answer.get("error") or {}
            details = (error.get("error_data") or {}).get("details") or error.get("message") or ""
            raise ApiRefused(status, error.get("code"), str(details)[:300])
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise ApiUncertain(f"WhatsApp API answer without a message id: {raw[:200]!r}") from exc


# --- webhooks ----------------------------------------------------------------


def signature(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, header: str | None, app_secret: str) -> bool:
    if not header or not app_secret:
        return False
    given = header.strip().lower()
    if not given.isascii():  # compare_digest raises TypeError on a non-ASCII str
        return False
    return hmac.compare_digest(given, signature(body, app_secret))


class WebhookInputError(ValueError):
    """A webhook body that is not what the Cloud API sends: the message says what."""


@dataclass(frozen=True)
class StatusEvent:
    message_id: str
    status: str  # sent | delivered | read | failed
    timestamp: int
    recipient: str
    error_code: int | None = None
    error_title: str = ""


@dataclass(frozen=True)
class InboundMessage:
    message_id: str
    sender: str  # wa_id: digits with country code
    timestamp: int
    kind: str  # text | button | interactive | image | ...
    text: str  # the text, a button's text or an interactive reply's title; else ""
    context_id: str | None = None  # the message of ours it replies to


@dataclass(frozen=True)
class Webhook:
    statuses: list[StatusEvent] = field(default_factory=list)
    messages: list[InboundMessage] = field(default_factory=list)
    foreign: int = 0  # changes about a number that is not ours (skipped)


def _str(value: object, what: str, limit: int = 256) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise WebhookInputError(f"{what}: missing or not a string")
    if isinstance(value, int) and abs(value) >= 10**limit:
        raise WebhookInputError(f"{what}: empty or longer than {limit}")  # before str()
    text = str(value)
    if not text or len(text) > limit:
        raise WebhookInputError(f"{what}: empty or longer than {limit}")
    if not text.isprintable():
        raise WebhookInputError(f"{what}: not printable")
    return text


# Unix seconds a notification may carry: 1970 to 2100 (past it a datetime cannot be
# made, and a notification answered 503 for it would be sent again forever).
MAX_TIMESTAMP = 4_102_444_800


def _timestamp(value: object, what: str) -> int:
    try:
        number = int(_str(value, what, 20))
    except ValueError as exc:
        raise WebhookInputError(f"{what}: not a number") from exc
    if not 0 <= number < MAX_TIMESTAMP:
        raise WebhookInputError(f"{what}: not a time between 1970 and 2100")
    return number


def _objects(value: object, what: str) -> list[dict[str, Any]]:
    """A list of objects, or none when the field is absent; WebhookInputError otherwise."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise WebhookInputError(f"{what} is not a list of objects")
    return value


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _message_text(message: Mapping[str, Any], kind: str) -> str:
    if kind == "text":
        body = _object(message.get("text")).get("body", "")
    elif kind == "button":
        body = _object(message.get("button")).get("text", "")
    elif kind == "interactive":
        inner = _object(message.get("interactive"))
        reply = _object(inner.get("button_reply")) or _object(inner.get("list_reply"))
        body = reply.get("title", "")
    else:
        body = ""
    # No NUL in what is stored (PostgreSQL refuses it: a 503 Meta would retry forever).
    return body[:MAX_TEXT].replace("\x00", "") if isinstance(body, str) else ""


def parse_webhook(body: bytes, phone_number_id: str | None = None) -> Webhook:
    """Statuses and user messages of a `whatsapp_business_account` notification;
    fields of other kinds (template status, account updates) are ignored. Given our
    `phone_number_id`, a change about another number (one Meta app signs the
    notifications of every number it is subscribed to) is skipped and counted in
    `Webhook.foreign`: its replies were written to someone else."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the depth
        raise WebhookInputError("body is not JSON") from exc
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise WebhookInputError("object is not whatsapp_business_account")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise WebhookInputError("entry is not a list")
    out, foreign = Webhook(), 0
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise WebhookInputError("entry[].changes is not a list")
        for change in changes:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                raise WebhookInputError("changes[].value is not an object")
            statuses: list[StatusEvent] = []
            messages: list[InboundMessage] = []
            for status in _objects(value.get("statuses"), "statuses"):
                state = _str(status.get("status"), "statuses[].status", 20)
                if state not in STATUSES:
                    continue  # e.g. "deleted", "warning": nothing we record
                errors = status.get("errors") or [{}]
                first = (
                    errors[0]
                    if isinstance(errors, list) and errors and isinstance(errors[0], dict)
                    else {}
                )
                code = first.get("code")
                statuses.append(StatusEvent(
                    message_id=_str(status.get("id"), "statuses[].id"),
                    status=state,
                    timestamp=_timestamp(status.get("timestamp"), "statuses[].timestamp"),
                    recipient=_str(status.get("recipient_id"), "statuses[].recipient_id", 20),
                    error_code=code if isinstance(code, int) else None,
                    error_title=str(first.get("title") or first.get("message") or "")[:200]
                    .replace("\x00", ""),
                ))  # fmt: skip
            for message in _objects(value.get("messages"), "messages"):
                kind = _str(message.get("type"), "messages[].type", 20)
                context = message.get("context") if isinstance(message.get("context"), dict) else {}
                messages.append(InboundMessage(
                    message_id=_str(message.get("id"), "messages[].id"),
                    sender=_str(message.get("from"), "messages[].from", 20),
                    timestamp=_timestamp(message.get("timestamp"), "messages[].timestamp"),
                    kind=kind,
                    text=_message_text(message, kind),
                    context_id=str(context["id"])[:256] if context and context.get("id") else None,
                ))  # fmt: skip
            if phone_number_id is not None and _number_of(value) != phone_number_id:
                foreign += 1  # read whole (a malformed one is still refused), not taken
                continue
            out.statuses.extend(statuses)
            out.messages.extend(messages)
    return Webhook(out.statuses, out.messages, foreign)


def _number_of(value: Mapping[str, Any]) -> str | None:
    """The phone number id a change is about (`value.metadata.phone_number_id`)."""
    metadata = value.get("metadata")
    number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    return str(number) if isinstance(number, str | int) else None


def status_webhook(phone_number_id: str, event: StatusEvent) -> dict[str, Any]:
    """The notification the API sends for one status (for the local server)."""
    status: dict[str, Any] = {"id": event.message_id, "status": event.status,
                              "timestamp": str(event.timestamp), "recipient_id": event.recipient}  # fmt: skip
    if event.error_code is not None:
        status["errors"] = [{"code": event.error_code, "title": event.error_title,
                             "message": event.error_title}]  # fmt: skip
    return _notification(phone_number_id, {"statuses": [status]})


def message_webhook(
    phone_number_id: str, message: InboundMessage, name: str = ""
) -> dict[str, Any]:
    """The notification the API sends for one user's text message (for the local server)."""
    body: dict[str, Any] = {"from": message.sender, "id": message.message_id,
                            "timestamp": str(message.timestamp), "type": "text",
                            "text": {"body": message.text}}  # fmt: skip
    if message.context_id:
        body["context"] = {"from": phone_number_id, "id": message.context_id}
    return _notification(phone_number_id, {
        "contacts": [{"profile": {"name": name}, "wa_id": message.sender}], "messages": [body]})  # fmt: skip


def _notification(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": phone_number_id,
                               "phone_number_id": phone_number_id}, **value},
    }]}]}  # fmt: skip
