"""The assistant's payment link carried out in the chat, against the local stand-in of
Mercado Pago: a link for the amount asked (at most the balance) made through the
gateway and sent as the reply (over SMS through the chat sender's final check); no
gateway: the creditor's instructions, never a link; a gateway that does not answer: a
clear reply and nothing recorded as sent."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, select
from support.selfservice_seed import IDENTITY_KEY, NOW, PHONE, PortalSeed, seed_portal

from cobrador.ground.settings import Settings
from compliance.service import ComplianceService
from gateways import mercadopago as mp
from gateways.mercadopago_local import LocalMercadoPago
from selfservice import conversations as conv
from selfservice.chat_sender import ChatSender
from selfservice.chat_service import ChatService, Handled, Incoming
from selfservice.chat_setup import build_chat
from selfservice.payment_links import MercadoPagoProvider, PaymentProvider
from store.db import transaction
from store.models import CallAttempt, PaymentLink

TOKEN = "APP_USR-prueba"
SECRET = "clave-secreta-del-webhook"
INSTRUCTIONS = "Pague en BBVA, convenio 123456, referencia su número de cuenta."


class FakeRedis:
    async def publish(self, channel: str, message: str) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:  # the hopper's calls: nothing to do here
        async def nothing(*args: Any, **kwargs: Any) -> Any:
            return 0

        return nothing


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, message: Any) -> str:
        self.sent.append(message)
        return f"sms-{len(self.sent)}"


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    return seed_portal(engine)  # María, 6,000.00 MXN; the campaign's payment instructions


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[LocalMercadoPago, MercadoPagoProvider]]:
    local = LocalMercadoPago(access_token=TOKEN, webhook_secret=SECRET, retries=0)
    base = await local.start()
    client = mp.MercadoPagoClient(mp.MercadoPagoSettings(TOKEN, SECRET, api_base=base))
    yield local, MercadoPagoProvider(client)
    await client.close()
    await local.stop()


def chat(engine: Engine, provider: PaymentProvider | None) -> ChatService:
    settings = Settings().with_overrides(
        portal_identity_key=base64.b64encode(IDENTITY_KEY).decode()
    )
    return build_chat(settings, engine, FakeRedis(), payments=lambda: provider)


def portal(seeded: PortalSeed, text: str) -> Incoming:
    return Incoming("chat", "portal:s1", text, NOW, account_id=seeded.account_id, verified=True)


def texts(done: Handled) -> list[str]:
    return [r.text for r in done.replies]


def links(engine: Engine) -> list[PaymentLink]:
    with transaction(engine) as s:
        return list(s.scalars(select(PaymentLink).order_by(PaymentLink.id)))


def link_contacts(engine: Engine) -> list[CallAttempt]:
    with transaction(engine) as s:
        rows = s.scalars(select(CallAttempt).order_by(CallAttempt.id))
        return [r for r in rows if (r.details or {}).get("debtor_action") == "payment_link"]


async def test_given_a_gateway_when_the_debtor_asks_to_pay_an_amount_then_its_link_is_the_reply(
    engine: Engine, seeded: PortalSeed, gateway: tuple[LocalMercadoPago, MercadoPagoProvider]
) -> None:
    local, provider = gateway
    done = await chat(engine, provider).handle_async(portal(seeded, "quiero pagar 1,500 pesos"))
    [link] = links(engine)
    assert (link.status, link.amount, link.currency) == ("open", Decimal("1500.00"), "MXN")
    assert texts(done) == [f"Pague $1,500.00 MXN de forma segura en este enlace: {link.url}"]
    assert link.url is not None and link.url.startswith(local.base_url)
    [preference] = local.preferences.values()
    assert preference["items"][0]["unit_price"] == 1500.0  # what the gateway was asked
    # The debtor's own contact on the timeline, on behalf of the conversation.
    [contact] = link_contacts(engine)
    assert (contact.direction, contact.channel) == ("inbound", "chat")
    assert contact.details["link_id"] == link.id
    assert done.errors == ()


async def test_given_more_than_the_balance_then_the_link_is_for_the_balance(
    engine: Engine, seeded: PortalSeed, gateway: tuple[LocalMercadoPago, MercadoPagoProvider]
) -> None:
    done = await chat(engine, gateway[1]).handle_async(portal(seeded, "quiero pagar 9,000 pesos"))
    [link] = links(engine)
    assert link.amount == Decimal("6000.00")
    assert texts(done)[0] == "Su saldo es de $6,000.00 MXN; el enlace es por ese monto."
    assert texts(done)[1].endswith(str(link.url))


async def test_given_an_unclear_amount_then_it_is_asked_and_the_answer_gets_its_link(
    engine: Engine, seeded: PortalSeed, gateway: tuple[LocalMercadoPago, MercadoPagoProvider]
) -> None:
    service = chat(engine, gateway[1])
    asked = await service.handle_async(portal(seeded, "quiero pagar 500 o 600"))
    assert links(engine) == [] and link_contacts(engine) == []  # never the whole balance
    assert texts(asked) == ["¿Cuánto quiere pagar? Su saldo es de $6,000.00 MXN. Escriba un solo "
                            "monto, por ejemplo «2500», o «todo»."]  # fmt: skip
    answered = await service.handle_async(portal(seeded, "500"))
    [link] = links(engine)
    assert link.amount == Decimal("500.00")
    assert texts(answered) == [f"Pague $500.00 MXN de forma segura en este enlace: {link.url}"]


async def test_given_an_sms_conversation_then_the_link_waits_for_the_chat_senders_check(
    engine: Engine, aredis: aioredis.Redis, seeded: PortalSeed,
    gateway: tuple[LocalMercadoPago, MercadoPagoProvider],
) -> None:  # fmt: skip
    sms = Incoming("sms", PHONE, "quiero pagar", NOW, account_id=seeded.account_id, verified=True)
    done = await chat(engine, gateway[1]).handle_async(sms)
    [reply] = done.replies
    [link] = links(engine)
    assert reply.status == "pending" and str(link.url) in reply.text  # not sent by the chat
    channel = FakeSms()
    # 23:00 in Mexico City: the final check holds it (and it is never sent later by itself).
    night = ChatSender(engine, ComplianceService(engine, aredis), {"sms": channel},
                       lambda: NOW + timedelta(hours=12))  # fmt: skip
    assert await night.send_one(reply.message_id) == "held"
    assert channel.sent == []
    [(status, reasons)] = [m for m in statuses(engine, done) if m[0] != "received"]
    assert status == "held" and "outside_hours" in str(reasons)


async def test_given_no_payment_gateway_then_the_creditors_instructions_and_no_link(
    engine: Engine, seeded: PortalSeed
) -> None:
    done = await chat(engine, None).handle_async(portal(seeded, "quiero pagar"))
    assert texts(done) == [f"Puede pagar así: {INSTRUCTIONS}"]
    assert links(engine) == [] and link_contacts(engine) == []
    assert done.errors == ()


async def test_given_a_gateway_that_does_not_answer_then_a_clear_reply_and_nothing_sent(
    engine: Engine, seeded: PortalSeed, gateway: tuple[LocalMercadoPago, MercadoPagoProvider]
) -> None:
    local, provider = gateway
    await local.stop()  # the gateway is down: its connection is refused
    done = await chat(engine, provider).handle_async(portal(seeded, "quiero pagar 500"))
    assert texts(done) == [
        "No pude crear el enlace de pago en este momento. Inténtelo de nuevo en unos minutos. "
        f"Puede pagar así: {INSTRUCTIONS}"
    ]
    assert [link.status for link in links(engine)] == ["failed"]  # kept, never sent
    assert link_contacts(engine) == []
    assert done.errors == ("payment_link: the payment gateway did not answer",)
    with transaction(engine) as s:
        shown = [m["text"] for m in conv.transcript(s, done.conversation_id)]
    assert "action not carried out: payment_link: the payment gateway did not answer" in shown


async def test_given_an_account_with_nothing_to_pay_then_no_link(
    engine: Engine, seeded: PortalSeed, gateway: tuple[LocalMercadoPago, MercadoPagoProvider]
) -> None:
    from store.models import Account

    with transaction(engine) as s:
        account = s.get(Account, seeded.account_id)
        assert account is not None
        account.balance = Decimal("0")
    done = await chat(engine, gateway[1]).handle_async(portal(seeded, "quiero pagar"))
    assert links(engine) == [] and "enlace" not in " ".join(texts(done))


def statuses(engine: Engine, done: Handled) -> list[tuple[str, str | None]]:
    with transaction(engine) as s:
        return [(m["status"], m["detail"]) for m in conv.transcript(s, done.conversation_id)]
