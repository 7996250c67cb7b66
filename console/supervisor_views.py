"""Supervisor: the live wallboard and the campaign controls."""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from sqlalchemy import Engine, select

from console import plan_service, wallboard
from console.agent_figures import agent_figures
from console.agent_pauses import paused_seconds
from console.day_window import ZoneError, local_midnight, zone_named
from console.debtor_locale import console_locale
from console.i18n import N_, gettext_
from console.keys import CLOCK, ENGINE, REDIS, SOCKET_SLOTS, STATES
from console.params import INT32_MAX, ParamError, parse_decimal, parse_id
from console.phone_marks import invalid_phones
from console.recording_service import may_see_campaign
from console.security import same_origin
from console.socket_slots import MAX_MESSAGE_BYTES as MAX_SOCKET_MESSAGE
from console.timeline import message_figures
from console.users import CurrentUser
from console.webutil import (
    close_when_session_ends,
    in_db,
    json_error,
    requires,
    too_many_sockets,
    user_of,
)
from dialer import messages as msg
from dialer.agent_state import AgentState
from dialer.inbound import skills
from store.audit import append as audit_append
from store.db import transaction
from store.models import Campaign, Role

DIAL_MODES = ("preview", "progressive", "predictive")
# What a redirect after a change may ask the page to confirm (?done=code): never words
# from the URL, so a crafted link cannot speak in the console's own voice.
DONE = {
    "saved": N_("Cambio guardado."),
    "plan_approved": N_("Plan aprobado: sus pagos son promesas."),
    "plan_rejected": N_("Plan rechazado: la cuenta vuelve a la cola."),
    "protected": N_("Persona protegida: la cuenta ya no se contacta por ningún medio."),
    "third_party": N_("Número de un tercero: ya no se contacta."),
    "reactivated": N_("Número reactivado: el marcador puede volver a usarlo."),
}
PUSH_EVERY_SECONDS = 2.0
# The supervisor's protection form (console/protection_views.py): value, label.
PROTECTION_CHOICES = (
    ("none", N_("Ninguna")),
    ("deceased", N_("Fallecido")),
    ("minor", N_("Menor de edad")),
    ("insolvency", N_("En proceso de insolvencia (concurso, reorganización)")),
)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/supervisor", supervisor_page)
    app.router.add_get("/api/wallboard", wallboard_json)
    app.router.add_get("/ws/wallboard", wallboard_socket)
    app.router.add_post("/supervisor/campaigns/{campaign_id}", campaign_control)
    app.router.add_post("/supervisor/plans/{plan_id}", plan_decision)
    app.router.add_get("/api/supervisor/overview", overview_json)
    app.router.add_get("/api/supervisor/agents", agents_json)


def _chosen(
    request: web.Request, campaigns: list[dict[str, Any]], busiest: str | None
) -> dict[str, Any] | None:
    """The campaign asked for, else the busiest (never simply the first by name)."""
    for wanted in (request.query.get("campaign"), busiest):
        for c in campaigns:
            if c["name"] == wanted:
                return c
    return campaigns[0] if campaigns else None


async def _render(
    request: web.Request, error: str | None = None, message: str | None = None, status: int = 200
) -> web.Response:
    campaigns = await in_db(request, visible_campaigns, user_of(request))
    glance = await wallboard.overview(request.app[REDIS], request.app[STATES], campaigns)
    groups = await in_db(request, skills.group_names)
    plans = await in_db(request, plan_service.pending_plans, plan_scope(user_of(request)))
    current = _chosen(request, campaigns, wallboard.busiest(glance))
    messages: list[Any] = []
    dead: list[dict[str, Any]] = []
    if current is not None:
        messages = await in_db(request, message_figures, current["id"], request.app[CLOCK]())
        dead = await in_db(request, invalid_phones, current["id"])
    return aiohttp_jinja2.render_template(
        "supervisor.html",
        request,
        {
            "campaigns": campaigns,
            "current": current,
            "messages": messages,
            "overview": glance,
            "dial_modes": DIAL_MODES,
            "skill_groups": groups,
            "plans": plans,
            "invalid_phones": dead,
            "protections": PROTECTION_CHOICES,
            "error": error,
            "message": message or _done(request),
        },
        status=status,
    )


render_supervisor = _render  # the page with an error, for the supervisor's other forms


def _done(request: web.Request) -> str | None:
    done = DONE.get(request.query.get("done", ""))
    return gettext_(done) if done else None


@requires(Role.supervisor)
async def supervisor_page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


def visible_campaigns(engine: Engine, user: CurrentUser) -> list[dict[str, Any]]:
    """The campaigns this user may see and steer: a supervisor tied to one
    campaign (`user add --campaign`) sees only it."""
    return [c for c in wallboard.campaigns(engine) if may_see_campaign(user, c["id"])]


