"""CLI: `cobrador outreach run` (the scheduler process) and `cobrador outreach check
RULES.toml` (a campaign rules file's strategy, messages and templates)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import logging
import signal
import tomllib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings

log = logging.getLogger(__name__)

# What else `outreach run` runs with its message channels: each is called with
# (settings, SQL engine, Redis client, ComplianceService, RunningChannels) and gives an
# async context manager held while they run. The debtors' chat adds itself here
# (cobrador/chat_wiring.py: it hears the replies and sends its own), so this package
# needs nothing of it.
WithChannels = Callable[[Settings, Any, Any, Any, Any], contextlib.AbstractAsyncContextManager[Any]]
WITH_CHANNELS: list[WithChannels] = []

# The legal dossier's words in a language other than Spanish (its msgids): a function
# giving the translation. The English lives in the console's catalog, which adds itself
# here (console/commands.py), as this package may not import the console.
DOSSIER_LANGUAGES = ("es", "en")  # outreach.legal_dossier.LANGUAGES (a test keeps them equal)
DOSSIER_TRANSLATIONS: dict[str, Callable[[], Callable[[str], str]]] = {}


def register(subparsers: Any) -> None:
    from dialer.commands import RULES_CHECKS

    if check_rules not in RULES_CHECKS:
        RULES_CHECKS.append(check_rules)  # `cobrador campaign create --rules` checks them too
    outreach = subparsers.add_parser("outreach", help="staged strategies: the message scheduler")
    sub = outreach.add_subparsers(dest="outreach_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run the strategies of the running campaigns (Ctrl-C stops)")
    run.add_argument("--once", action="store_true", help="one pass, then exit")
    run.add_argument("--period", type=float, default=5.0, help="seconds between passes")
    run.add_argument("--heartbeat", type=Path, metavar="FILE",
                     help="touched after each pass that completes: a health check reads its "
                     "age (docker-compose's outreach service)")  # fmt: skip
    run.set_defaults(func=_run)
    legal = sub.add_parser(
        "legal",
        help="a person moves an account to legal: it is never contacted again, and "
        "its dossier (JSON + PDF) is written and hashed into the audit log",
    )
    legal.add_argument("account", metavar="REF")
    legal.add_argument("--by", required=True, help="who decides it (name or user)")
    legal.add_argument("--reason", required=True, help="why: kept in the dossier and the audit")
    legal.add_argument("--out", type=Path, help="directory (default: <data_dir>/dossiers)")
    _lang_argument(legal)
    legal.set_defaults(func=_legal)
    dossier = sub.add_parser("dossier", help="write an account's dossier (JSON + PDF) now")
    dossier.add_argument("account", metavar="REF")
    dossier.add_argument("--out", type=Path, help="directory (default: <data_dir>/dossiers)")
    _lang_argument(dossier)
    dossier.set_defaults(func=_dossier)
    link = sub.add_parser("link", help="print a signed self-service portal link for an account")
    link.add_argument("account", metavar="REF")
    link.add_argument(
        "--url", required=True, help="the portal's address, e.g. https://pagos.example.mx/p"
    )
    link.add_argument("--hours", type=int, default=72, help="how long the link lives (at most 720)")
    link.set_defaults(func=_link)
    check = sub.add_parser("check", help="check a campaign rules file's strategy and templates")
    check.add_argument("rules", type=Path, metavar="RULES.toml")
    check.set_defaults(func=_check)


def link_secret(settings: Settings) -> bytes:
    """The portal links' signing key: portal_link_secret, else the one the demo keeps in
    the data dir (cobrador/ground/kept_keys.py); b"" when there is neither."""
    from cobrador.ground.kept_keys import PORTAL_LINK, read_kept_key

    encoded = settings.portal_link_secret or read_kept_key(settings.data_dir, PORTAL_LINK)
    if not encoded:
        return b""
    try:
        secret = base64.b64decode(encoded + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise UserError("portal_link_secret must be base64") from exc
    if len(secret) < 32:
        raise UserError("portal_link_secret must be 32 bytes or more, base64 encoded")
    return secret


def _link(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from outreach.links import LinkError, LinkSigner
    from store.db import open_engine, transaction
    from store.models import Account

    secret = link_secret(settings)
    if not secret:
        from cobrador.ground.kept_keys import PORTAL_LINK, key_path

        raise UserError(
            f"portal_link_secret is not set, nor kept in {key_path(settings.data_dir, PORTAL_LINK)} "
            "(where the demo keeps its own): no link can be signed. Set "
            "COBRADOR_PORTAL_LINK_SECRET to the console's portal_link_secret (32+ bytes, base64), "
            "or COBRADOR_DATA_DIR to the demo's data dir"
        )
    try:
        signer = LinkSigner(args.url, secret, timedelta(hours=args.hours))
    except LinkError as exc:
        raise UserError(str(exc)) from exc
    with transaction(open_engine(settings)) as session:
        account_id = session.scalar(select(Account.id).where(Account.external_ref == args.account))
    if account_id is None:
        raise UserError(f"no account {args.account!r}")
    print(signer.link(account_id, datetime.now(UTC)))
    return 0


def check_rules(config: dict[str, Any]) -> list[str]:
    """What is wrong with a rules file's outreach parts (empty: nothing)."""
    from outreach.rendering import SMS_SENDER, TemplateError, Templates, options_from, sender_for
    from outreach.strategy import MESSAGE_CHANNELS, StrategyError, strategy_for

    try:
        strategy = strategy_for(config)
        options = options_from(config)
    except (StrategyError, TemplateError) as exc:
        return [str(exc)]
    problems = Templates().check(strategy)
    messages = any(s.channel in MESSAGE_CHANNELS for r in strategy.stages.values() for s in r.steps)
    if messages and not options.portal_url:
        problems.append("messages.portal_url is required: a message's details travel behind it")
    sms = any(s.channel == "sms" for r in strategy.stages.values() for s in r.steps)
    if sms and not SMS_SENDER.fullmatch(sender_for(options, "sms")):
        problems.append(
            f"messages.sms_sender is required: the sender {options.sender!r} is no SMS sender ID "
            "(a short code, a number or up to 11 letters and digits)"
        )
    return problems


