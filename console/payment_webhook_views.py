"""The webhook Mercado Pago calls when a payment of a link is created or changes.
Thin: bound the body, check the signature (x-signature over the URL's data.id, the
request id and a fresh timestamp), parse, read the payment from Mercado Pago (never
from the body), record it once (selfservice/payment_links.py), and when the account
is paid take it out of the hopper and hang up its ringing call (StopAccount).

No session, no CSRF token: Mercado Pago is not a browser, the signature is the
authentication. Bad input is a 4xx with its reason, never a 500; a provider or
database we cannot reach is a 503, so Mercado Pago sends the notification again.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web
from redis.exceptions import RedisError

from console.keys import CLOCK, ENGINE, REDIS, SETTINGS
from dialer.hopper import Hopper
from dialer.messages import Notifier, StopAccount
from gateways import mercadopago as mp
from metrics.definitions import PAYMENT_NOTIFICATIONS
from selfservice.payment_links import (
    MercadoPagoProvider,
    PaymentProvider,
    ProviderUnavailable,
    UnknownPayment,
    settle,
)
from store.audit import append as audit_append

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/payments/mercadopago/webhook"
GATEWAYS = ("mercadopago", "simulated")
# Reached without a session or a CSRF token (console/app.py context_middleware).
UNSESSIONED_PATHS = frozenset({WEBHOOK_PATH})


@dataclass
class PaymentWebhook:
    provider: PaymentProvider
    secret: str
    max_age_seconds: float
    # The signature's freshness is judged on the wall clock (the business clock of the
    # demo may be shifted): time.time unless a test gives another.
    wall_clock: Callable[[], float] = field(default=time.time)


PAYMENT_WEBHOOK: web.AppKey[PaymentWebhook] = web.AppKey("payment_webhook")


def payment_provider(app: web.Application) -> PaymentProvider | None:
    """The provider links are made with (selfservice.payment_links.create_link), for the
    portal's and the assistant's handlers; None when no payment gateway is configured."""
    webhook = app.get(PAYMENT_WEBHOOK)
    return webhook.provider if webhook is not None else None


def _refused(status: type[web.HTTPException], outcome: str, reason: str) -> web.HTTPException:
    PAYMENT_NOTIFICATIONS.labels(outcome).inc()
    log.info("Mercado Pago notification refused (%s): %s", outcome, reason)
    return status(text=f"refused: {reason}\n")


def _too_large(size: int) -> web.HTTPException:
    limit = mp.MAX_WEBHOOK_BYTES
    PAYMENT_NOTIFICATIONS.labels("too_large").inc()
    return web.HTTPRequestEntityTooLarge(limit, size, text=f"refused: body over {limit} bytes\n")


async def _bounded_body(request: web.Request) -> bytes:
    limit = mp.MAX_WEBHOOK_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(request.content_length)
    received = bytearray()
    async for chunk in request.content.iter_any():  # never past the bound
        received += chunk
        if len(received) > limit:
            raise _too_large(len(received))
    return bytes(received)


async def mercadopago_webhook(request: web.Request) -> web.Response:
    hook = request.app[PAYMENT_WEBHOOK]
    body = await _bounded_body(request)
    data_id = request.query.get("data.id", "")
    if not data_id or len(data_id) > mp.MAX_ID_CHARS:
        raise _refused(web.HTTPBadRequest, "malformed", "the URL has no data.id")
    try:
        mp.verify_signature(request.headers.get(mp.SIGNATURE_HEADER),
                            request.headers.get(mp.REQUEST_ID_HEADER), data_id, hook.secret,
                            hook.wall_clock(), hook.max_age_seconds)  # fmt: skip
    except mp.SignatureError as exc:
        if exc.reason == "malformed":
            raise _refused(web.HTTPBadRequest, "malformed", str(exc)) from exc
        outcome = "stale" if exc.reason == "stale" else "bad_signature"
        raise _refused(web.HTTPUnauthorized, outcome, str(exc)) from exc
    try:
        notification = mp.parse_notification(request.query, body)
    except mp.WebhookInputError as exc:
        raise _refused(web.HTTPBadRequest, "malformed", str(exc)) from exc
    if notification.type != "payment":
        PAYMENT_NOTIFICATIONS.labels("ignored").inc()
        return web.Response(text=f"ignored: topic {notification.type} is not a payment\n")
    try:
        result = await settle(request.app[ENGINE], hook.provider, notification.data_id,
                              now=request.app[CLOCK](), audit=audit_append)  # fmt: skip
    except UnknownPayment as exc:
        raise _refused(web.HTTPNotFound, "unknown_payment",
                       f"Mercado Pago knows no payment {notification.data_id}") from exc  # fmt: skip
    except ProviderUnavailable as exc:
        PAYMENT_NOTIFICATIONS.labels("unavailable").inc()
        log.warning("payment %s not read from Mercado Pago: %s", notification.data_id, exc)
        raise web.HTTPServiceUnavailable(text="Mercado Pago did not answer; send again\n") from exc
    PAYMENT_NOTIFICATIONS.labels(result.outcome).inc()
    if result.account_paid and result.account_id is not None:
        await _stop_dialing(request, result.account_id, result.campaign)
    return web.Response(text=f"{result.outcome}: {result.reason}\n")


async def _stop_dialing(request: web.Request, account_id: int, campaign: str | None) -> None:
    """The account is paid in SQL already (every final check reads it); out of the
    hopper now and its ringing call hung up by the loop that placed it."""
    redis = request.app[REDIS]
    try:
        if campaign is not None:
            await Hopper(redis, campaign).remove(account_id)
        await Notifier(redis).send(StopAccount(account_id, "paid", campaign))
    except (RedisError, OSError) as exc:
        log.warning("account %s paid; hopper not told now (%s): the final check holds it",
                    account_id, exc)  # fmt: skip


async def _client_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    token, secret = settings.mercadopago_access_token, settings.mercadopago_webhook_secret
    api_base, local = settings.mercadopago_api_base, None
    if settings.payment_gateway == "simulated":
        # The local stand-in, calling this console back (gateways/mercadopago_local.py).
        from gateways.mercadopago_local import LocalMercadoPago

        token, secret = "APP_USR-simulated-" + secrets.token_hex(8), secrets.token_urlsafe(24)
        scheme = "https" if settings.console_tls_cert else "http"
        host = (
            settings.console_host if settings.console_host not in ("0.0.0.0", "::") else "127.0.0.1"
        )
        local = LocalMercadoPago(access_token=token, webhook_secret=secret,
                                 webhook_url=f"{scheme}://{host}:{settings.console_port}{WEBHOOK_PATH}",
                                 clock=app[CLOCK])  # fmt: skip
        api_base = await local.start()
        log.info("payments: simulated Mercado Pago at %s (no card data)", api_base)
    client = mp.MercadoPagoClient(mp.MercadoPagoSettings(token, secret, api_base=api_base))
    app[PAYMENT_WEBHOOK] = PaymentWebhook(MercadoPagoProvider(client), secret,
                                          settings.mercadopago_webhook_max_age_seconds)  # fmt: skip
    yield
    with contextlib.suppress(Exception):
        await client.close()
    if local is not None:
        await local.stop()


def setup_routes(app: web.Application, webhook: PaymentWebhook | None = None) -> None:
    """The route when payments are configured: `webhook` given (tests), or the settings'
    payment_gateway (its client lives in a cleanup context)."""
    # payment_link_hours (how long the portal's and the assistant's links are open) was
    # bounded when the settings were built (cobrador/ground/setting_bounds.py).
    settings = app[SETTINGS]
    if webhook is not None:
        app[PAYMENT_WEBHOOK] = webhook
    elif settings.payment_gateway:
        if settings.payment_gateway not in GATEWAYS:
            raise ValueError(f"payment_gateway {settings.payment_gateway!r}: use "
                             "mercadopago or simulated (or leave it empty)")  # fmt: skip
        if settings.payment_gateway == "mercadopago" and not (
            settings.mercadopago_access_token and settings.mercadopago_webhook_secret
        ):
            raise ValueError("payment_gateway needs mercadopago_access_token and "
                             "mercadopago_webhook_secret (docs/payments.md)")  # fmt: skip
        app.cleanup_ctx.append(_client_ctx)
    else:
        return
    app.router.add_post(WEBHOOK_PATH, mercadopago_webhook)
