"""The agent page, its JSON API and the agent's WebSocket (screen-pops)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from sqlalchemy import Engine, select

from console import agent_service as svc
from console import portal_unlock, verify_lock, verify_tries
from console.agent_breaks import break_words
from console.agent_pauses import record_pause
from console.chat_unattached import pending_chat_pop
from console.code_labels import PAUSE_CODES, pause_title
from console.day_window import ZoneError, local_midnight, zone_named
from console.debtor_locale import console_locale
from console.dispositions import FormErrors
from console.document_proof import document_key
from console.i18n import N_, gettext_
from console.inbound_service import pending_inbound_pop
from console.keys import (
    CALLBACK_CHECKER,
    CLOCK,
    COMPLIANCE,
    ENGINE,
    POPHUB,
    REDIS,
    SETTINGS,
    SOCKET_SLOTS,
    STATES,
)
from console.live_contact import (
    CALL_STILL_UP,
    CHAT_STILL_OPEN,
    SAVED_IN_CALL,
    Going,
    after_disposition,
    going_on,
)
from console.other_accounts import other_accounts
from console.params import id_or_400
from console.pause_ask import ask_pause
from console.pophub import (
    CHAT_DIRECTION,
    VERIFIED_TTL_SECONDS,
    is_chat,
    preview_key,
    verified_key,
)
from console.security import same_origin
from console.socket_slots import MAX_MESSAGE_BYTES as MAX_SOCKET_MESSAGE
from console.users import CurrentUser
from console.webutil import (
    close_when_session_ends,
    in_db,
    json_error,
    requires,
    too_many_sockets,
    user_of,
)
from console.wrap_metrics import count_wrap_end
from dialer.agent_state import AgentState, AgentStateError
from dialer.command_replies import ASTERISK, NO_AGENT, REFUSED, new_request_id, wait_reply
from dialer.hopper import Hopper
from dialer.messages import (
    Command,
    Hangup,
    Notifier,
    PreviewDial,
    PreviewOffer,
    PreviewRequest,
    PreviewSkip,
    RecordingStart,
    RecordingStop,
    Transfer,
)
from store.db import transaction
from store.models import CallAttempt, Campaign, Role

log = logging.getLogger(__name__)
# Call buttons that cannot be carried out say so (never a silent "sent").
NO_INBOUND_TRANSFER = N_(
    "Las llamadas entrantes no se pueden transferir: atienda al deudor o cuelgue con «Colgar»."
)
CALL_OVER = N_(
    "La llamada ya terminó: no hay nada que colgar, transferir ni grabar. Guarde la tipificación."
)
NO_DIALER = N_(
    "Ningún marcador recibió la orden; la llamada sigue en curso. "
    "Cuelgue desde su teléfono y avise a su supervisor."
)

PLAN_WAITS = N_("Al guardarlo, el plan espera la aprobación de un supervisor.")
NOT_CONFIRMED = N_(
    "Ningún marcador confirmó la orden; la llamada puede seguir en curso. "
    "Si sigue, cuelgue desde su teléfono y avise a su supervisor."
)
NOT_DONE = {
    REFUSED: N_("El marcador rechazó la orden: no es una llamada suya en curso."),
    NO_AGENT: N_("No hay otro agente disponible para transferir; la llamada sigue con usted."),
    ASTERISK: N_(
        "Asterisk no ejecutó la orden; la llamada sigue en curso. "
        "Cuelgue desde su teléfono y avise a su supervisor."
    ),
}
# How long the console waits for the dialer holding the call to say it was done.
CONFIRM_SECONDS = 5.0

MAX_NOTE = 4000
RELEASE_EVERY_SECONDS = 30.0


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/agent", agent_page)
    r.add_get("/ws/agent", agent_socket)
    r.add_get("/api/agent/state", get_state)
    r.add_post("/api/agent/ready", go_ready)
    r.add_post("/api/agent/pause", go_pause)
    r.add_post("/api/agent/pause/cancel", cancel_pause)
    r.add_get("/api/agent/breaks", scheduled_breaks)
    r.add_get("/api/agent/current", current_pop)
    r.add_get("/api/agent/accounts/{account_id}", account_view)
    r.add_get("/api/agent/accounts/{account_id}/others", other_accounts_view)
    r.add_post("/api/agent/verify", verify_party)
    r.add_post("/api/agent/disposition", dispose)
    r.add_post("/api/agent/plan/preview", preview_plan)
    r.add_post("/api/agent/notes", add_note)
    r.add_post("/api/agent/portal/unlock", unlock_portal)
    r.add_post("/api/agent/hangup", hangup)
    r.add_post("/api/agent/transfer", transfer)
    r.add_post("/api/agent/recording/start", recording_start)
    r.add_post("/api/agent/recording/stop", recording_stop)
    r.add_post("/api/agent/preview/request", preview_request)
    r.add_post("/api/agent/preview/dial", preview_dial)
    r.add_post("/api/agent/preview/skip", preview_skip)
    r.add_get("/api/agent/figures", figures)
    r.add_get("/api/agent/callbacks", callbacks)
    r.add_get("/api/agent/history", history)


async def read_fields(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                text=json.dumps({"ok": False, "reason": gettext_("Se espera un objeto JSON.")}),
                content_type="application/json",
            )
        return {str(k): "" if v is None else str(v) for k, v in body.items()}
    form = await request.post()
    return {k: str(v) for k, v in form.items() if k != "_csrf"}


def _agent_campaign(engine: Engine, user: CurrentUser) -> dict[str, Any]:
    with transaction(engine) as session:
        campaign = None
        if user.campaign_id is not None:
            campaign = session.get(Campaign, user.campaign_id)
        if campaign is None:
            campaign = session.scalar(select(Campaign).order_by(Campaign.id).limit(1))
        config = svc.campaign_config(campaign)
        reasons = [str(r) for r in config.get("pause_reasons", svc.DEFAULT_PAUSE_REASONS)]
        return {
            "name": campaign.name if campaign else "default",
            "dial_mode": campaign.dial_mode if campaign else "progressive",
            "pause_reasons": reasons,
            # Shown to people: the catalog's label, never the code; the pauses the
            # system puts an agent in (just logged in, the phone reconnecting) too.
            "pause_labels": {r: pause_title(r) for r in (*reasons, *PAUSE_CODES)},
            "wrapup_seconds": int(config.get("wrapup_seconds", svc.DEFAULT_WRAPUP_SECONDS)),
        }


@requires(Role.agent)
async def agent_page(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    campaign = await in_db(request, _agent_campaign, user)
    return aiohttp_jinja2.render_template(
        "agent.html",
        request,
        {
            "campaign": campaign,
            "parties": svc.party_choices(),
            "outcomes": svc.outcome_choices(),
            "outcomes_json": json.dumps(svc.outcome_choices(), ensure_ascii=False),
        },
    )


async def _ensure_logged_in(request: web.Request, user: CurrentUser) -> dict[str, Any]:
    """Put the agent in the campaign's agent set (paused) if not there yet."""
    campaign = await in_db(request, _agent_campaign, user)
    states = request.app[STATES]
    snap = await states.get(user.id)
    if snap.state is AgentState.logged_out or snap.campaign != campaign["name"]:
        await states.login(user.id, campaign["name"])
    return campaign


