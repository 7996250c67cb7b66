"""The HTTP endpoint providers call back: Kannel's delivery reports and replies, and
the WhatsApp Cloud API's signed webhook (statuses and replies). Thin: check who is calling,
parse, hand to the transport, answer. Bad input is a 4xx with its reason, never a 500;
an error of ours while recording a reply is a 503 so the provider tries again."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from gateways.kannel import KannelInputError
from gateways.whatsapp.cloud_api import (
    MAX_WEBHOOK_BYTES,
    SIGNATURE_HEADER,
    WebhookInputError,
    signature_ok,
)
from outreach.channels.message_channel import refused
from outreach.channels.sms_kannel import KannelTransport
from outreach.channels.whatsapp import CloudApiTransport
from store.models import ContactChannel

log = logging.getLogger(__name__)

KANNEL = web.AppKey("kannel", KannelTransport)
WHATSAPP = web.AppKey("whatsapp", CloudApiTransport)
# Bodies providers send are a few KiB; anything bigger is refused before it is read.
MAX_BODY_BYTES = MAX_WEBHOOK_BYTES


def _kannel(request: web.Request) -> KannelTransport:
    transport = request.app[KANNEL]
    token = request.query.get("token", "")
    if not hmac.compare_digest(token.encode(), transport.settings.callback_token.encode()):
        refused(ContactChannel.sms, "bad_signature")
        raise web.HTTPForbidden(text="bad or missing token\n")
    return transport


async def kannel_dlr(request: web.Request) -> web.Response:
    transport = _kannel(request)
    try:
        known = await transport.on_dlr(request.query)
    except KannelInputError as exc:
        refused(ContactChannel.sms, "malformed")
        raise web.HTTPBadRequest(text=f"{exc}\n") from exc
    return web.Response(text="ok\n" if known else "ignored: unknown or repeated\n")


async def kannel_mo(request: web.Request) -> web.Response:
    transport = _kannel(request)
    try:
        await transport.on_mo(request.query)
    except KannelInputError as exc:
        refused(ContactChannel.sms, "malformed")
        raise web.HTTPBadRequest(text=f"{exc}\n") from exc
    except Exception as exc:
        log.exception("a reply could not be recorded; Kannel will send it again")
        raise web.HTTPServiceUnavailable(text="reply not recorded, try again\n") from exc
    # An empty body: Kannel sends nothing back to the debtor.
    return web.Response(text="")


async def whatsapp_verify(request: web.Request) -> web.Response:
    """Meta's one-time check of the webhook URL: echo the challenge if the token is ours."""
    transport = request.app[WHATSAPP]
    token = request.query.get("hub.verify_token", "")
    expected = transport.settings.verify_token
    if (request.query.get("hub.mode") != "subscribe" or not expected
            or not hmac.compare_digest(token.encode(), expected.encode())):  # fmt: skip
        raise web.HTTPForbidden(text="verification refused: wrong mode or verify token\n")
    return web.Response(text=request.query.get("hub.challenge", "")[:200])


async def whatsapp_webhook(request: web.Request) -> web.Response:
    transport = request.app[WHATSAPP]
    whatsapp = ContactChannel.whatsapp
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
        refused(whatsapp, "too_large")
        raise web.HTTPRequestEntityTooLarge(MAX_WEBHOOK_BYTES, request.content_length,
                                            text=f"body over {MAX_WEBHOOK_BYTES} bytes\n")  # fmt: skip
    received = bytearray()
    async for chunk in request.content.iter_any():  # to the end, never past the bound
        received += chunk
        if len(received) > MAX_WEBHOOK_BYTES:
            refused(whatsapp, "too_large")
            raise web.HTTPRequestEntityTooLarge(MAX_WEBHOOK_BYTES, len(received),
                                                text=f"body over {MAX_WEBHOOK_BYTES} bytes\n")  # fmt: skip
    body = bytes(received)
    if not signature_ok(body, request.headers.get(SIGNATURE_HEADER), transport.settings.app_secret):
        refused(whatsapp, "bad_signature")
        raise web.HTTPUnauthorized(text=f"bad or missing {SIGNATURE_HEADER}\n")
    try:
        recorded, replies = await transport.on_webhook(body)
    except WebhookInputError as exc:
        refused(whatsapp, "malformed")
        raise web.HTTPBadRequest(text=f"{exc}\n") from exc
    except Exception as exc:
        log.exception("a WhatsApp notification could not be recorded; Meta will send it again")
        raise web.HTTPServiceUnavailable(text="not recorded, try again\n") from exc
    return web.Response(text=f"ok: {recorded} statuses recorded, {replies} replies\n")


def init_app(*, kannel: KannelTransport | None = None,
             whatsapp: CloudApiTransport | None = None) -> web.Application:  # fmt: skip
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    if kannel is not None:
        app[KANNEL] = kannel
        app.router.add_get("/kannel/dlr", kannel_dlr)
        app.router.add_get("/kannel/mo", kannel_mo)
    if whatsapp is not None:
        app[WHATSAPP] = whatsapp
        app.router.add_get("/whatsapp/webhook", whatsapp_verify)
        app.router.add_post("/whatsapp/webhook", whatsapp_webhook)
    return app
