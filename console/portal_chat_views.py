"""The portal's chat box (`/p/cuenta/chat`): the debtor's conversation with the assistant
and, once handed over, with an agent. Thin: the verified portal session names the
account (never a form field), the chat service (selfservice/chat_service.py) does the
rest; the page works without JavaScript (POST, redirect, GET) and portal_chat.js only
fetches new messages while the page is open, so an agent's reply shows without a reload.

The conversation shown is the account's latest on the portal's channel: a debtor who
comes back through a new link (a new portal session) still finds the agent's reply.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from compliance.debtor_time import debtor_zones
from console.i18n import N_, gettext_
from console.keys import CHAT, CLOCK, ENGINE, LANG
from console.portal_chat_glance import SHOWN_SENDERS, latest_conversation, when_label
from console.portal_views import _debtor, _pii_view, _render
from selfservice import conversations as conv
from selfservice import debtor_actions as da
from selfservice.chat_service import PORTAL, Incoming
from store.db import transaction
from store.models import Account

PAGE = "/p/cuenta/chat"
MAX_ECHO = 4 * conv.MAX_TEXT  # characters of a refused message put back in the box
POLL_SECONDS = 4  # portal_chat.js asks for new messages this often while the page is open

SENDER_LABELS = {
    "debtor": N_("Usted"),
    "assistant": N_("Asistente"),
    "agent": N_("Asesor"),
}
STATE_NOTES = {
    "bot": "",
    "queued": N_("Un asesor le atenderá en cuanto esté libre; puede seguir escribiendo aquí."),
    "agent": N_("Le atiende un asesor."),
    "closed": N_("Esta conversación terminó. Escriba si quiere empezar otra."),
}
# What the debtor reads when a message is refused (conversations.ChatError.code).
REFUSALS = {
    "empty": N_("Escriba su mensaje antes de enviarlo."),
    "too_long": N_("Su mensaje es demasiado largo: escriba hasta 1000 caracteres."),
    "throttled": N_(
        "Ha enviado muchos mensajes en la última hora. Espere un momento antes de escribir "
        "de nuevo, o pida que le llamemos."
    ),
    "invalid": N_("No pudimos recibir su mensaje; inténtelo de nuevo."),
}
UNAVAILABLE = N_("El chat no está disponible en este momento; inténtelo en unos minutos.")


@dataclass(frozen=True)
class Shown:
    """The conversation the page shows (none yet: conversation_id 0)."""

    conversation_id: int
    address: str
    state: str
    messages: list[dict[str, Any]]
    zone: str
    country: str  # the account's: the Spanish its times are written in
    campaign_id: int | None = None  # the account's: the conversation's and its ledger rows'


def _zone(account: Account) -> str:
    # The region too: an account zoned by its state alone was shown in UTC here while
    # the account page (selfservice/debtor_actions.py summary) showed its own clock.
    zones = debtor_zones(account.timezone, account.country, account.region, None)
    return zones[0].key if zones else "UTC"


def shown(engine: Engine, account_id: int, now: datetime, after_id: int = 0, *,
          with_messages: bool = True) -> Shown:  # fmt: skip
    """The account's portal conversation and its messages after `after_id` (the debtor's,
    the assistant's and the agents'; none read without `with_messages`), with the
    account's zone and country."""
    with transaction(engine) as s:
        account = s.get(Account, account_id)
        if account is None:
            raise web.HTTPNotFound()
        zone, country = _zone(account), account.country
        c = latest_conversation(s, account_id, now)
        if c is None:
            return Shown(0, "", "bot", [], zone, country, account.campaign_id)
        read = conv.transcript(s, c.id, after_id=after_id) if with_messages else []
        messages = [m for m in read if m["sender"] in SHOWN_SENDERS]
        return Shown(c.id, c.address, c.state, messages, zone, country, account.campaign_id)


def _lines(view: Shown, lang: str) -> list[dict[str, Any]]:
    return [
        {"id": m["id"], "sender": m["sender"], "text": m["text"],
         "who": gettext_(SENDER_LABELS[m["sender"]]),
         "when": when_label(datetime.fromisoformat(m["at"]), view.zone, view.country, lang)}
        for m in view.messages
    ]  # fmt: skip


def _state_note(view: Shown) -> str:
    note = STATE_NOTES.get(view.state, "")
    return gettext_(note) if note else ""