@requires(Role.agent)
async def agent_socket(request: web.Request) -> web.StreamResponse:
    if not same_origin(request.headers.get("Origin"), request.scheme, request.host):
        return json_error(403, gettext_("Origen no permitido."))
    user = user_of(request)
    with request.app[SOCKET_SLOTS].take(user.id) as taken:
        if not taken:
            return too_many_sockets()
        states = request.app[STATES]
        await _ensure_logged_in(request, user)
        ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=MAX_SOCKET_MESSAGE)
        await ws.prepare(request)
        request.app[SOCKET_SLOTS].keep(ws)
        hub = request.app[POPHUB]
        hub.register(user.id, ws)
        watch = asyncio.create_task(close_when_session_ends(request, ws))
        try:
            await ws.send_json({"type": "hello", "state": (await states.get(user.id)).as_dict()})
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    await ws.send_str("pong")
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            watch.cancel()
            hub.unregister(user.id, ws)
        return ws


async def _live_attempt(request: web.Request, user: CurrentUser) -> int | None:
    """The call the dialer gave this agent (their Redis state), if any."""
    snap = await request.app[STATES].get(user.id)
    if snap.state in (AgentState.reserved, AgentState.talking, AgentState.wrap_up):
        return snap.attempt_id
    return None


async def _state_payload(request: web.Request, user: CurrentUser) -> dict[str, Any]:
    snap = await request.app[STATES].get(user.id)
    pending = await in_db(
        request,
        svc.pending_attempt,
        user.id,
        request.app[CLOCK](),
        await _live_attempt(request, user),
    )
    return {
        "ok": True,
        "state": snap.as_dict(),
        "server_time": request.app[CLOCK]().timestamp(),  # the clock of `since`
        "pending_attempt": pending[0] if pending else None,
    }


