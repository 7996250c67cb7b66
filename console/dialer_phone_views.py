"""Phone actions the dialer carries out: an agent reconnects their dropped leg;
a supervisor listens to, whispers to or barges into an agent's call."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web

from console.agent_views import read_fields
from console.chat_queue import chat_attempts
from console.i18n import gettext_
from console.keys import REDIS, STATES
from console.params import INT32_MAX, ParamError, parse_id
from console.recording_service import attempt_campaigns, may_see_call
from console.supervisor_views import may_see_named
from console.webutil import in_db, json_error, requires, user_of
from dialer.agent_state import AgentState
from dialer.messages import AgentLegReconnect, MonitorStart, MonitorStop, Notifier
from dialer.monitoring import MODES
from store.models import Role

log = logging.getLogger(__name__)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/agent/reconnect", reconnect)
    app.router.add_post("/api/supervisor/monitor", monitor)
    app.router.add_post("/api/supervisor/monitor/stop", monitor_stop)


@requires(Role.agent)
async def reconnect(request: web.Request) -> web.StreamResponse:
    """Ask the dialer to call this agent's phone again (the page auto-answers)."""
    user = user_of(request)
    snap = await request.app[STATES].get(user.id)
    if snap.state is AgentState.logged_out:
        return json_error(409, gettext_("No ha iniciado turno en una campaña."))
    await Notifier(request.app[REDIS]).send(AgentLegReconnect(agent_id=user.id))
    return web.json_response({"ok": True, "message": gettext_("Reconectando el audio…")})


def _not_connected() -> web.Response:
    return json_error(404, gettext_("Ese agente no está conectado."))


def _not_in_a_call() -> web.Response:
    return json_error(409, gettext_("El agente no está en una llamada."))


@requires(Role.supervisor)
async def monitor(request: web.Request) -> web.StreamResponse:
    """Start listening (or whispering, or barging) on an agent's live call with
    the supervisor's own phone; the dialer calls it and writes the evidence."""
    user = user_of(request)
    fields = await read_fields(request)
    mode = fields.get("mode", "")
    if mode not in MODES:
        return json_error(400, gettext_("Modo de monitoreo desconocido."), field="mode")
    try:
        agent_id = parse_id(fields.get("agent_id"), "agent_id", INT32_MAX)
    except ParamError:
        return json_error(400, gettext_("Indique el agente."), field="agent_id")
    snap = await request.app[STATES].get(agent_id)
    if snap.state is AgentState.logged_out:
        return _not_connected()
    # What is heard is the call, not the agent's campaign: an inbound call of another
    # campaign's number or debtor that overflowed to this campaign's agent is not this
    # supervisor's to hear. The agent's own campaign only decides how a refusal reads:
    # an agent of another campaign reads as not connected whatever their state (no
    # oracle of who works there), one of theirs as not in a call (nothing of theirs
    # to hear), exactly like the answers for a missing agent or call.
    agent_is_theirs = await may_see_named(request, snap.campaign)
    campaigns = None
    if snap.state is AgentState.talking and snap.attempt_id is not None:
        campaigns = await in_db(request, attempt_campaigns, snap.attempt_id)
    if campaigns is None or not may_see_call(user, campaigns):
        return _not_in_a_call() if agent_is_theirs else _not_connected()
    if snap.attempt_id in await in_db(request, chat_attempts, [snap.attempt_id or 0]):
        return json_error(409, gettext_("El agente atiende un chat: no hay llamada que escuchar."))
    monitor_id = uuid.uuid4().hex
    # The call heard is named: the dialer refuses it once the agent is on another
    # call, and ends the session when this one ends (dialer/monitoring.py).
    command = MonitorStart(
        monitor_id=monitor_id, supervisor_id=user.id, agent_id=agent_id, mode=mode,
        attempt_id=snap.attempt_id,
    )  # fmt: skip
    await Notifier(request.app[REDIS]).send(command)
    log.info("user %s asks to %s agent %s (%s)", user.id, mode, agent_id, monitor_id)
    return web.json_response(
        {"ok": True, "monitor_id": monitor_id, "message": gettext_("Llamando a su teléfono…")},
        status=202,
    )


@requires(Role.supervisor)
async def monitor_stop(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    fields = await read_fields(request)
    monitor_id = fields.get("monitor_id", "")
    if not monitor_id.isalnum() or len(monitor_id) > 32:
        return json_error(400, gettext_("Sesión de monitoreo desconocida."), field="monitor_id")
    await Notifier(request.app[REDIS]).send(
        MonitorStop(monitor_id=monitor_id, supervisor_id=user.id)
    )
    return web.json_response({"ok": True})
