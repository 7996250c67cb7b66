"""Mercado Pago's REST API as it publishes it, for payment links: Checkout Pro preferences
(`POST /checkout/preferences`: the page where the debtor pays, on Mercado Pago's site),
payment lookup (`GET /v1/payments/{id}`), and the webhook Mercado Pago calls when a
payment is created or changes, signed with the application's secret key:

    x-signature: ts=<timestamp>,v1=<hex HMAC-SHA256 of the manifest>
    x-request-id: <the delivery's id>
    manifest = "id:<data.id of the URL, lower-cased>;request-id:<x-request-id>;ts:<ts>;"

Card data never passes here: the debtor pays on Mercado Pago's page; we only ever read
a payment's status, amount, currency and our own reference back.

Not the official `mercadopago` SDK: it is synchronous (requests) with a fixed API base,
so it could neither run on the event loop nor be pointed at the local stand-in the
tests and the demo use (gateways/mercadopago_local.py). Knows no business rules.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp

API_BASE = "https://api.mercadopago.com"
SIGNATURE_HEADER = "x-signature"
REQUEST_ID_HEADER = "x-request-id"
IDEMPOTENCY_HEADER = "X-Idempotency-Key"
# A notification is a few hundred bytes; a payment object a few KiB.
MAX_WEBHOOK_BYTES = 16 * 1024
MAX_ANSWER_BYTES = 256 * 1024
MAX_ID_CHARS = 64
MAX_REQUEST_ID_CHARS = 128
# Timestamps in x-signature are seconds; some deliveries carry milliseconds.
_MS_THRESHOLD = 10**12
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
# Statuses of a payment (GET /v1/payments/{id}).
PAYMENT_STATUSES = frozenset({
    "pending", "approved", "authorized", "in_process", "in_mediation",
    "rejected", "cancelled", "refunded", "charged_back",
})  # fmt: skip


@dataclass(frozen=True)
class MercadoPagoSettings:
    access_token: str
    webhook_secret: str
    api_base: str = API_BASE
    timeout_seconds: float = 15.0


class ApiRefused(Exception):
    """The API answered 4xx (Mercado Pago's error object): nothing was done."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Mercado Pago refused (HTTP {status}): {message}")
        self.status = status


class NotFound(ApiRefused):
    """The API knows no such payment (HTTP 404)."""


class ApiUnavailable(Exception):
    """No usable answer (no connection, timeout, 5xx, an answer we cannot read)."""


@dataclass(frozen=True)
class Preference:
    id: str
    init_point: str  # the URL the debtor opens to pay


@dataclass(frozen=True)
class Payment:
    """What we read of a payment: never card data (Mercado Pago keeps it)."""

    id: str
    status: str
    status_detail: str
    amount: Decimal
    currency: str
    external_reference: str | None
    date_approved: datetime | None
    date_created: datetime | None
    # `transaction_amount_refunded`: a partial refund leaves the status `approved`
    # (status_detail `partially_refunded`) and raises this; a full one makes it
    # `refunded`.
    amount_refunded: Decimal = Decimal(0)


def preference_body(*, reference: str, title: str, amount: Decimal, currency: str,
                    expires_from: datetime, expires_to: datetime,
                    back_url: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A Checkout Pro preference for one amount, payable once, until `expires_to`."""
    body: dict[str, Any] = {
        "items": [{"id": reference, "title": title[:256], "quantity": 1,
                   "currency_id": currency, "unit_price": float(amount)}],
        "external_reference": reference,
        "expires": True,
        "expiration_date_from": expires_from.isoformat(timespec="milliseconds"),
        "expiration_date_to": expires_to.isoformat(timespec="milliseconds"),
        "payment_methods": {"installments": 1},
    }  # fmt: skip
    if back_url:
        body["back_urls"] = {"success": back_url, "pending": back_url, "failure": back_url}
    return body


class MercadoPagoClient:
    def __init__(self, settings: MercadoPagoSettings) -> None:
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

    async def create_preference(self, body: Mapping[str, Any], idempotency_key: str) -> Preference:
        answer = await self._call("POST", "/checkout/preferences", body,
                                  {IDEMPOTENCY_HEADER: idempotency_key})  # fmt: skip
        pref_id, url = answer.get("id"), answer.get("init_point")
        if not isinstance(pref_id, str) or not isinstance(url, str) or not url.startswith("http"):
            raise ApiUnavailable("Mercado Pago answered a preference without id or init_point")
        return Preference(pref_id, url)

    async def get_payment(self, payment_id: str) -> Payment:
        if not payment_id.isdigit() or len(payment_id) > 20:
            raise ValueError(f"not a Mercado Pago payment id: {payment_id[:40]!r}")
        return parse_payment(await self._call("GET", f"/v1/payments/{payment_id}"))

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                    headers: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
        url = self.settings.api_base.rstrip("/") + path
        sent = {"Authorization": f"Bearer {self.settings.access_token}", **(headers or {})}
        try:
            async with self._http().request(method, url, json=body, headers=sent) as response:
                status = response.status
                received = bytearray()
                async for chunk in response.content.iter_any():
                    received += chunk
                    if len(received) > MAX_ANSWER_BYTES:
                        raise ApiUnavailable(f"Mercado Pago answer over {MAX_ANSWER_BYTES} bytes")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ApiUnavailable(f"no answer from Mercado Pago: {exc!r}") from exc
        try:
            answer = json.loads(bytes(received)) if received else {}
        except ValueError:
            answer = None
        if status >= 500 or not isinstance(answer, dict):
            raise ApiUnavailable(f"Mercado Pago answered HTTP {status}")
        if status == 404:
            raise NotFound(status, str(answer.get("message") or "not found")[:300])
        if status >= 400:
            raise ApiRefused(status, str(answer.get("message") or answer.get("error"))[:300])
        return answer


def parse_payment(answer: Mapping[str, Any]) -> Payment:
    """A payment object as GET /v1/payments/{id} answers it; ApiUnavailable when the
    fields we need are missing or wrong (we cannot act on it)."""
    try:
        payment_id = str(answer["id"])
        status = str(answer["status"])
        amount = Decimal(str(answer["transaction_amount"]))
        currency = str(answer["currency_id"])
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ApiUnavailable(f"Mercado Pago payment without {exc}") from exc
    if not payment_id.isdigit() or status not in PAYMENT_STATUSES or len(currency) != 3:
        raise ApiUnavailable(f"Mercado Pago payment {payment_id[:40]!r} is not readable")
    if not amount.is_finite() or amount < 0:
        raise ApiUnavailable(f"Mercado Pago payment {payment_id} has amount {amount}")
    try:
        refunded = Decimal(str(answer.get("transaction_amount_refunded") or 0))
    except InvalidOperation as exc:
        raise ApiUnavailable(f"Mercado Pago payment {payment_id} has no readable "
                             "transaction_amount_refunded") from exc  # fmt: skip
    if not refunded.is_finite() or not 0 <= refunded <= amount:
        raise ApiUnavailable(f"Mercado Pago payment {payment_id} refunded {refunded} "
                             f"of {amount}")  # fmt: skip
    reference = answer.get("external_reference")
    return Payment(
        id=payment_id,
        status=status,
        status_detail=str(answer.get("status_detail") or "")[:80],
        amount=amount,
        currency=currency.upper(),
        external_reference=str(reference)[:MAX_ID_CHARS] if reference else None,
        date_approved=_instant(answer.get("date_approved")),
        date_created=_instant(answer.get("date_created")),
        amount_refunded=refunded,
    )


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# --- webhooks ------------------------------------------------------------------


class SignatureError(ValueError):
    """A notification whose signature does not hold; `reason` is a stable code:
    missing, malformed, stale, mismatch."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class WebhookInputError(ValueError):
    """A notification that is not what Mercado Pago sends: the message says what."""


def manifest(data_id: str, request_id: str, ts: str) -> str:
    """The signed text, as Mercado Pago documents it (alphanumeric ids lower-cased)."""
    return f"id:{data_id.lower()};request-id:{request_id};ts:{ts};"


def sign(secret: str, data_id: str, request_id: str, ts: int) -> str:
    """The x-signature header Mercado Pago sends (for the local stand-in and tests)."""
    digest = hmac.new(secret.encode(), manifest(data_id, request_id, str(ts)).encode(),
                      hashlib.sha256).hexdigest()  # fmt: skip
    return f"ts={ts},v1={digest}"


def parse_signature(header: str | None) -> tuple[str, str]:
    """(ts, v1) of an x-signature header; SignatureError when absent or malformed."""
    if not header:
        raise SignatureError("missing", f"no {SIGNATURE_HEADER} header")
    if len(header) > 300:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} over 300 characters")
    parts: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key in parts:
            raise SignatureError("malformed", f"{SIGNATURE_HEADER} is not ts=...,v1=...")
        parts[key] = value.strip()
    ts, v1 = parts.get("ts", ""), parts.get("v1", "")
    if not ts.isascii() or not ts.isdigit() or len(ts) > 13:  # "²" is a digit, no int
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} has no numeric ts")
    if not _HEX64.match(v1):
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} has no 64-hex-digit v1")
    return ts, v1