async def _page(request: web.Request, debtor: da.Debtor, *, error: str = "", text: str = "",
                status: int = 200) -> web.Response:  # fmt: skip
    now = request.app[CLOCK]()
    engine = request.app[ENGINE]
    view = await asyncio.to_thread(shown, engine, debtor.account_id, now)
    await asyncio.to_thread(_pii_view, engine, debtor, "portal_chat", now)
    lines = _lines(view, request.get(LANG, "es"))
    return _render(request, "portal_chat.html", {
        "chat": {"conversation_id": view.conversation_id, "state": view.state,
                 "note": _state_note(view), "lines": lines,
                 "last_id": lines[-1]["id"] if lines else 0, "poll_seconds": POLL_SECONDS,
                 "max_text": conv.MAX_TEXT, "error": error, "text": text,
                 "available": request.app[CHAT].service is not None},
    }, status=status)  # fmt: skip


async def page(request: web.Request) -> web.StreamResponse:
    debtor = await _debtor(request)
    return await _page(request, debtor)


async def send(request: web.Request) -> web.StreamResponse:
    """The debtor's message, through the chat service as the verified portal session's
    account; refused with the reason on the page (400, 429, 503), else back to the page."""
    debtor = await _debtor(request)
    form = await request.post()
    raw = form.get("text", "")
    if not isinstance(raw, str):
        return await _page(request, debtor, error=gettext_(REFUSALS["invalid"]), status=400)
    if len(raw) > MAX_ECHO:  # not worth cleaning: far past the bound
        return await _page(request, debtor, error=gettext_(REFUSALS["too_long"]),
                           text=raw[:MAX_ECHO], status=400)  # fmt: skip
    service = request.app[CHAT].service
    if service is None:
        return await _page(request, debtor, error=gettext_(UNAVAILABLE), text=raw, status=503)
    now = request.app[CLOCK]()
    view = await asyncio.to_thread(shown, request.app[ENGINE], debtor.account_id, now,
                                   with_messages=False)  # fmt: skip
    # The open conversation of the account goes on (whichever portal session began it);
    # else this session begins one.
    address = view.address if view.state != "closed" and view.address else _address(debtor)
    incoming = Incoming(PORTAL, address, raw, now, account_id=debtor.account_id,
                        campaign_id=view.campaign_id, lang=request.get(LANG, "es"),
                        # The portal session passed the identity check for this account.
                        verified=True)  # fmt: skip
    try:
        await service.handle_async(incoming)
    except conv.ChatError as exc:
        refusal = REFUSALS.get(exc.code, REFUSALS["invalid"])
        status = exc.status if exc.status in (400, 429) else 400
        return await _page(request, debtor, error=gettext_(refusal), text=raw, status=status)
    raise web.HTTPSeeOther(f"{PAGE}#chat-form")


def _address(debtor: da.Debtor) -> str:
    return f"portal:{debtor.session or debtor.account_id}"[: conv.MAX_ADDRESS]


async def messages(request: web.Request) -> web.StreamResponse:
    """New messages for portal_chat.js: those after `after` in the conversation the page
    shows (`c`); `reload` when the page shows another one. 401 once the session ended."""
    try:
        debtor = await _debtor(request, activity=False)  # a poll keeps nothing going
    except web.HTTPSeeOther:
        return web.json_response({"ok": False, "ended": True}, status=401,
                                 headers={"Cache-Control": "no-store"})  # fmt: skip
    after, shown_id = _number(request.query.get("after")), _number(request.query.get("c"))
    now = request.app[CLOCK]()
    view = await asyncio.to_thread(shown, request.app[ENGINE], debtor.account_id, now,
                                   after)  # fmt: skip
    body = {"ok": True, "conversation_id": view.conversation_id, "state": view.state,
            "note": _state_note(view), "reload": view.conversation_id != shown_id,
            "messages": [] if view.conversation_id != shown_id
            else _lines(view, request.get(LANG, "es"))}  # fmt: skip
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def _number(raw: str | None) -> int:
    # isascii: "²" is a digit to str.isdigit() and none to int().
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 19 else 0


def setup_routes(app: web.Application) -> None:
    app.router.add_get(PAGE, page)
    app.router.add_post(PAGE, send)
    app.router.add_get(f"{PAGE}/mensajes", messages)
