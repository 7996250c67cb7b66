"""`cobrador demo`: the whole system in one process on embedded defaults.

SQLite under ./demo-data, an embedded redis-server, pbxsim (a simulated PBX
speaking real AMI and FastAGI over TCP), the FastAGI server, the dialer, the
console and /metrics. The first start seeds data; later starts reuse it.
Rules are never loosened to make the demo busy: if nobody may be called at
the (simulated) time, the demo says so and how to pick another time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import secrets
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cobrador.ground.redis_runtime import EmbeddedRedis
from cobrador.ground.settings import Settings

log = logging.getLogger(__name__)
DEFAULT_DATA_DIR = Path("demo-data")


@dataclass(frozen=True)
class DemoClock:
    """Wall time shifted to the demo's simulated start (`--at`)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC)

    def not_before(self, latest: datetime | None) -> DemoClock | None:
        """This clock moved on to just after `latest` when it reads earlier, else None.

        The data of an earlier start holds attempts up to `latest`: a clock set back
        (the same `--at` again, or no `--at` after a simulated later day) would write
        evidence older than what it already holds, and show calls from the future."""
        if latest is None or self.now() > latest:
            return None
        return DemoClock(self.offset + (latest - self.now()).total_seconds() + 1.0)


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser("demo", help="the whole system in one process, with demo data")
    demo.add_argument("--agents", type=int, default=2, help="human agent logins (agente1..N)")
    demo.add_argument("--bots", type=int, default=4, help="simulated agents who take calls")
    demo.add_argument("--accounts", type=int, default=600, help="accounts seeded at first start")
    demo.add_argument("--at", help="simulated start time, ISO 8601 with offset "
                      "(e.g. 2026-11-25T11:00:00-06:00)")  # fmt: skip
    demo.add_argument("--port", type=int, default=8080, help="console port")
    demo.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                      help="where the demo keeps its database and Redis (default ./demo-data; "
                      "COBRADOR_DATA_DIR is not read, so a demo never writes into another "
                      "installation's data)")  # fmt: skip
    demo.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.errors import UserError
    from cobrador.ground.kept_keys import (
        PORTAL_IDENTITY,
        PORTAL_LINK,
        console_secret_path,
        kept_console_secret,
        kept_key,
    )
    from console.app import session_key

    for name in ("agents", "bots", "accounts"):
        if getattr(args, name) < 0:
            raise UserError(f"--{name} cannot be negative")
    if args.accounts < 10:
        raise UserError("--accounts must be at least 10")
    offset = 0.0
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError as exc:
            raise UserError(f"--at {args.at!r} is not an ISO 8601 date-time") from exc
        if at.tzinfo is None:
            raise UserError("--at needs a UTC offset, e.g. 2026-11-25T11:00:00-06:00")
        offset = at.timestamp() - time.time()
    data_dir: Path = args.data_dir.resolve()
    settings = settings.with_overrides(data_dir=data_dir, console_port=args.port)
    given = settings.console_secret
    if not given:
        # Kept in the data dir: sessions survive a restart, and `cobrador console run`
        # on this data dir reads it there (cobrador/ground/kept_keys.py).
        settings = settings.with_overrides(console_secret=kept_console_secret(data_dir))
    try:
        session_key(settings)
    except ValueError as exc:
        # A kept file cut short (a full disk, an editor) or written by hand: refused
        # before anything starts, never replaced behind the operator's back.
        if given:
            raise UserError(f"{exc} (COBRADOR_CONSOLE_SECRET)") from exc
        raise UserError(f"{exc}: {console_secret_path(data_dir)} is not one; delete it and "
                        "start again to make a new one (the sessions it signed end)") from exc  # fmt: skip
    # The debtors' portal (docs/portal.md): its link and identity keys, kept like the cookie's.
    # `cobrador outreach link` on this data dir finds the link key the same way.
    if not settings.portal_link_secret:
        settings = settings.with_overrides(portal_link_secret=kept_key(data_dir, PORTAL_LINK))
    if not settings.portal_identity_key:
        settings = settings.with_overrides(portal_identity_key=kept_key(data_dir, PORTAL_IDENTITY))
    return asyncio.run(Demo(settings, args, DemoClock(offset)).run())


