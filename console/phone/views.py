"""HTTP API of the browser phone (agents and supervisors; CSRF-checked by the app's middleware):

GET  /api/agent/phone               is there a web phone here (no credential)
POST /api/agent/phone/credentials   a fresh SIP credential for this console session
POST /api/agent/phone/renew         extend it (only the session that got it)
POST /api/agent/phone/hold          {"on": true|false}: music to the debtor
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Iterable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy import Engine, select

from cobrador.ground.settings import Settings
from console.i18n import gettext_
from console.keys import CLOCK, ENGINE, REDIS, SETTINGS, STATES
from console.phone.credentials import (
    Credential,
    CredentialError,
    CredentialStore,
    new_session_token,
)
from console.phone.ice import ice_config
from console.phone.pbx import AmiPhonePbx, PhonePbx, PhonePbxError
from console.phone.provisioner import Provisioner
from console.phone.service import PhoneConfig, PhoneService
from console.webutil import json_error, requires, user_of
from dialer.agent_state import AgentState
from store.db import transaction
from store.models import Role, User

log = logging.getLogger(__name__)

PHONE: web.AppKey[PhoneService | None] = web.AppKey("phone")
SESSION_FIELD = "phone_sid"
SWEEP_SECONDS = 30.0


def setup(app: web.Application) -> None:
    app[PHONE] = build_service(app)
    r = app.router
    r.add_get("/api/agent/phone", status)
    r.add_post("/api/agent/phone/credentials", credentials)
    r.add_post("/api/agent/phone/renew", renew)
    r.add_post("/api/agent/phone/hold", hold)
    app.cleanup_ctx.append(_phone_ctx)


def enabled(settings: Settings) -> bool:
    return bool(settings.phone_ws_url and settings.phone_agents_conf)


def ws_origin(settings: Settings) -> str:
    """The phone's WebSocket origin, for the page's Content-Security-Policy."""
    if not enabled(settings):
        return ""
    parts = urlsplit(settings.phone_ws_url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def build_service(app: web.Application, pbx: PhonePbx | None = None) -> PhoneService | None:
    """The phone service of `app`'s settings; None when no web phone is configured."""
    settings = app[SETTINGS]
    if not enabled(settings) or settings.phone_agents_conf is None:
        return None
    engine = app[ENGINE]
    if pbx is None:
        pbx = AmiPhonePbx(
            settings.ami_host, settings.ami_port, settings.ami_username, settings.ami_secret
        )
    secret = hashlib.sha256(
        (settings.console_secret or secrets.token_hex(32)).encode() + b"cobrador-phone"
    ).digest()

    async def agent_ids() -> Iterable[int]:
        return await asyncio.to_thread(phone_agent_ids, engine)

    return PhoneService(
        PhoneConfig(settings.phone_ws_url, ice_config(settings)),
        CredentialStore(app[REDIS], float(settings.phone_credential_ttl)),
        Provisioner(settings.phone_agents_conf, pbx.reload_endpoints, secret),
        pbx,
        agent_ids,
        app[REDIS],
    )


def phone_agent_ids(engine: Engine) -> list[int]:
    """Users with a browser phone (agents; supervisors, who listen with it): one endpoint each."""
    roles = [Role.agent.value, Role.supervisor.value, Role.admin.value]
    with transaction(engine) as session:
        rows = session.scalars(select(User.id).where(User.role.in_(roles), User.active))
        return list(rows)


async def _phone_ctx(app: web.Application) -> AsyncIterator[None]:
    service = app[PHONE]
    if service is None:
        yield
        return
    clock = app[CLOCK]
    try:
        await service.sync(clock().timestamp())
    except (PhonePbxError, OSError) as exc:
        log.warning("phone endpoints not written at start (%s); the next login retries", exc)
    sweeper = asyncio.create_task(
        service.sweep_forever(lambda: clock().timestamp(), SWEEP_SECONDS), name="phone-sweep"
    )
    yield
    sweeper.cancel()
    await asyncio.gather(sweeper, return_exceptions=True)
    await service.pbx.close()


