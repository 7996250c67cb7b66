"""Login and logout."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session

from console import login_throttle as throttle
from console import sessions
from console.i18n import gettext_
from console.keys import CLOCK, ENGINE, PASSWORD_POOL, STATES, USER
from console.phone.views import revoke_on_logout
from console.security import new_csrf_token, verify_password
from console.users import CurrentUser, find_for_login
from store.audit import append as audit_append
from store.db import transaction
from store.models import Role

log = logging.getLogger(__name__)

HOME = {
    Role.agent: "/agent",
    Role.supervisor: "/supervisor",
    Role.auditor: "/auditor",
    Role.admin: "/supervisor",
    Role.field: "/field/",
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


def safe_next(value: str | None) -> str | None:
    """A redirect target only when it is a path on this site, as a browser reads it.

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash,
    so ``/%09/evil.example`` or ``/\\evil.example`` would leave the site: any
    control or non-printable character, any backslash, and any scheme or host
    refuse the target.
    """
    if not value or not value.startswith("/") or len(value) > 2000:
        return None
    if not value.isprintable() or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return None
    return value


async def _check_password(request: web.Request, password_hash: str | None, password: str) -> bool:
    """argon2 in the console's password pool: never on the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        request.app[PASSWORD_POOL], verify_password, password_hash, password
    )


def _wait_message(now: datetime, retry_at: datetime | None) -> str:
    seconds = (retry_at - now).total_seconds() if retry_at else 15 * 60
    minutes = max(1, math.ceil(seconds / 60))
    return gettext_(
        "Demasiados intentos fallidos. Espere {minutos} min e inténtelo de nuevo."
    ).format(minutos=minutes)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    address = request.remote or "unknown"
    engine = request.app[ENGINE]
    now = request.app[CLOCK]()

    def again(message: str, status: int) -> web.Response:
        return aiohttp_jinja2.render_template(
            "login.html", request, {"error": message, "username": username[:64]}, status=status
        )

    if not username or not password:
        return again(gettext_("Escriba su usuario y su contraseña."), 400)
    if len(username) > 64 or len(password) > 1024:
        return again(gettext_("Usuario o contraseña incorrectos."), 401)
    user, password_hash = await asyncio.to_thread(find_for_login, engine, username)
    known = user is not None
    # Counted before the password is checked, in one atomic step: a burst of
    # parallel attempts never gets more guesses through than the limit.
    admission = await asyncio.to_thread(throttle.admit, engine, username, address, known, now)
    if not admission.admitted:
        if admission.by_address:
            # As slow as a checked password: the refusal tells nothing about the name.
            await _check_password(request, None, password)
        log.info("console login refused while locked, from %s", address)
        return again(_wait_message(now, admission.retry_at), 429)
    # argon2 runs in a worker thread: the event loop never waits on it.
    ok = await _check_password(request, password_hash, password)
    if user is None or not ok:
        subject = f"user:{user.id}" if user else None
        until = await asyncio.to_thread(
            throttle.failed, engine, username, address, known, now, subject
        )
        log.info("failed console login for a user name from %s", address)
        if until is not None or admission.address_locked:
            return again(_wait_message(now, until), 429)
        return again(gettext_("Usuario o contraseña incorrectos."), 401)
    await asyncio.to_thread(throttle.succeeded, engine, username)
    old = await get_session(request)
    lang = old.get("lang")
    session = await new_session(request)  # a fresh session id: no session fixation
    session["uid"] = user.id
    session["role"] = user.role.value
    session["sid"] = await asyncio.to_thread(sessions.start, engine, user, now)
    if lang:
        session["lang"] = lang
    session["csrf"] = new_csrf_token()
    await asyncio.to_thread(_audit_login, engine, user, address)
    raise web.HTTPFound(safe_next(request.query.get("next")) or HOME[user.role])


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
    # Ended in SQL: a copy of the cookie is worth nothing from now on.
    await asyncio.to_thread(
        sessions.end, request.app[ENGINE], session.get("sid"), request.app[CLOCK]()
    )
    session.invalidate()
    raise web.HTTPFound("/login")
