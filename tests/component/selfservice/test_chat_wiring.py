"""`cobrador outreach run` runs the chat with its channels: the CLI registers it, SMS and
WhatsApp replies reach it while the channels run, and nothing once they stop."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, select
from support.polling import until

from cobrador.chat_wiring import chat_alongside_channels
from cobrador.cli import build_parser
from cobrador.ground.settings import Settings
from compliance.service import ComplianceService
from outreach.commands import WITH_CHANNELS
from store.db import transaction
from store.models import Account, ConversationMessage, Phone

PERU = "+51987654321"


class Channel:
    on_message: Any = None

    async def send(self, message: Any) -> str:
        return "prov-1"


@dataclass
class Running:
    senders: dict[str, Any] = field(default_factory=dict)


def test_given_the_cli_then_the_chat_runs_with_outreach_run() -> None:
    build_parser()
    assert chat_alongside_channels in WITH_CHANNELS
    build_parser()
    assert WITH_CHANNELS.count(chat_alongside_channels) == 1


async def test_given_running_channels_then_replies_reach_the_chat_until_they_stop(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    sms, whatsapp, email = Channel(), Channel(), Channel()
    running = Running({"sms": sms, "whatsapp": whatsapp, "email": email})
    settings = Settings().with_overrides(portal_identity_key=base64.b64encode(b"k" * 32).decode())
    async with chat_alongside_channels(settings, engine, aredis,
                                       ComplianceService(engine, aredis), running):  # fmt: skip
        assert sms.on_message is not None and whatsapp.on_message is not None
        assert email.on_message is None  # e-mail replies are not a chat
    assert sms.on_message is None and whatsapp.on_message is None


@pytest.mark.parametrize(("local_hour", "status"), [(12, "sent"), (3, "held")])
async def test_given_a_clock_then_the_chat_sender_checks_replies_at_its_time(
    engine: Engine, aredis: aioredis.Redis, local_hour: int, status: str
) -> None:
    """The demo's shifted clock, not the wall clock: Tuesday in Lima at noon a reply goes
    out, at 03:00 it is held (outside the hours), whatever the time of the test run."""
    with transaction(engine) as s:
        account = Account(external_ref="PE-1", debtor_name="Rosa Quispe", country="PE",
                          timezone="America/Lima", balance=Decimal("900.00"), currency="PEN")  # fmt: skip
        account.phones.append(Phone(number_e164=PERU, consent=True, consent_ref="contrato-1",
                                    phone_type="mobile", channels="call,sms"))  # fmt: skip
        s.add(account)
    at = datetime(2026, 11, 24, local_hour + 5, 0, tzinfo=UTC)  # Lima is UTC-5
    sms = Channel()
    settings = Settings().with_overrides(portal_identity_key=base64.b64encode(b"k" * 32).decode())
    async with chat_alongside_channels(settings, engine, aredis, ComplianceService(engine, aredis),
                                       Running({"sms": sms}), clock=lambda: at):  # fmt: skip

        class Reply:
            channel, address, text, at = "sms", PERU, "hola", datetime(2026, 11, 24, 17, tzinfo=UTC)
            account_id, provider_id = None, "sms-in-1"

        await sms.on_message(Reply())

        def replies() -> list[str]:
            with transaction(engine) as s:
                rows = s.scalars(select(ConversationMessage).where(
                    ConversationMessage.sender == "assistant"))  # fmt: skip
                return [m.status for m in rows]

        await until(lambda: replies() and set(replies()) <= {"sent", "held", "failed"},
                    lambda: f"replies {replies()}")  # fmt: skip
        assert set(replies()) == {status}


async def test_given_the_settings_gateway_then_outreach_run_makes_links_through_it() -> None:
    from cobrador.chat_wiring import settings_gateway
    from selfservice.payment_links import MercadoPagoProvider

    real = Settings().with_overrides(payment_gateway="mercadopago",
                                     mercadopago_access_token="APP_USR-x",
                                     mercadopago_webhook_secret="s",
                                     mercadopago_api_base="http://127.0.0.1:9")  # fmt: skip
    async with settings_gateway(real) as provider:
        assert isinstance(provider, MercadoPagoProvider)
        assert provider.client.settings.api_base == "http://127.0.0.1:9"
    for other in ("simulated", ""):
        async with settings_gateway(Settings().with_overrides(payment_gateway=other)) as none:
            assert none is None  # the assistant gives the payment instructions
