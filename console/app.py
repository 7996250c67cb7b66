"""The console's aiohttp application: agent, supervisor and auditor pages.

``init_app(settings, engine, redis)`` builds the app; every long-lived resource
(the pop subscriber, background jobs) lives in a cleanup context so start-up
and shutdown are symmetric.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import aiohttp_jinja2
import jinja2
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp_session import get_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, SQLAlchemyError

from cobrador.ground.settings import Settings
from compliance.callback_window import CallbackChecker, compliance_callback_checker
from compliance.profile import load_profiles
from compliance.registry_sync import RegistrySync
from compliance.service import ComplianceService
from console import (
    agent_views,
    auditor_views,
    auth_views,
    break_taker,
    break_views,
    bundles,
    chat_queue,
    chat_views,
    client_address,
    dialer_phone_views,
    field_views,
    inbound_views,
    payment_webhook_views,
    portal_chat_views,
    portal_views,
    promise_metrics,
    protection_views,
    pruning,
    recording_views,
    sessions,
    supervisor_views,
    unproven_replies,
    zone_views,
)
from console.document_proof import document_key
from console.error_reason import own_reason
from console.field_seal import FieldSeal
from console.i18n import LANGUAGES, activate, gettext_, ngettext_
from console.keys import (
    CALLBACK_CHECKER,
    CHAT,
    CLOCK,
    COMPLIANCE,
    CSRF,
    ENGINE,
    FIELD_CHECK,
    FIELD_SEAL,
    LANG,
    PASSWORD_POOL,
    POPHUB,
    REDIS,
    SESSION_CHECK_SECONDS,
    SESSION_TOKEN,
    SETTINGS,
    SOCKET_SLOTS,
    STATES,
    USER,
    ChatBox,
)
from console.phone import views as phone_views
from console.pophub import PopHub
from console.security import csrf_matches, new_csrf_token
from console.socket_slots import SocketSlots
from console.webutil import json_error
from dialer.agent_state import AgentStates
from field.visit_rules import VisitCheck, profile_visit_check
from store.types import utcnow

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_key(settings: Settings) -> bytes:
    """The 32-byte cookie key from settings; a random one (per process) when unset."""
    if settings.console_secret:
        try:
            key = base64.urlsafe_b64decode(settings.console_secret + "==")
        except ValueError:
            key = b""
        if len(key) < 32:
            raise ValueError("console_secret must be 32 bytes or more, base64 encoded")
        return key[:32]
    log.warning("console_secret is not set: sessions end when this process stops")
    return secrets.token_bytes(32)


@web.middleware
async def context_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """The logged-in user (its server-side session and role re-read from SQL on
    every request), language and CSRF token."""
    if request.path in payment_webhook_views.UNSESSIONED_PATHS:
        return await handler(request)  # a provider's signed call: no session, no CSRF
    settings = request.app[SETTINGS]
    session = await get_session(request)
    request[USER] = None
    request[SESSION_TOKEN] = session.get("sid")
    uid = session.get("uid")
    if uid is not None:
        resolved = await asyncio.to_thread(
            sessions.resolve,
            request.app[ENGINE],
            int(uid) if isinstance(uid, int) else -1,
            session.get("role"),
            session.get("sid"),
            request.app[CLOCK](),
        )
        if resolved.role_mismatch:
            # The session claims a role the user does not have (forged or stale).
            session.invalidate()
            log.warning("session for user id %s refused: role in session does not match", uid)
            return json_error(403, gettext_("Sesión no válida; inicie sesión de nuevo."))
        if resolved.user is None:
            # Logged out, ended by an administrator, idle or too old: anonymous now.
            lang = session.get("lang")
            session.invalidate()
            if lang:
                session["lang"] = lang
        request[USER] = resolved.user
    wanted = request.query.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted
    request[LANG] = activate(session.get("lang") or settings.language)
    if "csrf" not in session:
        session["csrf"] = new_csrf_token()
    request[CSRF] = session["csrf"]
    if request.method not in SAFE_METHODS:
        given = request.headers.get("X-CSRF-Token")
        if request.content_type in FORM_TYPES:
            # Read here, once, for every handler (aiohttp keeps it): a form aiohttp
            # cannot read (not UTF-8, a charset it does not know, a multipart without
            # a boundary or a field without a name) raised from whichever handler read
            # it first, a 500.
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                return _too_large(request)
            except (ValueError, LookupError) as exc:
                log.info("%s %s: unreadable form (%s)", request.method, request.path, exc)
                return _bad_form(request)
            given = given or str(form.get("_csrf", "")) or None
        if not csrf_matches(session.get("csrf"), given):
            return json_error(403, gettext_("Falta el token CSRF o no es válido."))
    return await handler(request)


AIOHTTP_TOO_LARGE = "Maximum request body size"  # how aiohttp's own 413 begins
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _bad_form(request: web.Request) -> web.Response:
    message = gettext_("No se pudo leer el formulario; envíelo de nuevo desde la página.")
    if request.path.startswith(("/api/", "/ws/")):
        return json_error(400, message)
    return aiohttp_jinja2.render_template(
        "error.html", request, {"status": 400, "message": message}, status=400
    )


def _too_large(request: web.Request) -> web.Response:
    """A body over the console's limit, said in the person's language (aiohttp's own
    answer is an English line about bytes)."""
    message = gettext_(
        "Lo que envió es demasiado grande; envíe menos texto o un archivo más pequeño."
    )
    if request.path.startswith(("/api/", "/ws/")):
        return json_error(413, message)
    return aiohttp_jinja2.render_template(
        "error.html", request, {"status": 413, "message": message}, status=413
    )


def _unavailable(request: web.Request, exc: Exception) -> web.Response:
    # A dependency is down or overloaded: say so (503), do not pretend success.
    log.warning("%s %s failed on a backing service: %s", request.method, request.path, exc)
    return json_error(503, gettext_("Servicio no disponible; inténtelo de nuevo."))


def _bad_value(request: web.Request) -> web.Response:
    """A value the SQL database refused as data, said as the request's fault."""
    message = gettext_(
        "Un dato enviado no es válido (un carácter nulo, un texto demasiado largo o un "
        "número fuera de rango); revíselo y envíelo de nuevo."
    )
    if request.path.startswith(("/api/", "/ws/")):
        return json_error(400, message)
    return aiohttp_jinja2.render_template(
        "error.html", request, {"status": 400, "message": message}, status=400
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    try:
        return await handler(request)
    except DataError as exc:
        if request.path in payment_webhook_views.UNSESSIONED_PATHS:
            return _unavailable(request, exc)  # a provider's call: it sends it again
        # PostgreSQL refused a value of the request as data (SQLSTATE class 22: a NUL
        # character, a text longer than its column, a number out of its range; SQLite
        # takes them): answered as a service down (503), it blamed Redis or SQL.
        log.warning("%s %s: a value refused by the database (%s)", request.method,
                    request.path, type(exc.orig).__name__)  # fmt: skip
        return _bad_value(request)
    except (aioredis.RedisError, OSError, SQLAlchemyError) as exc:
        return _unavailable(request, exc)
    except web.HTTPException as exc:
        if exc.status == 413 and (exc.text or "").startswith(AIOHTTP_TOO_LARGE):
            return _too_large(request)  # not a handler's own words: aiohttp's
        if exc.status < 400 or request.path.startswith("/static/"):
            raise
        # The handler's own reason is shown ("Esa pausa no está en el plan del
        # agente."); aiohttp's default words (an unknown route) get the generic page.
        reason = own_reason(exc)
        if request.path.startswith(("/api/", "/ws/")):
            if exc.content_type == "application/json" or reason is None:
                raise  # already JSON with its reason, or no reason to give
            return json_error(exc.status, reason)
        return aiohttp_jinja2.render_template(
            "error.html", request, {"status": exc.status, "message": reason or ""},
            status=exc.status,
        )  # fmt: skip


SECURITY_HEADERS = {
    # Everything is served by the app itself (no CDN, no inline script).
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name == "Content-Security-Policy" and (
            phone := phone_views.ws_origin(request.app[SETTINGS])
        ):
            # The browser phone's SIP WebSocket goes to Asterisk, not to this app.
            value = value.replace("connect-src 'self'", f"connect-src 'self' {phone}")
        response.headers.setdefault(name, value)
    if request.path.startswith(("/api/", "/auditor")):
        response.headers.setdefault("Cache-Control", "no-store")  # personal data
    if request.secure or _behind_https(request.app[SETTINGS]):
        # Browsers that saw the console once over HTTPS never try plain HTTP again.
        response.headers.setdefault("Strict-Transport-Security", HSTS)


HSTS = "max-age=31536000"


def _warn_missing_bundles(static_dir: Path) -> None:
    """A checkout run without `make install` has no web phone and no field map: said
    once at start, in the operator's log, with the command that builds them."""
    gone = bundles.missing(static_dir)
    if "phone" in gone:
        log.warning("console: the browser phone is not built (%s missing under %s): agents "
                    "have no web phone; run `make install` (needs node and npm)",
                    ", ".join(gone["phone"]), static_dir)  # fmt: skip
    if "map" in gone:
        log.warning("console: the field map is not built (%s missing under %s): the "
                    "supervisors' field page cannot show or plan visits; run `make install` "
                    "(needs node and npm)", ", ".join(gone["map"]), static_dir)  # fmt: skip


def _behind_https(settings: Settings) -> bool:
    """Served over HTTPS: our own certificate, or a TLS proxy in front (secure cookie)."""
    return (
        settings.console_tls_cert is not None or settings.extra.get("console_secure_cookie") == "1"
    )


def init_app(
    settings: Settings,
    engine: Engine,
    redis: aioredis.Redis,
    *,
    callback_checker: CallbackChecker | None = None,
    clock: Callable[[], datetime] = utcnow,
    visit_check: VisitCheck | None = None,
    payment_webhook: payment_webhook_views.PaymentWebhook | None = None,
) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[REDIS] = redis
    # The agents' states on the console's clock, the one the dialers are given too: the
    # demo's (`cobrador demo --at`) is shifted, and a "since" written by one clock and
    # read against another showed timers days off.
    app[STATES] = AgentStates(redis, clock=lambda: clock().timestamp())
    app[CLOCK] = clock
    app[SESSION_CHECK_SECONDS] = 30.0
    app[CALLBACK_CHECKER] = callback_checker or compliance_callback_checker(
        load_profiles(settings.profiles_dir)
    )
    app[POPHUB] = PopHub(redis, engine, clock=clock,
                         document_key=document_key(settings.portal_identity_key))  # fmt: skip
    app[SOCKET_SLOTS] = SocketSlots(settings.console_max_sockets_per_user,
                                    settings.console_max_sockets)  # fmt: skip
    app[COMPLIANCE] = ComplianceService(engine, redis, load_profiles(settings.profiles_dir))
    app[CHAT] = ChatBox()
    app[FIELD_CHECK] = visit_check or profile_visit_check(load_profiles(settings.profiles_dir))
    app[FIELD_SEAL] = (
        FieldSeal.from_secret(session_key(settings)) if settings.console_secret else None
    )

    setup_session(
        app,
        EncryptedCookieStorage(
            session_key(settings),
            cookie_name="cobrador_session",
            httponly=True,
            samesite="Strict",
            max_age=sessions.COOKIE_MAX_AGE,
            # Over HTTPS the session cookie never travels in clear.
            secure=_behind_https(settings),
        ),
    )
    # Order matters: the session, then our context (user, CSRF, language), then
    # aiohttp_jinja2's context processors (which read it), then error pages.
    app.middlewares.append(context_middleware)
    # First of all: every later middleware and handler sees the client behind a
    # trusted proxy as request.remote (throttles, audit entries).
    app.middlewares.insert(0, client_address.middleware(client_address.parse_trusted(
        settings.trusted_proxies)))  # fmt: skip
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        context_processors=[_template_context],
    )
    env.install_gettext_callables(gettext_, ngettext_, newstyle=True)  # type: ignore[attr-defined]
    app.middlewares.append(error_middleware)

    app.on_response_prepare.append(_security_headers)
    app.router.add_static("/static", HERE / "static", name="static")
    _warn_missing_bundles(HERE / "static")
    auth_views.setup_routes(app)
    agent_views.setup_routes(app)
    inbound_views.setup_routes(app)
    supervisor_views.setup_routes(app)
    protection_views.setup_routes(app)
    auditor_views.setup_routes(app)
    phone_views.setup(app)
    recording_views.setup_routes(app)
    dialer_phone_views.setup_routes(app)
    field_views.setup_routes(app)
    chat_views.setup_routes(app)
    portal_views.setup_routes(app)
    unproven_replies.setup_routes(app)
    portal_chat_views.setup_routes(app)
    payment_webhook_views.setup_routes(app, payment_webhook)
    zone_views.setup_routes(app)
    break_views.setup_routes(app)
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(_pophub_ctx)
    app.cleanup_ctx.append(_password_pool_ctx)
    app.cleanup_ctx.append(agent_views.callback_release_ctx)
    app.cleanup_ctx.append(break_taker.break_taker_ctx)
    app.cleanup_ctx.append(_registry_sync_ctx)
    app.cleanup_ctx.append(pruning.prune_ctx)
    app.cleanup_ctx.append(field_views.purge_positions_ctx)
    app.cleanup_ctx.append(promise_metrics.promise_metrics_ctx)
    app.cleanup_ctx.append(unproven_replies.purge_texts_ctx)
    app.cleanup_ctx.append(chat_queue.chat_service_ctx)
    app.cleanup_ctx.append(chat_queue.chat_routing_ctx)
    return app


async def _close_sockets(app: web.Application) -> None:
    await app[SOCKET_SLOTS].close_all()


async def _template_context(request: web.Request) -> dict[str, object]:
    return {
        "user": request.get(USER),
        "csrf": request.get(CSRF, ""),
        "lang": request.get(LANG, "es"),
        "path": request.path,
    }


async def _password_pool_ctx(app: web.Application) -> AsyncIterator[None]:
    # One argon2 check per core at a time: more only queue for the same CPUs.
    app[PASSWORD_POOL] = ThreadPoolExecutor(
        max_workers=os.cpu_count() or 2, thread_name_prefix="argon2"
    )
    yield
    app[PASSWORD_POOL].shutdown(wait=False, cancel_futures=True)


async def _registry_sync_ctx(app: web.Application) -> AsyncIterator[None]:
    """At start, every registry Redis lacks is reloaded from SQL (in the background)."""
    sync = RegistrySync(app[ENGINE], app[REDIS])
    with contextlib.suppress(RedisError, SQLAlchemyError, OSError):
        await sync.refresh()
    yield
    await sync.close()


async def _pophub_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = app[POPHUB]
    await hub.start()
    yield
    await hub.stop()