DEMO_IDENTITY = "1234"  # every demo debtor's document ends in these digits


def _demo_identities(engine: Engine, settings: Settings, now: datetime) -> str:
    """Every demo account answers the portal's identity check with DEMO_IDENTITY; returns
    a portal link to the first active account (the console's own address)."""
    from outreach.commands import link_secret
    from outreach.links import LinkSigner
    from selfservice.identity import identity_key, import_identities
    from store.db import transaction
    from store.models import Account

    with transaction(engine) as session:
        refs = list(session.scalars(select(Account.external_ref).order_by(Account.id)))
        first = session.scalar(
            select(Account.id).where(Account.status == "active").order_by(Account.id).limit(1)
        )
    rows = [(n, ref, f"DOC{DEMO_IDENTITY}") for n, ref in enumerate(refs, start=2)]
    import_identities(engine, rows, identity_key(settings.portal_identity_key), "demo", now)
    if first is None:
        return ""
    signer = LinkSigner(f"http://127.0.0.1:{settings.console_port}/p", link_secret(settings))
    return signer.link(first, now)


def say(message: str) -> None:
    print(message, flush=True)


class Demo:
    def __init__(self, settings: Settings, args: argparse.Namespace, clock: DemoClock) -> None:
        self.settings = settings
        self.args = args
        self.clock = clock
        self.stop = asyncio.Event()
        self.portal_link = ""

    async def run(self) -> int:
        from store.db import open_engine

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        data_dir = self.settings.data_dir
        say(f"cobrador demo: data in {data_dir}")
        engine = await asyncio.to_thread(open_engine, self.settings)
        embedded: EmbeddedRedis | None = None
        url = self.settings.redis_url
        if not url:
            # A random password (the data dir keeps its last one: docs/redis.md): no
            # other local user reads or writes its Redis.
            server = EmbeddedRedis(data_dir=data_dir / "redis", password=secrets.token_urlsafe(24))
            embedded = await asyncio.to_thread(server.start)
            url = embedded.url
        try:
            return await self._run(engine, url)
        finally:
            engine.dispose()
            if embedded is not None:
                embedded.stop()
            say("cobrador demo: stopped")

    async def _run(self, engine: Engine, url: str) -> int:
        from cobrador import demo_seed
        from compliance.profile import load_profiles
        from field.visit_rules import profile_visit_check

        sync_redis = redis.Redis.from_url(url)
        now = self.clock.now()
        passwords: dict[str, str] = {}
        if not await asyncio.to_thread(demo_seed.seeded, engine):
            result = await asyncio.to_thread(
                demo_seed.seed, engine, sync_redis, self.settings.data_dir, accounts=self.args.accounts,
                agents=self.args.agents, bots=self.args.bots, now=now, progress=lambda m: say(f"  seeding: {m}"),
                visit_check=profile_visit_check(load_profiles(self.settings.profiles_dir)),
                field_zone=self.settings.field_day_zone,
            )  # fmt: skip
            passwords = result.passwords
        else:
            say("  reusing the data of an earlier start")
            latest = await asyncio.to_thread(demo_seed.latest_attempt_at, engine)
            resumed = self.clock.not_before(latest)
            if resumed is not None:
                self.clock, now = resumed, resumed.now()
                say(f"  simulated time resumes at {now.isoformat(timespec='minutes')}, after the last"
                    " recorded contact: the demo's clock never runs back over its own data"
                    " (a new --data-dir starts at any time)")  # fmt: skip
            await asyncio.to_thread(
                demo_seed.load_reus, engine, sync_redis, self.settings.data_dir, now
            )
        sync_redis.close()
        try:
            self.portal_link = await asyncio.to_thread(_demo_identities, engine, self.settings, now)
        except ValueError as exc:  # a portal key given by the operator that is not usable
            say(f"  the debtor portal is off: {exc}")
        client = aioredis.Redis.from_url(url)
        try:
            await self._explain_window(engine, client, now)
            return await self._serve(engine, client, passwords)
        finally:
            await client.aclose()

    async def _explain_window(self, engine: Engine, client: aioredis.Redis, now: datetime) -> None:
        """Say plainly when nobody may be called now; never loosen a rule for the demo."""
        from compliance.service import ComplianceService, Item, account_facts, phone_facts
        from store.models import Account, Campaign

        def sample() -> list[tuple[Account, Campaign]]:
            with Session(engine, expire_on_commit=False) as s:
                from sqlalchemy.orm import selectinload

                rows = s.execute(select(Account, Campaign).join(Campaign, Account.campaign_id == Campaign.id)
                                 .options(selectinload(Account.phones))
                                 .where(Account.status == "active").limit(300)).all()  # fmt: skip
                return [(a, c) for a, c in rows]

        service = ComplianceService(engine, client)
        pairs = await asyncio.to_thread(sample)
        items = [Item(account_facts(a), phone_facts(a, a.phones[0].number_e164), service.profile_for(c, a.country), c.id)
                 for a, c in pairs if a.phones]  # fmt: skip
        decisions = await service.evaluate_batch(items, now)
        time_reasons = {"outside_hours", "day_not_allowed", "holiday"}
        if any(d.allowed for d in decisions):
            say(
                f"  simulated time {now.isoformat(timespec='minutes')}: debtors inside their calling windows"
            )
            return
        if decisions and all(set(d.reasons) & time_reasons for d in decisions):
            suggestion = (now + timedelta(days=1)).astimezone().date().isoformat()
            say(
                "\n  NOTE: at "
                + now.isoformat(timespec="minutes")
                + " no seeded debtor is inside a calling "
                "window (their local hours, days and holidays).\n"
                "  The demo will not loosen a rule to look busy. To see calls now, run it at a simulated\n"
                f"  weekday morning, e.g.:  cobrador demo --at {suggestion}T11:00:00-06:00\n"
            )

    async def _serve(
        self, engine: Engine, client: aioredis.Redis, passwords: dict[str, str]
    ) -> int:
        from console.app import init_app
        from dialer import channel_vars as cv
        from dialer.ami import AMIClient
        from dialer.campaign_dialer import DIALER_EVENTS
        from dialer.service import DialerService
        from metrics.http import MetricsServer
        from pbxsim.ami_server import AMIServer
        from pbxsim.clock import ScaledClock
        from pbxsim.pbx import PBX

        ami_secret = secrets.token_urlsafe(16)
        # The dialer owns the FastAGI server; pbxsim needs its port, so the
        # service's server is started first through a late-bound PBX.
        service_holder: dict[str, DialerService] = {}
        pbx = PBX(demo_scenario(), clock=ScaledClock(self.args.speed), agi_port=0)
        ami_server = AMIServer(pbx, "cobrador", ami_secret)
        await ami_server.start("127.0.0.1", 0)
        ami = AMIClient(
            "127.0.0.1", ami_server.port, "cobrador", ami_secret, event_filter=DIALER_EVENTS
        )
        settings = self.settings.with_overrides(fastagi_host="127.0.0.1", fastagi_port=0)
        service = DialerService(
            sql=engine, redis=client, ami=ami, settings=settings, clock=self.clock
        )
        service_holder["s"] = service
        payments = await self._payments()
        app = init_app(self.settings, engine, client, clock=self.clock.now,
                       payment_webhook=payments[1])  # fmt: skip
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.args.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            await ami_server.stop()
            await payments[2].close()
            await payments[0].stop()
            say(
                f"cobrador demo: cannot listen on port {self.args.port} ({exc.strerror}); try --port"
            )
            return 2
        # /metrics on a listener of its own (a free port), as in production:
        # never on the console's port.
        metrics = MetricsServer("127.0.0.1", 0)
        await metrics.start()
        dialer_task = asyncio.create_task(service.run(), name="demo-dialer")
        # The dial loops exist once the FastAGI server listens and AMI is up.
        while not service.dialers and not dialer_task.done():  # noqa: ASYNC110 - no event to await
            await asyncio.sleep(0.05)
        if dialer_task.done():
            await dialer_task  # raises what stopped it
        if service.agi is not None:
            pbx.agi_port = service.agi.port
            pbx.global_vars[cv.AGI_PORT] = str(service.agi.port)
        bots_stop = asyncio.Event()
        bots = asyncio.create_task(
            run_bots(engine, client, self.clock, bots_stop), name="demo-bots"
        )
        outreach = asyncio.create_task(self._outreach(engine, client, bots_stop,
                                                      payments[1].provider),
                                       name="demo-outreach")  # fmt: skip
        base = f"http://127.0.0.1:{self.args.port}"
        from console.payment_webhook_views import WEBHOOK_PATH

        payments[0].webhook_url = f"{base}{WEBHOOK_PATH}"
        say("")
        say("cobrador demo is ready:")
        say(f"  agent console    {base}/")
        say(f"  wallboard        {base}/supervisor")
        say(f"  auditor          {base}/auditor")
        say(f"  field app        {base}/field/  (campo1; its map: {base}/supervisor/field)")
        say(f"  metrics          http://127.0.0.1:{metrics.port}/metrics")
        say(f"  payments         Mercado Pago simulated at {payments[0].base_url} (no card data)")
        if self.portal_link:
            say(f"  debtor portal    {self.portal_link}  (identity: {DEMO_IDENTITY})")
        if passwords:
            say("  logins (shown once; keep them):")
            for user, password in passwords.items():
                say(f"    {user:<12} {password}")
        else:
            say(
                "  logins: those printed at the first start (or add one: cobrador user add NAME --role agent)"
            )
        say("  Ctrl-C stops everything.")
        say("ready")
        try:
            await self.stop.wait()
        finally:
            service.request_stop()
            # Told, not cancelled: a redis-py command cancelled mid-flight can hang.
            bots_stop.set()
            _, pending = await asyncio.wait([bots, outreach], timeout=10)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(dialer_task, return_exceptions=True), 10)
            await pbx.stop()
            await ami_server.stop()
            await metrics.stop()
            await runner.cleanup()
            await payments[2].close()
            await payments[0].stop()
        return 0

    async def _payments(self) -> tuple[Any, Any, Any]:
        """The `simulated` payment gateway: a local stand-in of Mercado Pago (its API, a
        checkout page with one button, signed notifications to the console's webhook)."""
        from console.payment_webhook_views import PaymentWebhook
        from gateways import mercadopago as mp
        from gateways.mercadopago_local import LocalMercadoPago
        from selfservice.payment_links import MercadoPagoProvider

        token, secret = "APP_USR-demo-" + secrets.token_hex(8), secrets.token_urlsafe(24)
        # Its payments dated by the demo's clock: under `--at` the receipts are of the
        # demo's day, not the wall clock's.
        local = LocalMercadoPago(access_token=token, webhook_secret=secret, clock=self.clock.now)
        base = await local.start()
        client = mp.MercadoPagoClient(mp.MercadoPagoSettings(token, secret, api_base=base))
        return local, PaymentWebhook(MercadoPagoProvider(client), secret, 300), client

    async def _outreach(self, engine: Engine, client: aioredis.Redis, stop: asyncio.Event,
                        payments: Any) -> None:  # fmt: skip
        """The strategies' scheduler on the simulated message gateways (an SMSC, an SMTP
        server, a WhatsApp Cloud API), so messages show in the timeline beside calls; the
        assistant's payment links over SMS/WhatsApp go to the simulated Mercado Pago."""
        from functools import partial

        from cobrador.chat_wiring import chat_alongside_channels
        from compliance.service import ComplianceService
        from outreach.channels.runtime import SIMULATED, running_channels
        from outreach.checks import ConsentedAddresses, EngineCheck
        from outreach.commands import link_secret
        from outreach.opt_outs import opt_out_recorder
        from outreach.scheduler import Scheduler

        settings = self.settings.with_overrides(
            sms_gateway=self.settings.sms_gateway or SIMULATED,
            email_gateway=self.settings.email_gateway or SIMULATED,
            whatsapp_gateway=self.settings.whatsapp_gateway or SIMULATED,
            callbacks_port=0,
        )
        try:
            compliance = ComplianceService(engine, client)
            # The chat's final check at the demo's time, as the scheduler's.
            chat = partial(chat_alongside_channels, payments=payments, clock=self.clock.now)
            async with (
                running_channels(settings, engine, opt_out=opt_out_recorder(engine)) as running,
                chat(settings, engine, client, compliance, running),
            ):
                check = EngineCheck(engine, compliance)
                scheduler = Scheduler(engine, check, running.senders, ConsentedAddresses(),
                                      link_secret=link_secret(self.settings), clock=self.clock.now,
                                      batch_size=100)  # fmt: skip
                await scheduler.run(stop, period=5.0)
        except Exception:  # noqa: BLE001 - the demo goes on dialing without messages
            log.exception("demo: the message scheduler stopped")