def _now(request: web.Request) -> float:
    return request.app[CLOCK]().timestamp()


def _answer(service: PhoneService, credential: Credential, now: float) -> web.Response:
    ttl = max(credential.expires_at - now, 0.0)
    return web.json_response(
        {
            "ok": True,
            "enabled": True,
            "ws_url": service.config.ws_url,
            "uri": service.config.uri(credential),
            "username": credential.username,
            "password": credential.password,
            # STUN/TURN for the leg's RTCPeerConnection (agents behind NAT); fresh
            # time-limited TURN credentials with every renewal.
            "ice_servers": service.config.ice.servers(credential.agent_id, now),
            "expires_in": round(ttl),
            # Renew well before expiry: a renewal lost to a network blip has a second chance.
            "renew_in": round(ttl / 3),
        }
    )


def _disabled() -> web.Response:
    return web.json_response(
        {
            "ok": True,
            "enabled": False,
            "reason": gettext_("Sin teléfono web: PBX simulado."),
        }
    )


@requires(Role.agent, Role.supervisor)
async def status(request: web.Request) -> web.StreamResponse:
    if request.app[PHONE] is None:
        return _disabled()
    return web.json_response({"ok": True, "enabled": True})


@requires(Role.agent, Role.supervisor)
async def credentials(request: web.Request) -> web.StreamResponse:
    service = request.app[PHONE]
    if service is None:
        return _disabled()
    user = user_of(request)
    session = await get_session(request)
    token = new_session_token()
    session[SESSION_FIELD] = token
    now = _now(request)
    try:
        credential = await service.issue(user.id, token, now)
    except PhonePbxError as exc:
        log.warning("phone credential for agent %s not provisioned: %s", user.id, exc)
        return json_error(503, gettext_("La central telefónica no responde; reintente."))
    return _answer(service, credential, now)


@requires(Role.agent, Role.supervisor)
async def renew(request: web.Request) -> web.StreamResponse:
    service = request.app[PHONE]
    if service is None:
        return _disabled()
    user = user_of(request)
    token = (await get_session(request)).get(SESSION_FIELD)
    now = _now(request)
    try:
        credential = await service.renew(user.id, str(token or ""), now)
    except CredentialError as exc:
        if exc.reason == "other_session":
            message = gettext_("El teléfono web se abrió en otra pestaña o sesión.")
        else:
            message = gettext_("La credencial del teléfono venció; vuelva a conectarlo.")
        return json_error(409, message, code=exc.reason)
    return _answer(service, credential, now)


@requires(Role.agent)
async def hold(request: web.Request) -> web.StreamResponse:
    service = request.app[PHONE]
    if service is None:
        return json_error(409, gettext_("Sin teléfono web: PBX simulado."))
    user = user_of(request)
    try:
        body = await request.json()
    except ValueError:
        return json_error(400, gettext_("Solicitud no válida."))
    on = body.get("on") if isinstance(body, dict) else None
    if not isinstance(on, bool):
        return json_error(400, gettext_("Solicitud no válida."))
    try:
        if on:
            snap = await request.app[STATES].get(user.id)
            if snap.state is not AgentState.talking:
                return json_error(409, gettext_("No tiene una llamada en curso."))
            await service.hold(user.id)
        else:
            await service.unhold(user.id)
    except PhonePbxError as exc:
        log.warning("hold for agent %s failed: %s", user.id, exc)
        return json_error(503, gettext_("La central telefónica no responde; reintente."))
    return web.json_response({"ok": True, "held": on})


async def revoke_on_logout(request: web.Request, agent_id: int) -> None:
    """Logout: the session's credential dies now, and any hold ends."""
    service = request.app[PHONE]
    if service is None:
        return
    token = (await get_session(request)).get(SESSION_FIELD)
    try:
        await service.unhold(agent_id)
        await service.revoke(agent_id, str(token) if token else None, _now(request))
    except (PhonePbxError, OSError) as exc:
        log.warning("phone credential of agent %s not revoked at once: %s", agent_id, exc)
