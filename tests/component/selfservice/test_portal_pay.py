"""The portal's online payment: a link for an amount up to the balance through the
configured provider (the debtor pays on its page), refused with a reason otherwise;
none offered without a payment gateway."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.selfservice_seed import DIGITS, IDENTITY_KEY, LINK_SECRET, NOW, PortalSeed, seed_portal

from cobrador.ground.settings import Settings
from console.app import init_app
from console.payment_webhook_views import PaymentWebhook
from outreach.links import LinkSigner
from selfservice.payment_links import Checkout, CheckoutRequest, ProviderUnavailable
from store.models import CallAttempt, PaymentLink

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


class Provider:
    name = "simulated"

    def __init__(self) -> None:
        self.asked: list[CheckoutRequest] = []
        self.down = False

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        if self.down:
            raise ProviderUnavailable("down")
        self.asked.append(request)
        return Checkout(
            f"pref-{len(self.asked)}", f"https://pagos.example.com/checkout/{len(self.asked)}"
        )

    async def payment(self, payment_id: str) -> object:
        raise NotImplementedError


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    return seed_portal(engine)


async def app_client(aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings,
                     engine: Engine, aredis: aioredis.Redis, provider: Provider | None,
                     **changes: object) -> TestClient:  # fmt: skip
    settings = settings.with_overrides(
        portal_link_secret=base64.b64encode(LINK_SECRET).decode(),
        portal_identity_key=base64.b64encode(IDENTITY_KEY).decode(),
        **changes,
    )
    hook = PaymentWebhook(provider, "secreto", 300.0) if provider is not None else None  # type: ignore[arg-type]
    return await aiohttp_client(init_app(settings, engine, aredis, clock=lambda: NOW,
                                         payment_webhook=hook))  # fmt: skip


async def enter(client: TestClient, account_id: int) -> str:
    token = LinkSigner("https://pagos.example.mx/p", LINK_SECRET).token(account_id, NOW)
    page = await (await client.get(f"/p/{token}")).text()
    csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
    resp = await client.post(f"/p/{token}", data={"digits": DIGITS, "_csrf": csrf})
    return CSRF.search(await resp.text()).group(1)  # type: ignore[union-attr]


async def test_given_a_gateway_when_the_debtor_pays_online_then_a_link_to_the_providers_page(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed,
) -> None:  # fmt: skip
    provider = Provider()
    client = await app_client(aiohttp_client, settings, engine, aredis, provider)
    csrf = await enter(client, seeded.account_id)
    for bad in ("0", "-1", "abc", "6000.01", "1.001", "9" * 25):
        resp = await client.post("/p/cuenta/pago", data={"amount": bad, "_csrf": csrf})
        assert resp.status == 400, bad
    assert provider.asked == []
    resp = await client.post("/p/cuenta/pago", data={"amount": "1,500.00", "_csrf": csrf})
    page = await resp.text()
    assert resp.status == 200 and 'href="https://pagos.example.com/checkout/1"' in page
    assert [str(r.amount) for r in provider.asked] == ["1500.00"]
    with Session(engine) as s:
        link = s.scalars(select(PaymentLink)).one()
        entries = [
            (e.details or {}).get("debtor_action")
            for e in s.scalars(select(CallAttempt).order_by(CallAttempt.id))
        ]
    assert link.status == "open" and link.account_id == seeded.account_id
    assert entries == ["identified", "payment_link"]
    provider.down = True
    resp = await client.post("/p/cuenta/pago", data={"amount": "10", "_csrf": csrf})
    assert resp.status == 503


async def test_given_payment_link_hours_then_the_portals_link_is_open_that_long_as_the_chats(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed,
) -> None:  # fmt: skip
    provider = Provider()
    client = await app_client(aiohttp_client, settings, engine, aredis, provider,
                              payment_link_hours=6)  # fmt: skip
    csrf = await enter(client, seeded.account_id)
    resp = await client.post("/p/cuenta/pago", data={"amount": "100", "_csrf": csrf})
    assert resp.status == 200
    [asked] = provider.asked
    assert (asked.expires_from, asked.expires_to) == (NOW, NOW + timedelta(hours=6))
    with Session(engine) as s:
        assert s.scalars(select(PaymentLink.expires_at)).one() == NOW + timedelta(hours=6)


async def test_given_no_gateway_when_the_account_is_shown_then_no_online_payment(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed,
) -> None:  # fmt: skip
    client = await app_client(aiohttp_client, settings, engine, aredis, None)
    csrf = await enter(client, seeded.account_id)
    page = await (await client.get("/p/cuenta")).text()
    assert "/p/cuenta/pago" not in page and "Pague en BBVA" in page
    resp = await client.post("/p/cuenta/pago", data={"amount": "10", "_csrf": csrf})
    assert resp.status == 404