def demo_scenario() -> Any:
    from pbxsim.scenario import Dist, Scenario

    return Scenario(
        # A few debtors reject the call (603), a few numbers no longer exist (the
        # same ones every call): the dead-number rule and its marks show in the demo.
        p_human=0.35, p_machine=0.12, p_busy=0.1, p_congestion=0.03, p_unallocated=0.01,
        p_declined=0.03, p_dead_numbers=0.04,
        ring_seconds=Dist("uniform", 4.0, 16.0), talk_seconds=Dist("uniform", 25.0, 90.0),
        machine_seconds=Dist("constant", 8.0), amd_human_seconds=1.0, amd_machine_seconds=2.5,
        safe_harbor_seconds=6.0, agent_answer_seconds=0.3, seed=random.randrange(1 << 30),
    )  # fmt: skip


async def run_bots(
    engine: Engine, client: aioredis.Redis, clock: DemoClock, stop: asyncio.Event
) -> None:
    """Simulated agents: ready, take calls, record a plausible disposition, ready again."""
    from console.users import CurrentUser, Role
    from dialer.agent_state import AgentStates
    from store.models import Campaign, User

    def load() -> list[tuple[CurrentUser, str]]:
        with Session(engine) as s:
            rows = s.execute(select(User, Campaign.name).join(Campaign, User.campaign_id == Campaign.id)
                             .where(User.username.like("bot%"))).all()  # fmt: skip
            return [(CurrentUser(u.id, u.username, u.display_name, Role(u.role), u.campaign_id), name)
                    for u, name in rows]  # fmt: skip

    bots = await asyncio.to_thread(load)
    states = AgentStates(client, clock=clock)
    rng = random.Random()
    await log_bots_in(states, bots)
    last_attempt: dict[int, int] = {}
    asked: dict[int, float] = {}  # bot -> when it last asked for its leg again
    try:
        while not stop.is_set():
            try:
                await _bots_step(bots, states, engine, client, clock, rng, last_attempt, asked)
            except (RedisError, SQLAlchemyError, OSError) as exc:  # a store away: try again
                log.warning("demo bots: %s; retrying", exc)
            await asyncio.sleep(0.25)
    finally:
        for bot, _ in bots:
            with contextlib.suppress(Exception):
                await states.logout(bot.id)