def campaign_id_named(engine: Engine, name: str) -> int | None:
    with transaction(engine) as session:
        return session.scalar(select(Campaign.id).where(Campaign.name == name))


async def may_see_named(request: web.Request, name: str) -> bool:
    """The recordings' scope rule (may_see_campaign) for a campaign given by name."""
    return may_see_campaign(user_of(request), await in_db(request, campaign_id_named, name))


def not_yours() -> web.Response:
    return json_error(403, gettext_("Esa campaña no está a su cargo."))


@requires(Role.supervisor)
async def wallboard_json(request: web.Request) -> web.StreamResponse:
    campaign = request.query.get("campaign", "")
    if not campaign:
        return json_error(400, "campaign is required")
    if not await may_see_named(request, campaign):
        return not_yours()
    app = request.app
    data = await wallboard.snapshot(app[ENGINE], app[REDIS], app[STATES], campaign, app[CLOCK]())
    return web.json_response(data)


@requires(Role.supervisor)
async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    if not same_origin(request.headers.get("Origin"), request.scheme, request.host):
        return json_error(403, gettext_("Origen no permitido."))
    campaign = request.query.get("campaign", "")
    if not campaign:
        return json_error(400, "campaign is required")
    if not await may_see_named(request, campaign):
        return not_yours()
    with request.app[SOCKET_SLOTS].take(user_of(request).id) as taken:
        if not taken:
            return too_many_sockets()
        return await _wallboard_socket(request, campaign)


async def _wallboard_socket(request: web.Request, campaign: str) -> web.WebSocketResponse:
    app = request.app
    ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=MAX_SOCKET_MESSAGE)
    await ws.prepare(request)
    app[SOCKET_SLOTS].keep(ws)
    changed = asyncio.Event()

    async def watch_agents() -> None:
        pubsub = app[REDIS].pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(msg.AGENT_EVENTS_CHANNEL)
            while not ws.closed:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if message is not None and message.get("type") == "message":
                    with contextlib.suppress(ValueError, TypeError):
                        if json.loads(message["data"]).get("campaign") in (campaign, ""):
                            changed.set()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[attr-defined]

    async def push() -> None:
        while not ws.closed:
            data = await wallboard.snapshot(
                app[ENGINE], app[REDIS], app[STATES], campaign, app[CLOCK]()
            )
            await ws.send_json(data)
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), PUSH_EVERY_SECONDS)

    tasks = [
        asyncio.create_task(watch_agents()),
        asyncio.create_task(push()),
        asyncio.create_task(close_when_session_ends(request, ws)),
    ]
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=2.0)
    return ws


class ControlError(ValueError):
    pass


def _apply_control(
    engine: Engine, campaign_id: int, fields: dict[str, str], user: CurrentUser
) -> tuple[str, dict[str, Any]]:
    with transaction(engine) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise LookupError(campaign_id)
        if not may_see_campaign(user, campaign.id):
            raise PermissionError(campaign_id)
        action = fields.get("action", "")
        change: dict[str, Any] = {"action": action}
        if action == "start":
            campaign.status = "running"
            change["status"] = "running"
        elif action == "stop":
            campaign.status = "stopped"
            change["status"] = "stopped"
        elif action == "mode":
            mode = fields.get("dial_mode", "")
            if mode not in DIAL_MODES:
                raise ControlError(N_("Modo de marcación desconocido."))
            campaign.dial_mode = mode
            change["dial_mode"] = mode
        elif action == "target":
            try:
                # Two decimals of a percent = the column's four of a ratio.
                percent = parse_decimal(
                    fields.get("abandon_target"),
                    "abandon_target",
                    minimum=Decimal("0.01"),
                    maximum=Decimal(100),
                    places=2,
                )
            except ParamError:
                raise ControlError(
                    N_(
                        "Escriba el objetivo de abandono en porcentaje, entre 0.01 y 100; por ejemplo 2.5."
                    )
                ) from None
            target = (percent / 100).quantize(Decimal("0.0001"))
            if target > wallboard.profile_abandon_limit(campaign):
                raise ControlError(
                    N_("El objetivo de abandono no puede superar el límite del perfil.")
                )
            campaign.abandon_target = target
            change["abandon_target"] = target
        elif action == "skill_group":
            # Audited by skills (with the group it replaces); nothing for the dial loops.
            group = fields.get("skill_group", "").strip() or None
            try:
                skills.set_campaign_group_in(session, campaign, group, user.actor)
            except skills.SkillGroupError:
                raise ControlError(N_("Ese grupo de habilidades ya no existe.")) from None
            return campaign.name, {}
        else:
            raise ControlError(N_("Acción desconocida."))
        audit_append(
            session,
            "campaign_change",
            {"campaign": campaign.name, **change},
            actor=user.actor,
            subject=f"campaign:{campaign.id}",
        )
        return campaign.name, change


