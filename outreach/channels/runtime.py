"""The message channels a process runs, built from `Settings`: each configured channel
with its gateway (or its local simulator, `simulated`), the listeners providers call
back (Kannel and WhatsApp on the callbacks app, bounces and replies on the SMTP
listener), started together and stopped together.

    async with running_channels(settings, engine, opt_out=...) as running:
        scheduler = Scheduler(..., running.senders, ...)
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import Engine

from cobrador.ground import access_log
from cobrador.ground.addresses import parse_networks
from cobrador.ground.errors import UserError
from cobrador.ground.kept_keys import kept_callbacks_token
from cobrador.ground.settings import Settings
from gateways.kannel import KannelSettings
from gateways.smpp.client import SmppSettings
from gateways.smpp.smsc import SmscSimulator
from gateways.smtp import SmtpListener, SmtpSettings
from gateways.smtp_sink import SmtpSink
from gateways.whatsapp.cloud_api import WhatsAppSettings
from gateways.whatsapp.local_server import LocalCloudApi
from outreach.channels import OnBadAddress, OptOut
from outreach.channels.addresses import address_marker
from outreach.channels.callbacks import init_app
from outreach.channels.delivery import DeliveryBook
from outreach.channels.email import SmtpTransport, email_channel
from outreach.channels.letter import letter_channel
from outreach.channels.message_channel import MessageChannel, OnOutcome
from outreach.channels.sms import SmppTransport, sms_channel
from outreach.channels.sms_kannel import KannelTransport, kannel_sms_channel
from outreach.channels.whatsapp import CloudApiTransport, whatsapp_channel

log = logging.getLogger(__name__)

SIMULATED = "simulated"
# What the simulators do, so the demo shows every outcome: an SMS or WhatsApp number
# ending 0000 fails (no such number / no WhatsApp), an e-mail to a "rebota" address
# bounces; everything else is delivered (WhatsApp numbers ending 1 are read too).
SIMULATED_TEMPLATES = ("recordatorio", "aviso_firme", "confirmacion_promesa",
                       "recordatorio_promesa", "promesa_incumplida", "aviso_prejudicial")  # fmt: skip


def _sms_fate(destination: str) -> tuple[str, str]:
    return ("UNDELIV", "001") if destination.endswith("0000") else ("DELIVRD", "000")


def _email_fate(recipient: str) -> tuple[str, str] | None:
    return ("5.1.1", "550 5.1.1 user unknown") if "rebota" in recipient.lower() else None


def _whatsapp_fate(wa_id: str) -> tuple[int, str] | None:
    return (131026, "Message undeliverable") if wa_id.endswith("0000") else None


@dataclass
class Simulators:
    """The local stand-ins of a `simulated` run: the demo drives the debtors' replies."""

    smsc: SmscSimulator | None = None
    smtp: SmtpSink | None = None
    whatsapp: LocalCloudApi | None = None


@dataclass
class RunningChannels:
    senders: dict[str, MessageChannel] = field(default_factory=dict)
    simulators: Simulators = field(default_factory=Simulators)
    callbacks_url: str = ""
    email_inbound_port: int = 0


MIN_CALLBACKS_TOKEN = 16  # characters of the secret in Kannel's callback URLs


def _need(settings: Settings, *names: str) -> None:
    missing = [f"COBRADOR_{n.upper()}" for n in names if not getattr(settings, n)]
    if missing:
        raise UserError(
            f"message gateway settings missing: {', '.join(missing)} (docs/messaging.md)"
        )