def verify_signature(header: str | None, request_id: str | None, data_id: str, secret: str,
                     now: float, max_age_seconds: float) -> None:  # fmt: skip
    """Raises SignatureError unless `header` signs (data_id, request_id) with `secret`
    at a time within `max_age_seconds` of `now` (epoch seconds, either side)."""
    if not secret:
        raise SignatureError("mismatch", "no webhook secret configured: nothing can be verified")
    ts, v1 = parse_signature(header)
    if not request_id:
        raise SignatureError("missing", f"no {REQUEST_ID_HEADER} header")
    if len(request_id) > MAX_REQUEST_ID_CHARS or not request_id.isprintable():
        raise SignatureError("malformed", f"{REQUEST_ID_HEADER} is not a request id")
    expected = hmac.new(secret.encode(), manifest(data_id, request_id, ts).encode(),
                        hashlib.sha256).hexdigest()  # fmt: skip
    if not hmac.compare_digest(expected, v1.lower()):
        raise SignatureError("mismatch", "signature does not match")
    signed_at = int(ts) / 1000 if int(ts) >= _MS_THRESHOLD else int(ts)
    if abs(now - signed_at) > max_age_seconds:
        raise SignatureError("stale", f"signature timestamp {ts} is over {max_age_seconds:g} s "
                                      "from now: an old delivery replayed, or a wrong clock")  # fmt: skip