@requires(Role.agent)
async def get_state(request: web.Request) -> web.StreamResponse:
    return web.json_response(await _state_payload(request, user_of(request)))


@requires(Role.agent)
async def go_ready(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    pending = await in_db(
        request,
        svc.pending_attempt,
        user.id,
        request.app[CLOCK](),
        await _live_attempt(request, user),
    )
    if pending is not None:
        return json_error(409, gettext_("Tipifique la llamada anterior antes de continuar."))
    await _ensure_logged_in(request, user)
    before = await request.app[STATES].get(user.id)
    if before.state is AgentState.no_audio:
        # Ready needs a live phone leg: the reconnect button calls the phone first.
        return json_error(409, gettext_("Sin audio: reconecte su teléfono antes de continuar."))
    going = await in_db(request, going_on, user.id, before)
    if going is not None:
        # Ready would let the dialer bridge another debtor into the agent's bridge.
        return json_error(409, gettext_(CALL_STILL_UP if going is Going.call else CHAT_STILL_OPEN))
    try:
        left, after = await request.app[STATES].set_ready_from(user.id)
    except AgentStateError:
        return json_error(409, gettext_("No puede pasar a disponible desde el estado actual."))
    # The end of a call's wrap-up (Disponible, or the page's timer after the disposition).
    await count_wrap_end(request.app[ENGINE], left, request.app[CLOCK]())
    if before.state is AgentState.paused:  # the supervisor's pause figures
        await record_pause(request.app[REDIS], user.id, before.since, after.since)
    return web.json_response(await _state_payload(request, user))


@requires(Role.agent)
async def go_pause(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    fields = await read_fields(request)
    reason = fields.get("reason", "").strip()
    campaign = await in_db(request, _agent_campaign, user)
    if reason not in campaign["pause_reasons"]:
        return json_error(400, gettext_("Elija un motivo de pausa."), field="reason")
    await _ensure_logged_in(request, user)
    try:
        # From ready it waits for the calls in flight (pausing); in a call, for its end.
        await ask_pause(request.app, user.id, campaign["name"], reason)
    except AgentStateError:
        return json_error(409, gettext_("No puede pausar desde el estado actual."))
    return web.json_response(await _state_payload(request, user))


@requires(Role.agent)
async def scheduled_breaks(request: web.Request) -> web.StreamResponse:
    """The agent's next scheduled break and, during one, why they are paused, in
    words with the break's zone named (console/agent_breaks.py)."""
    user = user_of(request)
    snap = await request.app[STATES].get(user.id)
    paused = snap.state in (AgentState.paused, AgentState.pausing)
    reason = snap.reason if paused else snap.pause_after
    words = await in_db(request, break_words, user.id, request.app[CLOCK]().timestamp(), reason)
    return web.json_response({"ok": True, **words})


@requires(Role.agent)
async def cancel_pause(request: web.Request) -> web.StreamResponse:
    """Takes back a pause not begun yet (pausing, or asked before the current call)."""
    user = user_of(request)
    try:
        await request.app[STATES].cancel_pause(user.id)
    except AgentStateError:
        return json_error(409, gettext_("No hay una pausa solicitada que cancelar."))
    return web.json_response(await _state_payload(request, user))


@requires(Role.agent)
async def current_pop(request: web.Request) -> web.StreamResponse:
    """The pop to show after a page reload: the pending call, else a chat or an inbound
    call that names no account yet (its names-only pop, type "inbound"), else the
    preview."""
    user = user_of(request)
    now = request.app[CLOCK]()
    pending = await in_db(
        request, svc.pending_attempt, user.id, now, await _live_attempt(request, user)
    )
    key = document_key(request.app[SETTINGS].portal_identity_key)
    if pending is not None:
        party = await verified_party(request, pending[0])
        if party is None and await in_db(request, svc.is_inbound_call, pending[0]):
            # A caller whose number named one account, not verified yet: the names-only
            # pop again, not the account's (inbound_service.pending_inbound_pop).
            inbound = await in_db(request, pending_inbound_pop, user, pending[0], now, key,
                                  True)  # fmt: skip
            if inbound is not None:
                return web.json_response({"ok": True, "pop": inbound})
        pop = await in_db(
            request, svc.build_pop, pending[1], pending[0], user, now, "pop", True, party, key
        )
        if pop is not None and await in_db(request, is_chat, pending[0]):
            pop["direction"] = CHAT_DIRECTION  # the page says "En chat" again
        return web.json_response({"ok": True, "pop": pop})
    chat = await in_db(request, pending_chat_pop, user, now, key)
    if chat is not None:
        return web.json_response({"ok": True, "pop": chat})
    live = await _live_attempt(request, user)
    if live is not None:  # an inbound caller the agent has not tied to an account yet
        inbound = await in_db(request, pending_inbound_pop, user, live, now, key)
        if inbound is not None:
            return web.json_response({"ok": True, "pop": inbound})
    preview = await request.app[REDIS].get(preview_key(user.id))
    if preview is not None:
        pop = await in_db(request, svc.build_pop, int(preview), None, user, now, "preview")
        if pop is not None:
            pop["type"] = PreviewOffer.TYPE
        return web.json_response({"ok": True, "pop": pop})
    return web.json_response({"ok": True, "pop": None})


def _int_param(value: str | None, name: str) -> int:
    return id_or_400(value, name)


async def _may_see(request: web.Request, user: CurrentUser, account_id: int) -> bool:
    preview = await request.app[REDIS].get(preview_key(user.id))
    return await in_db(
        request,
        svc.agent_may_see,
        user.id,
        account_id,
        request.app[CLOCK](),
        int(preview) if preview is not None else None,
        await _live_attempt(request, user),
    )


@requires(Role.agent)
async def account_view(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    account_id = _int_param(request.match_info["account_id"], "account_id")
    if user.role is Role.agent and not await _may_see(request, user, account_id):
        log.warning("agent %s refused account %s (not popped to them)", user.id, account_id)
        return json_error(403, gettext_("Esta cuenta no le fue asignada."))
    now = request.app[CLOCK]()
    pending = await in_db(
        request, svc.pending_attempt, user.id, now, await _live_attempt(request, user)
    )
    attempt_id = pending[0] if pending is not None and pending[1] == account_id else None
    party = await verified_party(request, attempt_id) if attempt_id else None
    if attempt_id and party is None and await in_db(request, svc.is_inbound_call, attempt_id):
        # Names only until the caller is verified, their number naming this one account
        # or not (inbound_service.verify_identity).
        return json_error(403, gettext_(INBOUND_VERIFY_FIRST))
    pop = await in_db(
        request,
        svc.build_pop,
        account_id,
        attempt_id,
        user,
        now,
        "account_view",
        True,
        party,
        document_key(request.app[SETTINGS].portal_identity_key),
    )
    if pop is None:
        return json_error(404, gettext_("La cuenta no existe."))
    return web.json_response({"ok": True, "account": pop})


INBOUND_VERIFY_FIRST = N_("Verifique la identidad de quien llama antes de abrir la cuenta.")
TITULAR_FIRST = N_("Se muestra al verificar la identidad del titular.")


@requires(Role.agent)
async def other_accounts_view(request: web.Request) -> web.StreamResponse:
    """The debtor's other accounts in the campaign of the account on the call
    (console/other_accounts.py), once the titular is verified on that call: a guarantor
    guarantees this debt only, and an unverified person hears of none."""
    user = user_of(request)
    account_id = _int_param(request.match_info["account_id"], "account_id")
    if not await _may_see(request, user, account_id):
        return json_error(403, gettext_("Esta cuenta no le fue asignada."))
    now = request.app[CLOCK]()
    pending = await in_db(
        request, svc.pending_attempt, user.id, now, await _live_attempt(request, user)
    )
    on_call = pending is not None and pending[1] == account_id
    if not on_call or pending is None or await verified_party(request, pending[0]) != "titular":
        return json_error(403, gettext_(TITULAR_FIRST))
    data = await other_accounts(request.app[ENGINE], request.app[COMPLIANCE], user, account_id, now)
    return web.json_response({"ok": True, **data})


async def verified_party(request: web.Request, attempt_id: int) -> str | None:
    raw = await request.app[REDIS].get(verified_key(attempt_id))
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


@requires(Role.agent)
async def verify_party(request: web.Request) -> web.StreamResponse:
    """The identity questions of the person on the agent's call; on success the
    full pop (balance, the debt or guarantor script) for that person."""
    user = user_of(request)
    fields = await read_fields(request)
    attempt_id = _int_param(fields.get("attempt_id"), "attempt_id")
    party = fields.get("party", "")
    answers = {k[len("answer_") :]: v for k, v in fields.items() if k.startswith("answer_")}
    redis = request.app[REDIS]
    live = await _live_attempt(request, user)
    # Whose call first (in verify_party, before a try is counted): another agent's
    # probes neither spend that call's three tries (its agent would be refused the
    # right answer) nor tell its id by a 429.
    key = document_key(request.app[SETTINGS].portal_identity_key)
    try:
        passed = await in_db(request, svc.verify_party, user, attempt_id, party, answers, live,
                             request.app[CLOCK](), key)  # fmt: skip
    except svc.InboundCallCheck:
        return json_error(409, gettext_(svc.INBOUND_CHECK_ONLY))
    except verify_tries.Spent:  # counted in SQL: a Redis flush gives no new tries
        return json_error(429, gettext_(verify_tries.TOO_MANY_ON_CALL))
    except svc.AccountLocked:  # a chat's account: refused before any answer was compared
        return json_error(423, gettext_(verify_lock.LOCKED))
    except PermissionError:
        return json_error(403, gettext_("Esta llamada no es suya."))
    except FormErrors as exc:
        return json_error(400, gettext_(next(iter(exc.errors.values()))), field="party")
    if not passed:
        return json_error(
            422, gettext_("Los datos no coinciden: no hable de la deuda con esta persona.")
        )
    await redis.set(verified_key(attempt_id), party, ex=VERIFIED_TTL_SECONDS)
    account_id = await in_db(request, svc.attempt_account, attempt_id)
    assert account_id is not None
    pop = await in_db(
        request, svc.build_pop, account_id, attempt_id, user, request.app[CLOCK](),
        "verified_pop", True, party, key,
    )  # fmt: skip
    return web.json_response({"ok": True, "pop": pop})


@requires(Role.agent)
async def dispose(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    fields = await read_fields(request)
    attempt_id = _int_param(fields.get("attempt_id"), "attempt_id")
    now = request.app[CLOCK]()
    try:
        result = await in_db(
            request,
            svc.save_disposition,
            user,
            attempt_id,
            fields,
            now,
            request.app[CALLBACK_CHECKER],
            await _live_attempt(request, user),
            await verified_party(request, attempt_id),
        )
    except PermissionError:
        return json_error(403, gettext_("Esta llamada no es suya."))
    except FormErrors as exc:
        errors = exc.rendered(gettext_)
        field = exc.confirm.get("field") if exc.confirm is not None else None
        if field is not None and set(errors) == {field}:
            # Only the read-back is missing: the page asks the agent to confirm.
            reason = errors[field]
            if exc.confirm and exc.confirm.get("approval"):
                reason += " " + gettext_(PLAN_WAITS)
            return json_error(409, reason, confirm=exc.confirm)
        return json_error(
            400, gettext_("Revise los campos marcados; no se guardó nada."), errors=errors
        )
    redis = request.app[REDIS]
    if result.drop_from_hopper and result.campaign:
        # The hold is in SQL already; a queued entry leaves the hopper now, whether
        # or not a dial loop of the campaign runs (a refill then respects the hold).
        await Hopper(redis, result.campaign).remove(result.account_id)
    for command in result.commands:
        await Notifier(redis).send(command)
    # A chat ends with its disposition; a call with the dialer's end of it, however
    # early its disposition is saved (console/live_contact.py).
    call_live = False
    with contextlib.suppress(AgentStateError):
        call_live = await after_disposition(request.app[STATES], user.id, attempt_id,
                                            result.chat)  # fmt: skip
    if result.plan_pending:
        message = N_("Tipificación guardada; el plan espera la aprobación de un supervisor.")
    else:
        message = SAVED_IN_CALL if call_live else N_("Tipificación guardada.")
    return web.json_response(
        {
            "ok": True,
            "disposition_id": result.disposition_id,
            "effect": result.effect.value,
            "message": gettext_(message),
            "plan_pending": result.plan_pending,
            # The debtor still on the line: the page keeps the call, starts no wrap-up.
            "call_live": call_live,
        }
    )


@requires(Role.agent)
async def preview_plan(request: web.Request) -> web.StreamResponse:
    """The pop's calculator: the schedule these terms give, within the campaign's rules."""
    user = user_of(request)
    fields = await read_fields(request)
    attempt_id = _int_param(fields.get("attempt_id"), "attempt_id")
    try:
        plan = await in_db(
            request,
            svc.preview_plan,
            user,
            attempt_id,
            fields,
            request.app[CLOCK](),
            await _live_attempt(request, user),
            await verified_party(request, attempt_id),
        )
    except PermissionError:
        return json_error(403, gettext_("Esta llamada no es suya."))
    except FormErrors as exc:
        return json_error(400, gettext_("El plan no cabe en las reglas de la campaña."),
                          errors=exc.rendered(gettext_))  # fmt: skip
    return web.json_response({"ok": True, "plan": plan})


@requires(Role.agent)
async def add_note(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    fields = await read_fields(request)
    account_id = _int_param(fields.get("account_id"), "account_id")
    text = fields.get("text", "").strip()
    if not text:
        return json_error(400, gettext_("La nota está vacía."), field="text")
    if len(text) > MAX_NOTE:
        return json_error(400, gettext_("La nota es demasiado larga (máximo 4000 caracteres)."))
    if not await _may_see(request, user, account_id):
        return json_error(403, gettext_("Esta cuenta no le fue asignada."))
    await in_db(request, svc.add_note, user, account_id, text, request.app[CLOCK]())
    return web.json_response({"ok": True, "message": gettext_("Nota guardada.")})


PORTAL_UNLOCKED = N_(
    "Acceso al portal desbloqueado: el deudor puede entrar de nuevo con su referencia."
)
PORTAL_NOT_LOCKED = N_("El acceso al portal de esta cuenta no está bloqueado.")
PORTAL_VERIFY_FIRST = N_(
    "Verifique la identidad del titular en esta llamada antes de desbloquear su acceso al portal."
)


@requires(Role.agent)
async def unlock_portal(request: web.Request) -> web.StreamResponse:
    """The debtor, verified on the agent's live call, is let into the portal again
    (console/portal_unlock.py)."""
    user = user_of(request)
    fields = await read_fields(request)
    attempt_id = _int_param(fields.get("attempt_id"), "attempt_id")
    try:
        unlocked = await in_db(
            request, portal_unlock.unlock_on_call, user, attempt_id,
            await _live_attempt(request, user), await verified_party(request, attempt_id),
            request.app[CLOCK](),
        )  # fmt: skip
    except PermissionError:
        return json_error(403, gettext_("Esta llamada no es suya."))
    except portal_unlock.NotVerified:
        return json_error(403, gettext_(PORTAL_VERIFY_FIRST))
    if not unlocked:
        return json_error(409, gettext_(PORTAL_NOT_LOCKED))
    return web.json_response({"ok": True, "message": gettext_(PORTAL_UNLOCKED)})


async def _call_command(
    request: web.Request, kind: type[Hangup | Transfer | RecordingStart | RecordingStop]
) -> web.StreamResponse:
    user = user_of(request)
    snap = await request.app[STATES].get(user.id)
    if snap.state is AgentState.wrap_up:
        # A page left open from the call (or a second tab): the debtor is gone.
        return json_error(409, gettext_(CALL_OVER))
    if snap.attempt_id is None or snap.state not in (AgentState.talking, AgentState.reserved):
        return json_error(409, gettext_("No tiene una llamada en curso."))
    if kind is Transfer and await in_db(request, _is_inbound, snap.attempt_id):
        # The caller's channel stays in the inbound dialplan, whose end closes the
        # attempt; the dialer has no transfer for it (docs/inbound.md).
        return json_error(409, gettext_(NO_INBOUND_TRANSFER))
    # Hangup and transfer are confirmed: the dialer holding the call answers
    # (dialer/command_replies.py) on the request id.
    confirmed = kind in (Hangup, Transfer)
    request_id = new_request_id() if confirmed else None
    command: Command
    if kind is Hangup:
        command = Hangup(snap.attempt_id, user.id, request_id)
    elif kind is Transfer:
        command = Transfer(snap.attempt_id, user.id, request_id=request_id)
    else:
        command = kind(snap.attempt_id, user.id)
    redis = request.app[REDIS]
    listeners = await Notifier(redis).send(command)
    if not confirmed:
        return web.json_response({"ok": True})
    if not listeners:
        # No dialer process is listening: nothing would act on the button.
        log.warning("%s of attempt %s: no dialer received it", kind.TYPE, snap.attempt_id)
        return json_error(503, gettext_(NO_DIALER))
    assert request_id is not None
    reply = await wait_reply(redis, request_id, CONFIRM_SECONDS)
    if reply is None:
        log.warning("%s of attempt %s: no dialer confirmed it", kind.TYPE, snap.attempt_id)
        return json_error(504, gettext_(NOT_CONFIRMED))
    if not reply.ok:
        log.warning("%s of attempt %s not done: %s", kind.TYPE, snap.attempt_id, reply.reason)
        status = 502 if reply.reason == ASTERISK else 409
        return json_error(status, gettext_(NOT_DONE.get(reply.reason, NOT_DONE[ASTERISK])))
    return web.json_response({"ok": True, "confirmed": True})


def _is_inbound(engine: Engine, attempt_id: int) -> bool:
    with transaction(engine) as session:
        attempt = session.get(CallAttempt, attempt_id)
        return attempt is not None and attempt.direction == "inbound"


@requires(Role.agent)
async def hangup(request: web.Request) -> web.StreamResponse:
    """Ends the debtor's channel, outbound or inbound (dialer CampaignDialer.hangup)."""
    return await _call_command(request, Hangup)


@requires(Role.agent)
async def transfer(request: web.Request) -> web.StreamResponse:
    """Outbound calls only: an inbound one is refused here with a message."""
    return await _call_command(request, Transfer)


@requires(Role.agent)
async def recording_start(request: web.Request) -> web.StreamResponse:
    """on_demand recording: the dialer obeys only for the agent's own bridged call."""
    return await _call_command(request, RecordingStart)


@requires(Role.agent)
async def recording_stop(request: web.Request) -> web.StreamResponse:
    return await _call_command(request, RecordingStop)


@requires(Role.agent)
async def preview_request(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    campaign = await in_db(request, _agent_campaign, user)
    if campaign["dial_mode"] != "preview":
        return json_error(409, gettext_("La campaña no está en modo vista previa."))
    command = PreviewRequest(agent_id=user.id, campaign=campaign["name"])
    await Notifier(request.app[REDIS]).send(command)
    return web.json_response({"ok": True})


async def _preview_command(
    request: web.Request, kind: type[PreviewDial | PreviewSkip]
) -> web.StreamResponse:
    user = user_of(request)
    fields = await read_fields(request)
    account_id = _int_param(fields.get("account_id"), "account_id")
    redis = request.app[REDIS]
    current = await redis.get(preview_key(user.id))
    if current is None or int(current) != account_id:
        return json_error(403, gettext_("Esta cuenta no le fue asignada."))
    campaign = await in_db(request, _agent_campaign, user)
    await Notifier(redis).send(
        kind(agent_id=user.id, account_id=account_id, campaign=campaign["name"])
    )
    await redis.delete(preview_key(user.id))
    return web.json_response({"ok": True})


@requires(Role.agent)
async def preview_dial(request: web.Request) -> web.StreamResponse:
    return await _preview_command(request, PreviewDial)


@requires(Role.agent)
async def preview_skip(request: web.Request) -> web.StreamResponse:
    return await _preview_command(request, PreviewSkip)


@requires(Role.agent)
async def figures(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    try:
        zone = zone_named(request.query.get("tz"))
    except ZoneError:
        return json_error(400, gettext_("Zona horaria desconocida."), field="tz")
    now = request.app[CLOCK]()
    data = await in_db(request, svc.day_figures, user.id, now, local_midnight(now, zone))
    return web.json_response(
        {
            "ok": True,
            "figures": data,
            "zone": zone.key,
            "zone_label": console_locale().zone_name(zone),
        }
    )


@requires(Role.agent)
async def callbacks(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    data = await in_db(request, svc.my_callbacks, user.id)
    return web.json_response({"ok": True, "callbacks": data})


@requires(Role.agent)
async def history(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    data = await in_db(request, svc.my_history, user.id)
    return web.json_response({"ok": True, "history": data})


async def callback_release_ctx(app: web.Application) -> AsyncIterator[None]:
    """Release missed personal callbacks to the whole campaign, every half minute."""

    async def loop() -> None:
        while True:
            try:
                released = await asyncio.to_thread(
                    svc.release_missed_callbacks, app[ENGINE], app[CLOCK]()
                )
                if released:
                    log.info("released %d missed personal callbacks", released)
            except Exception:  # keep the job alive; the next round retries
                log.exception("releasing missed callbacks failed")
            await asyncio.sleep(RELEASE_EVERY_SECONDS)

    task = asyncio.create_task(loop(), name="console-callback-release")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