async def log_bots_in(states: Any, bots: list[tuple[Any, str]]) -> None:
    """Every bot logged in and ready, but one the last run left on a call (a kill
    mid-call leaves it talking in the persisted Redis): the dialer's reconciliation
    ends that call, and the bots' steps take it from the wrap-up."""
    from dialer.agent_state import AgentStateError

    for bot, campaign in bots:
        await states.login(bot.id, campaign)
        with contextlib.suppress(AgentStateError):
            await states.set_ready(bot.id)


async def _bots_step(bots: list[tuple[Any, str]], states: Any, engine: Engine,
                     client: aioredis.Redis, clock: DemoClock, rng: random.Random,
                     last_attempt: dict[int, int], asked: dict[int, float]) -> None:  # fmt: skip
    """One look at every bot: each state has its move (ready and on a call: none)."""
    from dialer.agent_state import AgentState, AgentStateError
    from dialer.messages import AgentLegReconnect, Notifier

    for bot, _ in bots:
        snap = await states.get(bot.id)
        if snap.state is AgentState.talking and snap.attempt_id:
            last_attempt[bot.id] = snap.attempt_id
        elif snap.state is AgentState.wrap_up and clock() - snap.since > 3:
            attempt = last_attempt.pop(bot.id, None) or snap.attempt_id
            if attempt:
                await asyncio.to_thread(_bot_disposition, engine, bot, attempt, clock, rng)
            with contextlib.suppress(AgentStateError):
                await states.set_ready(bot.id)
        elif snap.state is AgentState.logged_out:
            await states.login(bot.id, _)
            await states.set_ready(bot.id)
        elif snap.state is AgentState.paused:
            # Bots never pause by choice: a pause is the system's (login, or
            # "reconexión" after their leg dropped mid-call, whose outcome
            # they record first): back to work.
            attempt = last_attempt.pop(bot.id, None)
            if attempt:
                await asyncio.to_thread(_bot_disposition, engine, bot, attempt, clock, rng)
            with contextlib.suppress(AgentStateError):
                await states.set_ready(bot.id)
        elif snap.state is AgentState.no_audio and clock() - asked.get(bot.id, 0.0) > 5:
            # The bot's leg dropped: press "reconnect" like a person would.
            asked[bot.id] = clock()
            await Notifier(client).send(AgentLegReconnect(agent_id=bot.id))


