"""A local stand-in for Mercado Pago, for tests and the demo: serves
`POST /checkout/preferences`, `GET /v1/payments/{id}` and `POST /v1/payments/{id}/refunds`
(the whole payment, or `{"amount": ...}` of it: a partial refund keeps the payment
`approved`, status_detail `partially_refunded`, and raises
`transaction_amount_refunded`; the last cent makes it `refunded`) as the published API
does (bearer token, Mercado Pago's error objects), a checkout page per preference where a
simulated debtor pays with one button (no card form: nothing of a card exists here),
and calls the webhook with each payment's notification, signed as Mercado Pago signs
(x-signature over id, request id and timestamp); a notification answered with anything
but 2xx is sent again a few times, as Mercado Pago does.

Its payments, refunds and preferences are dated by `clock` (the demo's under `--at`:
a receipt stamped with the wall clock would be days off the demo's day); the
notifications' signatures keep the wall clock, which the webhook judges them by."""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

from gateways.mercadopago import REQUEST_ID_HEADER, SIGNATURE_HEADER, notification_body, sign

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    """One notification and the HTTP status of each try (0: no connection)."""

    payment_id: str
    action: str
    answers: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


class LocalMercadoPago:
    def __init__(self, *, access_token: str, webhook_secret: str, webhook_url: str = "",
                 retries: int = 3, user_id: int = 123456789,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.access_token = access_token
        self.clock = clock
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.retries = retries
        self.user_id = user_id
        self.preferences: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.deliveries: list[Delivery] = []
        self.idempotency: dict[str, str] = {}  # key -> preference id
        self._ids = itertools.count(90_000_000_001)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """The API base to configure (http://host:port)."""
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/checkout/preferences", self._create_preference)
        app.router.add_get("/v1/payments/{payment_id}", self._get_payment)
        app.router.add_post("/v1/payments/{payment_id}/refunds", self._refund)
        app.router.add_get("/checkout/v1/redirect", self._checkout_page)
        app.router.add_post("/checkout/v1/pay", self._checkout_pay)
        # A stand-in for the cloud: the cloud's own access log is not ours to keep,
        # and in `cobrador demo` it buried the system's log under a line per request.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.base_url = f"http://{host}:{self._runner.addresses[0][1]}"
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self.base_url

    def _stamp(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="milliseconds")

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the debtor's side -----------------------------------------------------

    async def pay(self, preference_id: str, *, status: str = "approved",
                  amount: Decimal | None = None, notify: bool = True) -> str:  # fmt: skip
        """The debtor pays the preference (its amount unless `amount`): the payment id;
        Mercado Pago notifies payment.created."""
        pref = self.preferences[preference_id]
        item = pref["items"][0]
        payment_id = str(next(self._ids))
        now = self._stamp()
        self.payments[payment_id] = {
            "id": int(payment_id), "status": status,
            "status_detail": "accredited" if status == "approved" else status,
            "transaction_amount": float(amount if amount is not None else item["unit_price"]),
            "currency_id": item["currency_id"], "external_reference": pref["external_reference"],
            "date_created": now, "date_approved": now if status == "approved" else None,
            "description": item["title"], "payment_type_id": "account_money",
            "live_mode": False, "collector_id": self.user_id,
            "transaction_amount_refunded": 0.0, "refunds": [],
        }  # fmt: skip
        if notify:
            await self.notify(payment_id, "payment.created")
        return payment_id

    async def change(self, payment_id: str, status: str, *, notify: bool = True) -> None:
        """The payment's status changes (approved later, refunded): payment.updated."""
        payment = self.payments[payment_id]
        payment["status"] = status
        if status == "refunded":
            payment["transaction_amount_refunded"] = payment["transaction_amount"]
        if status == "approved":
            payment["date_approved"] = self._stamp()
        if notify:
            await self.notify(payment_id, "payment.updated")

    async def refund(self, payment_id: str, amount: Decimal | None = None, *,
                     notify: bool = True) -> dict[str, Any]:  # fmt: skip
        """The collector refunds the payment, all that is left of it or `amount`, as
        `POST /v1/payments/{id}/refunds` does: the refund object; ValueError with
        Mercado Pago's message when it cannot be (not approved, above what is left)."""
        payment = self.payments[payment_id]
        total = Decimal(str(payment["transaction_amount"]))
        done = Decimal(str(payment["transaction_amount_refunded"]))
        left = total - done
        value = left if amount is None else amount
        if payment["status"] != "approved":
            raise ValueError(f"Payment with status {payment['status']} cannot be refunded")
        if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
            raise ValueError("Invalid refund amount")
        if value > left:
            raise ValueError("The amount to refund exceeds the available amount")
        done += value
        refund = {"id": next(self._ids), "payment_id": int(payment_id), "amount": float(value),
                  "status": "approved", "source": {"type": "collector"},
                  "date_created": self._stamp()}  # fmt: skip
        payment["refunds"].append(refund)
        payment["transaction_amount_refunded"] = float(done)
        if done == total:
            payment["status"] = payment["status_detail"] = "refunded"
        else:
            payment["status_detail"] = "partially_refunded"
        if notify:
            await self.notify(payment_id, "payment.updated")
        return refund

    async def notify(self, payment_id: str, action: str, *, secret: str | None = None,
                     ts: int | None = None, request_id: str | None = None) -> Delivery:  # fmt: skip
        """Sends (and re-sends on non-2xx) a signed notification; `secret`, `ts` and
        `request_id` let a test forge or age one."""
        delivery = Delivery(payment_id, action)
        self.deliveries.append(delivery)
        if not self.webhook_url or self._http is None:
            return delivery
        body = notification_body(payment_id, action, user_id=self.user_id)
        separator = "&" if "?" in self.webhook_url else "?"
        url = f"{self.webhook_url}{separator}data.id={payment_id}&type=payment"
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(0.1)
            rid = request_id or str(uuid.uuid4())  # each delivery is a new request
            headers = {SIGNATURE_HEADER: sign(secret if secret is not None else self.webhook_secret,
                                              payment_id, rid, ts if ts is not None else int(time.time())),
                       REQUEST_ID_HEADER: rid}  # fmt: skip
            try:
                async with self._http.post(url, json=body, headers=headers) as answer:
                    delivery.answers.append(answer.status)
                    delivery.reasons.append((await answer.text())[:200])
                    if answer.status < 300:
                        return delivery
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("notification not delivered (%s); again", exc)
                delivery.answers.append(0)
                delivery.reasons.append(str(exc)[:200])
        return delivery

    # --- the API -----------------------------------------------------------------

    @staticmethod
    def _error(status: int, error: str, message: str) -> web.Response:
        return web.json_response({"message": message, "error": error, "status": status,
                                  "cause": []}, status=status)  # fmt: skip

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.access_token}"

    async def _create_preference(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, "unauthorized", "invalid access token")
        key = request.headers.get("X-Idempotency-Key", "")
        if key and key in self.idempotency:
            return web.json_response(self._preference_answer(self.idempotency[key]), status=201)
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "bad_request", "body is not JSON")
        problem = self._preference_problem(body)
        if problem:
            return self._error(400, "invalid_items", problem)
        pref_id = f"{self.user_id}-{uuid.uuid4()}"
        self.preferences[pref_id] = {**body, "id": pref_id,
                                     "date_created": self.clock().isoformat()}  # fmt: skip
        if key:
            self.idempotency[key] = pref_id
        return web.json_response(self._preference_answer(pref_id), status=201)

    def _preference_answer(self, pref_id: str) -> dict[str, Any]:
        url = f"{self.base_url}/checkout/v1/redirect?pref_id={pref_id}"
        return {**self.preferences[pref_id], "init_point": url, "sandbox_init_point": url,
                "collector_id": self.user_id}  # fmt: skip

    @staticmethod
    def _preference_problem(body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body is not an object"
        items = body.get("items")
        if not isinstance(items, list) or not items:
            return "items needed"
        for item in items:
            if not isinstance(item, dict) or not item.get("title"):
                return "item.title needed"
            try:
                price = Decimal(str(item.get("unit_price")))
            except InvalidOperation:
                return "item.unit_price must be a number"
            if not price.is_finite() or price <= 0 or item.get("quantity") != 1:
                return "item.unit_price must be positive and quantity 1"
            currency = item.get("currency_id")
            if not isinstance(currency, str) or len(currency) != 3:
                return "item.currency_id must be a currency code"
        return None

    async def _get_payment(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, "unauthorized", "invalid access token")
        payment = self.payments.get(request.match_info["payment_id"])
        if payment is None:
            return self._error(404, "not_found", "Payment not found")
        return web.json_response(payment)

    async def _refund(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, "unauthorized", "invalid access token")
        payment_id = request.match_info["payment_id"]
        if payment_id not in self.payments:
            return self._error(404, "not_found", "Payment not found")
        try:
            body = await request.json() if await request.read() else {}
        except ValueError:
            return self._error(400, "bad_request", "body is not JSON")
        raw = body.get("amount") if isinstance(body, dict) else None
        try:
            amount = None if raw is None else Decimal(str(raw))
            refund = await self.refund(payment_id, amount)
        except (InvalidOperation, ValueError) as exc:
            return self._error(400, "bad_request", str(exc) or "Invalid refund amount")
        return web.json_response(refund, status=201)

    async def _checkout_page(self, request: web.Request) -> web.Response:
        pref = self.preferences.get(request.query.get("pref_id", ""))
        if pref is None:
            return web.Response(status=404, text="preferencia no encontrada\n")
        item = pref["items"][0]
        page = (
            "<!doctype html><meta charset=utf-8><title>Mercado Pago (simulado)</title>"
            f"<h1>{html.escape(str(item['title']))}</h1>"
            f"<p>{html.escape(str(item['currency_id']))} {item['unit_price']:.2f}</p>"
            "<p>Pago simulado: aquí no se escribe ninguna tarjeta.</p>"
            f"<form method=post action=/checkout/v1/pay><input type=hidden name=pref_id "
            f"value='{html.escape(pref['id'])}'><button>Pagar</button></form>"
        )
        return web.Response(text=page, content_type="text/html")

    async def _checkout_pay(self, request: web.Request) -> web.Response:
        form = await request.post()
        pref_id = str(form.get("pref_id", ""))
        if pref_id not in self.preferences:
            return web.Response(status=404, text="preferencia no encontrada\n")
        payment_id = await self.pay(pref_id)
        return web.Response(text=f"<!doctype html><meta charset=utf-8><p>Pago aprobado "
                                 f"(operación {payment_id}).</p>", content_type="text/html")  # fmt: skip
