"""Login and logout."""

from __future__ import annotations

import asyncio
import logging

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session

from compliance.audit import append as audit_append
from console.i18n import gettext_
from console.keys import ENGINE, REDIS, STATES, USER
from console.phone.views import revoke_on_logout
from console.security import LoginThrottle, verify_password
from console.users import CurrentUser, find_for_login
from store.db import transaction
from store.models import Role

log = logging.getLogger(__name__)

HOME = {
    Role.agent: "/agent",
    Role.supervisor: "/supervisor",
    Role.auditor: "/auditor",
    Role.admin: "/supervisor",
}


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)


async def index(request: web.Request) -> web.StreamResponse:
    user: CurrentUser | None = request[USER]
    raise web.HTTPFound(HOME[user.role] if user else "/login")


async def login_form(request: web.Request) -> web.StreamResponse:
    user = request[USER]
    if user is not None:
        raise web.HTTPFound(HOME[user.role])
    return aiohttp_jinja2.render_template("login.html", request, {"error": None, "username": ""})


def _safe_next(value: str | None) -> str | None:
    # Only local paths: never an open redirect to another site.
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return None


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    address = request.remote or "unknown"
    throttle = LoginThrottle(request.app[REDIS])

    def again(message: str, status: int) -> web.Response:
        return aiohttp_jinja2.render_template(
            "login.html", request, {"error": message, "username": username}, status=status
        )

    if not username or not password:
        return again(gettext_("Escriba su usuario y su contraseña."), 400)
    if await throttle.blocked(username, address):
        return again(
            gettext_("Demasiados intentos fallidos. Espere 15 minutos e inténtelo de nuevo."), 429
        )
    user, password_hash = await asyncio.to_thread(find_for_login, request.app[ENGINE], username)
    ok = await asyncio.to_thread(verify_password, password_hash, password)
    if user is None or not ok:
        await throttle.failed(username, address)
        log.info("failed console login for a user name from %s", address)
        return again(gettext_("Usuario o contraseña incorrectos."), 401)
    await throttle.succeeded(username, address)
    old = await get_session(request)
    lang = old.get("lang")
    session = await new_session(request)  # a fresh session id: no session fixation
    session["uid"] = user.id
    session["role"] = user.role.value
    if lang:
        session["lang"] = lang
    from console.security import new_csrf_token

    session["csrf"] = new_csrf_token()
    await asyncio.to_thread(_audit_login, request.app[ENGINE], user, address)
    raise web.HTTPFound(_safe_next(request.query.get("next")) or HOME[user.role])


def _audit_login(engine, user: CurrentUser, address: str) -> None:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        audit_append(
            session, "login", {"address": address}, actor=user.actor, subject=f"user:{user.id}"
        )


async def logout(request: web.Request) -> web.StreamResponse:
    user: CurrentUser | None = request[USER]
    if user is not None and user.role is Role.agent:
        await request.app[STATES].logout(user.id)
    if user is not None and user.role is not Role.auditor:
        await revoke_on_logout(request, user.id)
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound("/login")