def _bot_disposition(
    engine: Engine, bot: Any, attempt_id: int, clock: DemoClock, rng: random.Random
) -> None:
    from compliance.callback_window import default_callback_checker
    from console.agent_service import save_disposition
    from console.dispositions import FormErrors
    from console.money import money_format
    from store.models import Account, CallAttempt

    with Session(engine) as s:
        attempt = s.get(CallAttempt, attempt_id)
        account = s.get(Account, attempt.account_id) if attempt else None
        if attempt is None or account is None:
            return
        balance = account.balance
        money = money_format(account.country, account.currency)
    now = clock.now()
    roll = rng.random()
    form: dict[str, str]
    if roll < 0.35:
        amount = (balance * Decimal(rng.choice(["0.1", "0.25", "0.5", "1"]))).quantize(
            Decimal("0.01")
        )
        amount = max(amount, Decimal("1.00"))
        # Typed the way an agent of the debtor's country types it, read back and confirmed.
        form = {"party": "titular", "outcome": "promesa_pago", "promise_amount": money.typed(amount),
                "promise_confirm": str(amount),
                "promise_date": (now + timedelta(days=rng.randrange(1, 8))).date().isoformat(),
                "notes": "Promesa registrada por el agente simulado."}  # fmt: skip
    elif roll < 0.55:
        form = {"party": "titular", "outcome": "rehusa", "notes": "No puede pagar este mes."}
    elif roll < 0.7:
        form = {"party": "tercero", "outcome": "recado", "notes": "Dejó recado con un familiar."}
    elif roll < 0.8:
        form = {"party": "nadie", "outcome": "numero_equivocado", "notes": ""}
    else:
        form = {"party": "nadie", "outcome": "sin_contacto", "notes": ""}
    try:
        # The simulated agent asked the simulated debtor the identity questions first.
        save_disposition(engine, bot, attempt_id, form, now, default_callback_checker,
                         verified_party="titular")  # fmt: skip
    except (FormErrors, PermissionError) as exc:
        log.info("demo bot %s: disposition not saved (%s)", bot.username, exc)