@dataclass(frozen=True)
class Notification:
    type: str  # payment, merchant_order, ...
    action: str  # payment.created, payment.updated, ...
    data_id: str


def parse_notification(query: Mapping[str, str], body: bytes) -> Notification:
    """The notification's topic and resource id: `data.id` and `type` of the URL (what
    the signature covers), checked against the JSON body when it carries them."""
    data_id = query.get("data.id", "")
    if not _ID.match(data_id):
        raise WebhookInputError("the URL has no data.id (letters, digits, - and _, up to 64)")
    try:
        payload = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the depth
        raise WebhookInputError("body is not JSON") from exc
    if not isinstance(payload, dict):
        raise WebhookInputError("body is not a JSON object")
    data = payload.get("data")
    if data is not None and not isinstance(data, dict):
        raise WebhookInputError("data is not an object")
    body_id = (data or {}).get("id")
    if body_id is not None and str(body_id).lower() != data_id.lower():
        raise WebhookInputError("data.id of the body differs from data.id of the URL")
    kind = query.get("type") or payload.get("type") or ""
    action = payload.get("action") or ""
    if (
        not isinstance(kind, str)
        or not isinstance(action, str)
        or len(kind) > 40
        or len(action) > 60
    ):
        raise WebhookInputError("type or action is not a short text")
    if not kind:
        raise WebhookInputError("no type in the URL or the body")
    if kind == "payment" and not data_id.isdigit():
        raise WebhookInputError("a payment's data.id is digits")
    return Notification(kind, action, data_id)


def notification_body(payment_id: str, action: str, *, user_id: int = 1,
                      live_mode: bool = False, created: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """A payment notification's body as Mercado Pago sends it (the local stand-in)."""
    return {"action": action, "api_version": "v1", "data": {"id": payment_id},
            "date_created": (created or datetime.now().astimezone()).isoformat(),
            "id": int(payment_id) + 10**11, "live_mode": live_mode, "type": "payment",
            "user_id": user_id}  # fmt: skip