def _check(args: argparse.Namespace, settings: Settings) -> int:
    try:
        config = tomllib.loads(args.rules.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"campaign rules {args.rules}: {exc}") from exc
    problems = check_rules(config)
    if problems:
        raise UserError(f"campaign rules {args.rules}: " + "; ".join(problems))
    from outreach.strategy import strategy_for

    stages = strategy_for(config).stages
    print(
        f"{args.rules}: strategy ok ({', '.join(stages) or 'no stages: the campaign only dials'})"
    )
    return 0


def _lang_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", default="es", choices=DOSSIER_LANGUAGES,
                        help="the PDF's language (default: es); amounts stay in the "
                        "account's currency and notation, the JSON is the same")  # fmt: skip


def _dossier_words(lang: str) -> Callable[[str], str]:
    """The translation of the dossier's Spanish msgids into ``lang``."""
    if lang == "es":
        return str
    translation = DOSSIER_TRANSLATIONS.get(lang)
    if translation is None:
        raise UserError(f"the dossier has no {lang!r} words here: choose --lang es")
    return translation()


def _legal(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from outreach.legal_dossier import DossierError, move_to_legal
    from store.db import open_engine

    out = args.out or settings.data_dir / "dossiers"
    try:
        dossier, json_path, pdf_path = move_to_legal(
            open_engine(settings), args.account, by=args.by, reason=args.reason,
            now=datetime.now(UTC), out_dir=out, tr=_dossier_words(args.lang), lang=args.lang,
        )  # fmt: skip
    except DossierError as exc:
        raise UserError(str(exc)) from exc
    print(f"account {args.account} is in legal; dossier: {json_path} (sha256 "
          f"{dossier.json_sha256}), {pdf_path} (sha256 {dossier.pdf_sha256})")  # fmt: skip
    return 0


def _dossier(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from outreach.legal_dossier import DossierError, build
    from store.db import open_engine

    now = datetime.now(UTC)
    try:
        dossier = build(open_engine(settings), args.account, now,
                        tr=_dossier_words(args.lang), lang=args.lang)  # fmt: skip
    except DossierError as exc:
        raise UserError(str(exc)) from exc
    out: Path = args.out or settings.data_dir / "dossiers"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.account}-{now.strftime('%Y%m%dT%H%M%SZ')}".replace("/", "_")
    (out / f"{stem}.json").write_bytes(dossier.json_bytes)
    (out / f"{stem}.pdf").write_bytes(dossier.pdf_bytes)
    print(f"dossier of {args.account}: {out / stem}.json, {out / stem}.pdf")
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.runtime import redis_url
    from store.db import open_engine

    secret = link_secret(settings)
    heartbeat: Path | None = args.heartbeat
    if heartbeat is not None and not heartbeat.parent.is_dir():
        raise UserError(f"--heartbeat {heartbeat}: there is no directory {heartbeat.parent}")
    engine = open_engine(settings)
    with redis_url(settings) as url:
        return asyncio.run(_serve(settings, engine, url, secret, args.once, args.period, heartbeat))


@contextlib.asynccontextmanager
async def metrics_listener(settings: Settings) -> AsyncIterator[Any]:
    """The scheduler's /metrics on a listener of its own (metrics/http.py MetricsServer,
    bounded like the dialer's): the strategy messages sent, failed, uncertain, blocked
    and waiting per campaign and channel (cobrador_outreach_messages_total), its blocks,
    hand-offs and results. Only with outreach_metrics_port set; none by default."""
    from metrics.http import MetricsServer
    from metrics.roles import OUTREACH, registry_for

    host, port = settings.outreach_metrics_host, settings.outreach_metrics_port
    if port == 0:
        yield None
        return
    server = MetricsServer(host, port, registry=registry_for(OUTREACH),
                           max_connections=settings.metrics_max_connections,
                           max_per_address=settings.metrics_max_connections_per_address)  # fmt: skip
    try:
        await server.start()
    except OSError as exc:
        raise UserError(f"outreach /metrics cannot listen on {host}:{port} ({exc}): set "
                        "COBRADOR_OUTREACH_METRICS_PORT to a free port, or 0 for no /metrics") from exc  # fmt: skip
    try:
        yield server
    finally:
        await server.stop()


async def _serve(settings: Settings, engine: Any, url: str, secret: bytes, once: bool,
                 period: float, heartbeat: Path | None = None,
                 stop: asyncio.Event | None = None) -> int:  # fmt: skip
    """`stop`: ends the loop (tests); None: SIGINT or SIGTERM does."""
    import redis.asyncio as aioredis

    from compliance.service import ComplianceService
    from outreach.channels.runtime import running_channels
    from outreach.checks import ConsentedAddresses, EngineCheck
    from outreach.opt_outs import opt_out_recorder
    from outreach.scheduler import Scheduler

    client = aioredis.Redis.from_url(url)
    try:
        compliance = ComplianceService(engine, client)
        async with (
            running_channels(settings, engine, opt_out=opt_out_recorder(engine)) as running,
            contextlib.AsyncExitStack() as alongside,
        ):
            if not once:
                await alongside.enter_async_context(metrics_listener(settings))
            for attach in WITH_CHANNELS:
                await alongside.enter_async_context(
                    attach(settings, engine, client, compliance, running)
                )
            if not running.senders:
                log.warning("no message channel configured (docs/messaging.md): message steps "
                            "stay due; call steps still go to the hopper")  # fmt: skip
            scheduler = Scheduler(engine, EngineCheck(engine, compliance), running.senders,
                                  ConsentedAddresses(), link_secret=secret)  # fmt: skip
            # Touched after each completed pass: a wedged loop, or passes that fail (the
            # database away), leave it to age, and the health check says so.
            beat = heartbeat.touch if heartbeat is not None else None
            if once:
                report = await scheduler.run_once()
                if beat is not None:
                    beat()
                print(report)
                return 0
            if stop is None:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
            await scheduler.run(stop, period, on_pass=beat)
            return 0
    finally:
        await client.aclose()
