"""Small helpers shared by the console's handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import Engine

from console import sessions
from console.day_window import ZoneError, zone_named
from console.i18n import gettext_
from console.keys import CLOCK, ENGINE, SESSION_CHECK_SECONDS, SESSION_TOKEN, USER
from console.users import CurrentUser
from store.models import Role

P = ParamSpec("P")
T = TypeVar("T")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def in_db(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a synchronous SQL unit of work in a worker thread (the loop never blocks)."""
    engine: Engine = request.app[ENGINE]
    return await asyncio.to_thread(fn, engine, *args)


def json_error(status: int, reason: str, **extra: Any) -> web.Response:
    return web.json_response({"ok": False, "reason": reason, **extra}, status=status)


def too_many_sockets() -> web.Response:
    """A WebSocket past the user's or the process's bound (console/socket_slots.py)."""
    return json_error(429, gettext_("Demasiadas conexiones abiertas; cierre otras pestañas."))


def reader_zone(request: web.Request) -> ZoneInfo | None:
    """The reader's zone as a page takes it: the browser's IANA zone, sent as ?tz=
    (static/local_zone.js asks again with it); None when not sent; 400 when it is
    no zone."""
    raw = request.query.get("tz", "")
    if not raw:
        return None
    try:
        return zone_named(raw)
    except ZoneError:
        raise web.HTTPBadRequest(text=gettext_("Zona horaria desconocida.")) from None


def user_of(request: web.Request) -> CurrentUser:
    user: CurrentUser | None = request.get(USER)
    if user is None:  # requires() runs first; this is a programming error guard
        raise web.HTTPUnauthorized()
    return user


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/ws/")) or request.path.endswith((".csv", ".jsonl"))


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    """Allow the handler to the given roles (admin always); 403 for anyone else."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            user: CurrentUser | None = request.get(USER)
            if user is None:
                if request.path.startswith("/ws/"):
                    return json_error(403, gettext_("Se requiere iniciar sesión."))
                if _wants_json(request):
                    return json_error(401, gettext_("Se requiere iniciar sesión."))
                raise web.HTTPFound(f"/login?next={request.path}")
            if user.role is not Role.admin and user.role not in roles:
                if _wants_json(request):
                    return json_error(403, gettext_("Su rol no permite esta acción."))
                raise web.HTTPForbidden(text=gettext_("Su rol no permite ver esta página."))
            return await handler(request)

        wrapped.__dict__["allowed_roles"] = roles
        return wrapped

    return decorate


SESSION_ENDED = 4401  # WebSocket close code: the session was ended (logout, disabled...)


async def close_when_session_ends(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Run beside an open WebSocket: close it once its session no longer holds
    (logout elsewhere, user disabled, role changed, lifetime over). An open
    page counts as activity for the idle limit."""
    user = user_of(request)
    token = request.get(SESSION_TOKEN)
    while not ws.closed:
        await asyncio.sleep(request.app[SESSION_CHECK_SECONDS])
        resolved = await asyncio.to_thread(
            sessions.resolve,
            request.app[ENGINE],
            user.id,
            user.role.value,
            token,
            request.app[CLOCK](),
        )
        if resolved.user is None:
            await ws.close(code=SESSION_ENDED, message=b"session ended")
            return
