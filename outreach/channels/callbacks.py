"""The HTTP endpoint providers call back: Kannel's delivery reports and replies (and
the WhatsApp webhook, `outreach.channels.whatsapp`). Thin: check who is calling,
parse, hand to the transport, answer. Bad input is a 4xx with its reason, never a 500;
an error of ours while recording a reply is a 503 so the provider tries again."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from gateways.kannel import KannelInputError
from outreach.channels.message_channel import refused
from outreach.channels.sms_kannel import KannelTransport
from store.models import ContactChannel

log = logging.getLogger(__name__)

KANNEL = web.AppKey("kannel", KannelTransport)
# Bodies providers send are a few KiB; anything bigger is refused before it is read.
MAX_BODY_BYTES = 64 * 1024


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


def init_app(*, kannel: KannelTransport | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    if kannel is not None:
        app[KANNEL] = kannel
        app.router.add_get("/kannel/dlr", kannel_dlr)
        app.router.add_get("/kannel/mo", kannel_mo)
    return app