@contextlib.asynccontextmanager
async def running_channels(settings: Settings, engine: Engine, *, opt_out: OptOut,
                           on_bad_address: OnBadAddress | None = None,
                           on_outcome: OnOutcome | None = None) -> AsyncIterator[RunningChannels]:  # fmt: skip
    """Every channel `settings` configures, running; none configured: no senders. A bad
    address (a permanent bounce) marks the account unless `on_bad_address` is given."""
    book = DeliveryBook(engine)
    on_bad_address = on_bad_address or address_marker(engine)
    running = RunningChannels()
    if settings.callbacks_token and len(settings.callbacks_token) < MIN_CALLBACKS_TOKEN:
        # The token is all that authenticates Kannel's calls (a forged report or "BAJA"),
        # and wrong guesses at it are not throttled.
        raise UserError(f"COBRADOR_CALLBACKS_TOKEN must be {MIN_CALLBACKS_TOKEN} characters "
                        "or more (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        # The callbacks listener's socket first: its URL goes into Kannel's and
        # WhatsApp's configuration; the app on it once every transport exists.
        sock: socket.socket | None = None
        if settings.sms_gateway == "kannel" or settings.whatsapp_gateway:
            sock = socket.create_server((settings.callbacks_host, settings.callbacks_port))
            sock.setblocking(False)
            stack.callback(sock.close)
            port = sock.getsockname()[1]
            running.callbacks_url = (settings.callbacks_public_url.rstrip("/")
                                     or f"http://{settings.callbacks_host}:{port}")  # fmt: skip
        kannel: KannelTransport | None = None
        whatsapp: CloudApiTransport | None = None

        # --- SMS ---
        sms = settings.sms_gateway
        if sms in ("smpp", SIMULATED):
            if sms == SIMULATED:
                smsc = SmscSimulator(fate=_sms_fate)
                await smsc.start()
                stack.push_async_callback(smsc.stop)
                running.simulators.smsc = smsc
                smpp = SmppSettings("127.0.0.1", smsc.port, "cobrador", "demo")
            else:
                _need(settings, "smpp_host", "smpp_system_id", "smpp_password")
                smpp = SmppSettings(settings.smpp_host, settings.smpp_port, settings.smpp_system_id,
                                    settings.smpp_password, settings.smpp_system_type)  # fmt: skip
            channel = sms_channel(smpp, book, opt_out=opt_out, on_outcome=on_outcome)
            channel.on_bad_address = on_bad_address
            assert isinstance(channel.transport, SmppTransport)
            channel.transport.start()
            stack.push_async_callback(channel.transport.close)
            running.senders["sms"] = channel
        elif sms == "kannel":
            _need(settings, "kannel_sendsms_url", "kannel_username", "kannel_password")
            # Unset: the one kept in the data dir, so the reports and replies of messages
            # sent before a restart (their URLs carry it) are still taken.
            token = settings.callbacks_token or kept_callbacks_token(settings.data_dir)
            kannel_settings = KannelSettings(settings.kannel_sendsms_url, settings.kannel_username,
                                             settings.kannel_password, running.callbacks_url, token)  # fmt: skip
            channel = kannel_sms_channel(
                kannel_settings, book, opt_out=opt_out, on_outcome=on_outcome
            )
            channel.on_bad_address = on_bad_address
            assert isinstance(channel.transport, KannelTransport)
            kannel = channel.transport
            stack.push_async_callback(kannel.close)
            running.senders["sms"] = channel
        elif sms:
            raise UserError(
                f"sms_gateway {sms!r}: use smpp, kannel or simulated (or leave it empty)"
            )

        # --- e-mail ---
        mail = settings.email_gateway
        if mail in ("smtp", SIMULATED):
            if mail == "smtp":
                _need(settings, "smtp_host", "email_from", "email_bounce_address")
            sender = settings.email_from or "avisos@cobrador.demo"
            bounces = settings.email_bounce_address or "rebotes@cobrador.demo"
            transport_box: list[SmtpTransport] = []

            async def on_mail(mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
                await transport_box[0].on_mail(mail_from, rcpt_tos, raw)

            inbound = SmtpListener(on_mail, max_connections=settings.email_inbound_max_connections)
            inbound_port = await inbound.start(settings.email_inbound_host,
                                               0 if mail == SIMULATED else settings.email_inbound_port)  # fmt: skip
            stack.push_async_callback(inbound.stop)
            running.email_inbound_port = inbound_port
            if mail == SIMULATED:
                sink = SmtpSink(
                    fate=_email_fate, bounce_to=(settings.email_inbound_host, inbound_port)
                )
                await sink.start()
                stack.push_async_callback(sink.stop)
                running.simulators.smtp = sink
                smtp = SmtpSettings("127.0.0.1", sink.port, tls="none")
            else:
                smtp = SmtpSettings(settings.smtp_host, settings.smtp_port, settings.smtp_username,
                                    settings.smtp_password, settings.smtp_tls)  # fmt: skip
            channel = email_channel(smtp, book, from_address=sender, bounce_address=bounces,
                                    reply_to=settings.email_reply_to or None, opt_out=opt_out,
                                    on_bad_address=on_bad_address, on_outcome=on_outcome,
                                    authserv_id=settings.inbound_email_authserv_id)  # fmt: skip
            assert isinstance(channel.transport, SmtpTransport)
            transport_box.append(channel.transport)
            running.senders["email"] = channel
        elif mail:
            raise UserError(f"email_gateway {mail!r}: use smtp or simulated (or leave it empty)")

        # --- WhatsApp ---
        wa = settings.whatsapp_gateway
        if wa in ("cloud_api", SIMULATED):
            templates = [t.strip() for t in settings.whatsapp_templates.split(",") if t.strip()]
            if wa == SIMULATED:
                secret, access = secrets.token_hex(16), secrets.token_hex(16)
                local = LocalCloudApi(phone_number_id="5215500000000", access_token=access,
                                      app_secret=secret, fate=_whatsapp_fate,
                                      templates={t: {settings.whatsapp_language}
                                                 for t in templates or SIMULATED_TEMPLATES},
                                      reads=lambda wa_id: wa_id.endswith("1"),
                                      webhook_url=f"{running.callbacks_url}/whatsapp/webhook")  # fmt: skip
                base = await local.start()
                stack.push_async_callback(local.stop)
                running.simulators.whatsapp = local
                wa_settings = WhatsAppSettings(local.phone_number_id, access, secret,
                                               secrets.token_hex(8), api_base=base)  # fmt: skip
                templates = templates or list(SIMULATED_TEMPLATES)
            else:
                _need(settings, "whatsapp_phone_number_id", "whatsapp_access_token",
                      "whatsapp_app_secret", "whatsapp_verify_token")  # fmt: skip
                wa_settings = WhatsAppSettings(
                    settings.whatsapp_phone_number_id, settings.whatsapp_access_token,
                    settings.whatsapp_app_secret, settings.whatsapp_verify_token,
                    api_base=settings.whatsapp_api_base,
                )  # fmt: skip
            channel = whatsapp_channel(wa_settings, book, opt_out=opt_out, templates=templates,
                                       language=settings.whatsapp_language,
                                       on_bad_address=on_bad_address, on_outcome=on_outcome)  # fmt: skip
            assert isinstance(channel.transport, CloudApiTransport)
            whatsapp = channel.transport
            stack.push_async_callback(whatsapp.close)
            running.senders["whatsapp"] = channel
        elif wa:
            raise UserError(
                f"whatsapp_gateway {wa!r}: use cloud_api or simulated (or leave it empty)"
            )

        # --- letters ---
        if settings.letter_gateway == "mailroom":
            running.senders["letter"] = letter_channel(engine, book, settings.letters_dir,
                                                       opt_out=opt_out, on_outcome=on_outcome)  # fmt: skip
        elif settings.letter_gateway:
            raise UserError(
                f"letter_gateway {settings.letter_gateway!r}: use mailroom (or leave it empty)"
            )

        if sock is not None:
            # Kannel's callbacks carry the secret token, the number and the text in the URL.
            try:
                proxies = parse_networks(settings.trusted_proxies)
            except ValueError as exc:
                raise UserError(f"trusted_proxies: {exc}") from exc
            runner = access_log.runner(init_app(kannel=kannel, whatsapp=whatsapp),
                                       settings.callbacks_max_connections,
                                       settings.callbacks_max_connections_per_address,
                                       proxies)  # fmt: skip
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.SockSite(runner, sock).start()
        log.info("message channels: %s", ", ".join(sorted(running.senders)) or "none")
        yield running