@requires(Role.supervisor)
async def campaign_control(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    try:
        campaign_id = parse_id(request.match_info["campaign_id"], "campaign_id", INT32_MAX)
    except ParamError:
        raise web.HTTPNotFound() from None
    form = await request.post()
    fields = {k: str(v) for k, v in form.items()}
    try:
        name, change = await in_db(request, _apply_control, campaign_id, fields, user)
    except (LookupError, PermissionError):
        # Another campaign's id is answered exactly like one that does not exist: a
        # 403 told a supervisor tied to one campaign which ids the others have.
        raise web.HTTPNotFound() from None
    except ControlError as exc:
        return await _render(request, error=gettext_(str(exc)), status=400)
    if change:
        command = msg.CampaignChange(
            campaign=name, status=change.get("status"), dial_mode=change.get("dial_mode")
        )
        await msg.Notifier(request.app[REDIS]).send(command)
    query = urlencode({"campaign": name, "done": "saved"})
    raise web.HTTPFound(f"/supervisor?{query}")


def plan_scope(user: CurrentUser) -> set[int] | None:
    """The campaigns whose plans this user decides (None: all): may_see_campaign's rule."""
    return None if user.campaign_id is None or user.role is Role.admin else {user.campaign_id}


@requires(Role.supervisor)
async def plan_decision(request: web.Request) -> web.StreamResponse:
    """Approve or reject a payment plan waiting above the agent's limits (audited)."""
    user = user_of(request)
    try:
        plan_id = parse_id(request.match_info["plan_id"], "plan_id")
    except ParamError:
        raise web.HTTPNotFound() from None
    form = await request.post()
    action = str(form.get("action", ""))
    if action not in ("approve", "reject"):
        return await _render(request, error=gettext_("Acción desconocida."), status=400)
    note = str(form.get("note", "")).strip()
    try:
        await in_db(
            request, plan_service.decide, user, plan_id, action == "approve", note,
            request.app[CLOCK](), plan_scope(user),
        )  # fmt: skip
    except LookupError:
        raise web.HTTPNotFound() from None
    except plan_service.PlanDecisionError as exc:
        return await _render(request, error=gettext_(str(exc)), status=409)
    done = "plan_approved" if action == "approve" else "plan_rejected"
    query = urlencode({"campaign": request.query.get("campaign", ""), "done": done})
    raise web.HTTPFound(f"/supervisor?{query}#plans")


@requires(Role.supervisor)
async def overview_json(request: web.Request) -> web.StreamResponse:
    """Every campaign this supervisor may see, at a glance (refreshed by the page)."""
    campaigns = await in_db(request, visible_campaigns, user_of(request))
    rows = await wallboard.overview(request.app[REDIS], request.app[STATES], campaigns)
    return web.json_response({"ok": True, "campaigns": rows})


@requires(Role.supervisor)
async def agents_json(request: web.Request) -> web.StreamResponse:
    """Per-agent figures of one campaign since midnight in the supervisor's zone (?tz=)."""
    name = request.query.get("campaign", "")
    campaign_id = await in_db(request, campaign_id_named, name) if name else None
    # Another campaign's name is answered exactly like one that does not exist (a 403
    # told a supervisor tied to one campaign which names the others have).
    if campaign_id is None or not may_see_campaign(user_of(request), campaign_id):
        return json_error(404, gettext_("Esa campaña no existe."))
    try:
        zone = zone_named(request.query.get("tz"))
    except ZoneError:
        return json_error(400, gettext_("Zona horaria desconocida."), field="tz")
    now = request.app[CLOCK]()
    since = local_midnight(now, zone)
    live = await request.app[STATES].list(name)
    rows = await in_db(request, agent_figures, campaign_id, [a.agent_id for a in live], since, now)
    paused = await paused_seconds(
        request.app[REDIS], [r["agent_id"] for r in rows], since.timestamp(), now.timestamp(),
        {a.agent_id: a.since for a in live if a.state is AgentState.paused},
    )  # fmt: skip
    for row in rows:
        row["pause_seconds"] = int(paused.get(row["agent_id"], 0.0))
    return web.json_response(
        {
            "ok": True,
            "since": since.isoformat(timespec="minutes"),
            "zone": zone.key,
            "zone_label": console_locale().zone_name(zone),
            "agents": rows,
        }
    )
