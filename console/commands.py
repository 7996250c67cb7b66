"""CLI: `cobrador user add | list | disable | enable | reset-password | set-role`
and `cobrador console run`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import signal
import sys
from collections.abc import Callable
from typing import Any

from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    from outreach.commands import DOSSIER_TRANSLATIONS

    # `cobrador outreach legal|dossier --lang en`: the dossier's English is this catalog's.
    DOSSIER_TRANSLATIONS.setdefault("en", _english)
    user = subparsers.add_parser("user", help="console users")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_sub.add_parser("add", help="create a console user (asks the password)")
    add.add_argument("name", help="user name used to log in")
    add.add_argument(
        "--role", required=True, choices=["agent", "supervisor", "auditor", "admin", "field"]
    )
    add.add_argument("--display-name", default="", help="name shown in the console")
    add.add_argument("--campaign", default=None, help="campaign an agent works in")
    add.add_argument(
        "--territory", default=None, help="a field agent's territory (e.g. CDMX-Coyoacán)"
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(func=_user_add)
    listing = user_sub.add_parser("list", help="list console users, their role and state")
    listing.set_defaults(func=_user_list)
    disable = user_sub.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("name")
    disable.set_defaults(func=_user_disable)
    enable = user_sub.add_parser("enable", help="enable a disabled user")
    enable.add_argument("name")
    enable.set_defaults(func=_user_enable)
    reset = user_sub.add_parser(
        "reset-password",
        help="set a new password (asks it), end the user's sessions and clear a login lock",
    )
    reset.add_argument("name")
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    reset.set_defaults(func=_user_reset_password)
    set_role = user_sub.add_parser("set-role", help="change a user's role; ends their sessions")
    set_role.add_argument("name")
    set_role.add_argument("role", choices=["agent", "supervisor", "auditor", "admin", "field"])
    set_role.add_argument(
        "--campaign",
        default=None,
        help="campaign the user is tied to (a supervisor then sees only it); '' unties",
    )
    set_role.set_defaults(func=_user_set_role)

    console = subparsers.add_parser("console", help="web console")
    console_sub = console.add_subparsers(dest="console_command", metavar="ACTION", required=True)
    run = console_sub.add_parser("run", help="serve the agent, supervisor and auditor console")
    run.add_argument("--host", default=None, help="listen address (default: settings)")
    run.add_argument("--port", type=int, default=None, help="listen port (default: settings)")
    run.set_defaults(func=_console_run)


def _read_password(from_stdin: bool) -> str:
    from cobrador.ground.errors import UserError

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise UserError("the passwords do not match")
    if not password:
        raise UserError("empty password")
    return password


def _english() -> Callable[[str], str]:
    from console.i18n import load_catalogs

    return load_catalogs()["en"].gettext


def _user_add(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.errors import UserError
    from console.users import UserInputError, create_user
    from store.db import open_engine

    password = _read_password(args.password_stdin)
    engine = open_engine(settings, migrate=True)
    try:
        user = create_user(
            engine,
            args.name,
            args.role,
            password,
            display_name=args.display_name,
            campaign=args.campaign,
            territory=args.territory,
        )
    except UserInputError as exc:
        raise UserError(str(exc)) from exc
    finally:
        engine.dispose()
    print(f"user {user.username} created with role {user.role.value} (id {user.id})")
    return 0


def _user_change(settings: Settings, change: Any) -> int:
    """Run one user_admin change against the database; returns sessions ended."""
    from cobrador.ground.errors import UserError
    from console.users import UserInputError
    from store.db import open_engine
    from store.types import utcnow

    engine = open_engine(settings, migrate=True)
    try:
        return int(change(engine, utcnow()))
    except UserInputError as exc:
        raise UserError(str(exc)) from exc
    finally:
        engine.dispose()


def _user_list(args: argparse.Namespace, settings: Settings) -> int:
    from console.user_admin import list_users
    from store.db import open_engine
    from store.types import utcnow

    engine = open_engine(settings, migrate=True)
    try:
        rows = list_users(engine, utcnow())
    finally:
        engine.dispose()
    print(f"{'id':>5}  {'user':<20} {'role':<11} {'campaign':<16} state")
    for row in rows:
        state = "active" if row.active else "disabled"
        if row.locked_until is not None:
            state += f", login locked until {row.locked_until:%Y-%m-%d %H:%M} UTC"
        print(f"{row.id:>5}  {row.username:<20} {row.role:<11} {row.campaign or '-':<16} {state}")
    return 0


def _user_disable(args: argparse.Namespace, settings: Settings) -> int:
    from console.user_admin import set_active

    ended = _user_change(settings, lambda e, now: set_active(e, args.name, False, "cli", now))
    print(f"user {args.name} disabled; {ended} session(s) ended")
    return 0


def _user_enable(args: argparse.Namespace, settings: Settings) -> int:
    from console.user_admin import set_active

    _user_change(settings, lambda e, now: set_active(e, args.name, True, "cli", now))
    print(f"user {args.name} enabled")
    return 0


def _user_reset_password(args: argparse.Namespace, settings: Settings) -> int:
    from console.user_admin import reset_password

    password = _read_password(args.password_stdin)
    ended = _user_change(
        settings, lambda e, now: reset_password(e, args.name, password, "cli", now)
    )
    print(f"password of {args.name} reset; {ended} session(s) ended")
    return 0


def _user_set_role(args: argparse.Namespace, settings: Settings) -> int:
    from console.user_admin import set_role

    ended = _user_change(
        settings, lambda e, now: set_role(e, args.name, args.role, "cli", now, args.campaign)
    )
    print(f"user {args.name} is now {args.role}; {ended} session(s) ended")
    return 0


def _console_run(args: argparse.Namespace, settings: Settings) -> int:
    import redis.asyncio as aioredis
    from aiohttp import web

    from cobrador.ground import access_log
    from cobrador.ground.errors import UserError
    from cobrador.ground.kept_keys import console_secret_path, with_kept_keys
    from cobrador.ground.runtime import redis_url
    from console.app import init_app, session_key
    from console.client_address import parse_trusted
    from console.tls import TLSConfigError, server_context
    from metrics.http import MetricsServer
    from metrics.roles import CONSOLE, registry_for
    from store.db import open_engine

    # On the demo's data dir, the portal opens the links and checks the identities the
    # demo made, and the demo's sessions go on (its keys are kept there, not in settings).
    given = settings.console_secret
    settings = with_kept_keys(settings)
    if settings.console_secret:
        try:
            session_key(settings)
        except ValueError as exc:
            where = (
                "COBRADOR_CONSOLE_SECRET" if given else str(console_secret_path(settings.data_dir))
            )
            raise UserError(f"{exc} ({where})") from exc
    try:
        tls = server_context(settings.console_tls_cert, settings.console_tls_key)
    except TLSConfigError as exc:
        raise UserError(str(exc)) from exc
    engine = open_engine(settings, migrate=True)
    host = args.host or settings.console_host
    port = args.port or settings.console_port
    with redis_url(settings) as url:

        async def serve() -> None:
            # A bounded pool that waits for a free connection: a burst of
            # logins waits a moment instead of failing with "too many connections".
            pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=100, timeout=10)
            redis = aioredis.Redis(connection_pool=pool)
            app = init_app(settings, engine, redis)
            # No token, secret or number in its lines; at most so many connections.
            runner = access_log.runner(app, settings.console_max_connections,
                                       settings.console_max_connections_per_address,
                                       parse_trusted(settings.trusted_proxies))  # fmt: skip
            await runner.setup()
            site = web.TCPSite(runner, host, port, ssl_context=tls)
            await site.start()
            # /metrics on its own address (Prometheus's network), not the public port.
            metrics = MetricsServer(settings.console_metrics_host, settings.console_metrics_port,
                                    registry=registry_for(CONSOLE),
                                    max_connections=settings.metrics_max_connections,
                                    max_per_address=settings.metrics_max_connections_per_address)  # fmt: skip
            await metrics.start()
            scheme = "https" if tls is not None else "http"
            print(f"console listening on {scheme}://{host}:{port}/", flush=True)
            stop = asyncio.Event()
            # docker stop / systemd send SIGTERM: close sockets and the pop
            # subscriber cleanly instead of dying mid-request.
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            try:
                await stop.wait()
            finally:
                await metrics.stop()
                await runner.cleanup()
                await redis.aclose()  # type: ignore[attr-defined]

        try:
            asyncio.run(serve())
        finally:
            engine.dispose()
    return 0
