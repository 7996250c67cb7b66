"""The agent's side of a handed-over chat: the transcript (polled while the chat is on
screen) and the agent's replies, which go out over the chat's channel (the portal
shows them; SMS and WhatsApp replies wait in SQL for the chat sender, which sends
them through the final check). Thin: parse, call the conversation store, serialise.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from cobrador.ground import code_words
from console import chat_unattached as unattached
from console import inbound_service as inbound
from console import verify_tries
from console.agent_views import _live_attempt, read_fields
from console.i18n import N_, gettext_
from console.inbound_views import document_key
from console.keys import CLOCK, REDIS, STATES
from console.params import id_or_400
from console.pophub import VERIFIED_TTL_SECONDS, verified_key
from console.users import CurrentUser
from console.webutil import in_db, json_error, requires, user_of
from dialer.agent_state import AgentState, AgentStateError
from selfservice import conversations as conv
from store.audit import append as audit_append
from store.db import transaction
from store.models import Conversation, Role

log = logging.getLogger(__name__)

# The words of a conversation's codes (channel, hand-over reason, sender) are the
# shared tables' (cobrador/ground/code_words.py): an unknown code reads as a neutral word.
CHANNEL_LABELS = code_words.CONVERSATION_CHANNEL_LABELS
REASON_LABELS = code_words.HANDOVER_REASON_LABELS
SENDER_LABELS = code_words.CHAT_SENDER_LABELS
# What the agent reads when the store refuses a reply (conversations.ChatError.code).
REFUSALS = {
    "empty": N_("Escriba un mensaje."),
    "too_long": N_("El mensaje es demasiado largo (máximo 1000 caracteres)."),
    "closed": N_("La conversación ya terminó."),
    "full": N_("La conversación llegó a su límite de mensajes."),
    "throttled": N_("Demasiados mensajes; espere un momento."),
    "invalid": N_("No se pudo enviar el mensaje."),
}


@dataclass(frozen=True)
class ChatView:
    conversation_id: int
    channel: str
    state: str
    reason: str | None
    messages: list[dict[str, Any]]


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/agent/chat", get_chat)
    app.router.add_post("/api/agent/chat/reply", reply)
    app.router.add_post(unattached.ATTACH_URL, attach)
    app.router.add_post("/api/agent/chat/close", close)


def _mine(s: Any, attempt_id: int, agent_id: int) -> Conversation:
    c = conv.of_attempt(s, attempt_id)
    if c is None or c.agent_id != agent_id:  # one answer: ids cannot be probed
        raise conv.ChatError(unattached.NO_SUCH_CHAT, 404, "not_found")
    return c


def load_chat(engine: Engine, agent: CurrentUser, attempt_id: int, after_id: int,
              now: datetime) -> ChatView:  # fmt: skip
    """The chat an agent was given, its messages after `after_id`. The first read of a
    transcript (after_id 0) is a PII view: audited."""
    with transaction(engine) as s:
        c = _mine(s, attempt_id, agent.id)
        messages = conv.transcript(s, c.id, after_id=after_id)
        if after_id == 0:
            audit_append(s, "pii_view",
                         {"page": "chat_transcript", "attempt_id": attempt_id,
                          "conversation_id": c.id, "account_id": c.account_id,
                          "fields": ["messages"]},
                         actor=agent.actor, now=now,
                         subject=f"account:{c.account_id}" if c.account_id
                         else f"conversation:{c.id}")  # fmt: skip
        return ChatView(c.id, c.channel, c.state, c.handover_reason, messages)


def agent_reply(engine: Engine, agent: CurrentUser, attempt_id: int, text: str,
                now: datetime) -> dict[str, Any]:  # fmt: skip
    """The agent's reply into the conversation: shown in the portal at once, or
    pending for the chat sender (SMS, WhatsApp)."""
    clean = conv.clean_text(text)
    with transaction(engine) as s:
        c = _mine(s, attempt_id, agent.id)
        if c.state != "agent":
            raise conv.ChatError("the conversation is over", 409, "closed")
        status = "shown" if c.channel == "chat" else "pending"
        row = conv.add_message(s, c, "agent", clean, now, status=status, agent_id=agent.id)
        return _message(row.id, "agent", clean, now, status)


def _refusal(exc: conv.ChatError) -> str:
    if exc.code == "not_found":
        return gettext_(unattached.NO_SUCH_CHAT)
    return gettext_(REFUSALS.get(exc.code, REFUSALS["invalid"]))


def _message(mid: int, sender: str, text: str, at: datetime, status: str) -> dict[str, Any]:
    return {"id": mid, "sender": sender, "text": text, "at": at.isoformat(), "status": status}


def _labelled(view: ChatView) -> dict[str, Any]:
    return {
        "conversation_id": view.conversation_id,
        "channel": view.channel,
        "channel_label": code_words.word(CHANNEL_LABELS, view.channel, gettext_,
                                         code_words.OTHER_CHANNEL),
        "state": view.state,
        "reason_label": code_words.word(REASON_LABELS, view.reason, gettext_),
        "messages": [{**m, "sender_label": code_words.word(SENDER_LABELS, m["sender"], gettext_,
                                                           code_words.OTHER_SENDER)}
                     for m in view.messages],
    }  # fmt: skip


@requires(Role.agent)
async def get_chat(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    attempt_id = id_or_400(request.query.get("attempt_id"), "attempt_id")
    after = request.query.get("after", "0")
    after_id = int(after) if after.isascii() and after.isdigit() and len(after) < 19 else 0
    try:
        view = await in_db(request, load_chat, user, attempt_id, after_id, request.app[CLOCK]())
    except conv.ChatError as exc:
        return json_error(exc.status, _refusal(exc))
    return web.json_response({"ok": True, "chat": _labelled(view)})


@requires(Role.agent)
async def reply(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    fields = await read_fields(request)
    attempt_id = id_or_400(fields.get("attempt_id"), "attempt_id")
    try:
        message = await in_db(request, agent_reply, user, attempt_id, fields.get("text", ""),
                              request.app[CLOCK]())  # fmt: skip
    except conv.ChatError as exc:
        log.info("agent %s: chat reply on attempt %s refused: %s", user.id, attempt_id, exc)
        return json_error(exc.status, _refusal(exc))
    message["sender_label"] = gettext_(SENDER_LABELS["agent"])
    return web.json_response({"ok": True, "message": message})


# --- a chat that names no single account (console/chat_unattached.py) ---


@requires(Role.agent)
async def attach(request: web.Request) -> web.StreamResponse:
    """The debtor's answers (typed by the agent) against one candidate account, as an
    inbound caller's; a match ties the chat to it and opens the account's pop."""
    user = user_of(request)
    fields = await read_fields(request)
    attempt_id = id_or_400(fields.get("attempt_id"), "attempt_id")
    account_id = id_or_400(fields.get("account_id"), "account_id")
    answers = {k[len("answer_") :]: v for k, v in fields.items() if k.startswith("answer_")}
    now = request.app[CLOCK]()
    redis = request.app[REDIS]
    try:
        await in_db(request, unattached.check_unattached, user, attempt_id)
        found, named = await in_db(request, inbound.searched_accounts, attempt_id)
        allowed = set(await in_db(request, unattached.candidates_of_attempt, attempt_id))
        pop = await in_db(request, inbound.verify_identity, user, attempt_id, account_id,
                          answers, now, sorted(allowed | found),
                          await _live_attempt(request, user), named,
                          document_key(request), verify_tries.TOO_MANY_IN_CHAT)  # fmt: skip
        await in_db(request, unattached.attach, user, attempt_id, account_id, now)
    except inbound.InboundError as exc:
        log.info("agent %s: chat attach on attempt %s refused: %s", user.id, attempt_id, exc)
        return json_error(exc.status, str(exc))
    # The debtor is the titular: the disposition may speak of the debt.
    await redis.set(verified_key(attempt_id), "titular", ex=VERIFIED_TTL_SECONDS)
    pop["direction"] = "chat"
    pop["label"] = gettext_("Conversación")
    return web.json_response({"ok": True, "pop": pop})


@requires(Role.agent)
async def close(request: web.Request) -> web.StreamResponse:
    """Ends a chat that names no account, with one of the closings that need none; the
    agent wraps up as after a disposition."""
    user = user_of(request)
    fields = await read_fields(request)
    attempt_id = id_or_400(fields.get("attempt_id"), "attempt_id")
    closing = str(fields.get("closing", ""))[:40]
    try:
        await in_db(request, unattached.close_unattached, user, attempt_id, closing,
                    request.app[CLOCK]())  # fmt: skip
    except inbound.InboundError as exc:
        return json_error(exc.status, str(exc))
    states = request.app[STATES]
    with contextlib.suppress(AgentStateError):
        if (await states.get(user.id)).state in (AgentState.talking, AgentState.reserved):
            await states.wrap_up(user.id)
    return web.json_response({"ok": True, "message": gettext_("Conversación cerrada.")})
