"""Attacks on the debtor's portal from outside (no account, no session): what a guesser
learns about references, and what one verified session can make cobrador do."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from support.selfservice_seed import (
    DIGITS,
    IDENTITY_KEY,
    LINK_SECRET,
    NOW,
    PortalSeed,
    seed_portal,
)

from cobrador.ground.settings import Settings
from console.app import init_app
from console.payment_webhook_views import PaymentWebhook
from outreach.links import LinkSigner
from selfservice import identity as idc
from selfservice.payment_links import (
    LINKS_WINDOW,
    MAX_LINKS_PER_WINDOW,
    Checkout,
    CheckoutRequest,
)
from store.models import PaymentLink

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    return seed_portal(engine)


@pytest.fixture
async def proxied(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed,
) -> TestClient:  # fmt: skip
    """The portal behind the operator's proxy: each test names its client address."""
    changed = settings.with_overrides(
        portal_link_secret=base64.b64encode(LINK_SECRET).decode(),
        portal_identity_key=base64.b64encode(IDENTITY_KEY).decode(),
        trusted_proxies="127.0.0.1, ::1",
    )
    return await aiohttp_client(init_app(changed, engine, aredis, clock=lambda: NOW))


async def _guess(client: TestClient, ref: str, address: str) -> int:
    page = await (await client.get("/p")).text()
    match = CSRF.search(page)
    assert match
    form = {"ref": ref, "digits": "0000", "_csrf": match.group(1)}
    resp = await client.post("/p", data=form, allow_redirects=False,
                             headers={"X-Forwarded-For": address})  # fmt: skip
    return resp.status


async def test_given_wrong_answers_past_a_references_lock_then_counted_as_for_an_unknown_one(
    proxied: TestClient, seeded: PortalSeed
) -> None:
    """A reference locked after three wrong answers refused the next ones without counting
    them on the client's address, while an unknown reference counted every one: eleven
    guesses from a fresh address told which references exist (no 429 at the eleventh)."""
    tries = idc.ADDRESS_FAILURES + 1
    known = [await _guess(proxied, seeded.ref, "203.0.113.1") for _ in range(tries)]
    unknown = [await _guess(proxied, "MX-P999", "203.0.113.2") for _ in range(tries)]
    assert known == unknown == [403] * idc.ADDRESS_FAILURES + [429]


class Provider:
    """A payment gateway that counts the checkouts asked of it."""

    name = "simulated"

    def __init__(self) -> None:
        self.asked: list[CheckoutRequest] = []

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        self.asked.append(request)
        return Checkout(f"pref-{len(self.asked)}", f"https://pagos.example.com/c/{len(self.asked)}")

    async def payment(self, payment_id: str) -> object:
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_given_one_verified_session_asking_links_without_end_then_refused_past_the_bound(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed,
) -> None:  # fmt: skip
    """Every "Pagar en línea" asked the payment gateway for a checkout and kept a row:
    one debtor's session (or a script holding its cookie) could send our gateway
    account requests without end, until the gateway throttled every debtor's links."""
    provider, clock = Provider(), Clock()
    changed = settings.with_overrides(
        portal_link_secret=base64.b64encode(LINK_SECRET).decode(),
        portal_identity_key=base64.b64encode(IDENTITY_KEY).decode(),
    )
    hook = PaymentWebhook(provider, "secreto", 300.0)  # type: ignore[arg-type]
    client = await aiohttp_client(init_app(changed, engine, aredis, clock=clock,
                                           payment_webhook=hook))  # fmt: skip
    token = LinkSigner("https://pagos.example.mx/p", LINK_SECRET).token(seeded.account_id, NOW)
    page = await (await client.get(f"/p/{token}")).text()
    resp = await client.post(f"/p/{token}", data={"digits": DIGITS,
                                                  "_csrf": CSRF.search(page).group(1)})  # type: ignore[union-attr]  # fmt: skip
    csrf = CSRF.search(await resp.text()).group(1)  # type: ignore[union-attr]
    statuses = []
    for _ in range(MAX_LINKS_PER_WINDOW + 2):
        resp = await client.post("/p/cuenta/pago", data={"amount": "10", "_csrf": csrf})
        statuses.append(resp.status)
    assert statuses == [200] * MAX_LINKS_PER_WINDOW + [429, 429]
    assert "Ya pidió muchos enlaces de pago" in await resp.text()
    assert len(provider.asked) == MAX_LINKS_PER_WINDOW
    with Session(engine) as s:
        assert s.scalar(select(func.count(PaymentLink.id))) == MAX_LINKS_PER_WINDOW
    # Once the window has passed, the debtor pays online again.
    clock.now = NOW + LINKS_WINDOW + timedelta(minutes=25)
    token = LinkSigner("https://pagos.example.mx/p", LINK_SECRET).token(
        seeded.account_id, clock.now
    )
    page = await (await client.get(f"/p/{token}")).text()
    resp = await client.post(f"/p/{token}", data={"digits": DIGITS,
                                                  "_csrf": CSRF.search(page).group(1)})  # type: ignore[union-attr]  # fmt: skip
    csrf = CSRF.search(await resp.text()).group(1)  # type: ignore[union-attr]
    resp = await client.post("/p/cuenta/pago", data={"amount": "10", "_csrf": csrf})
    assert resp.status == 200 and len(provider.asked) == MAX_LINKS_PER_WINDOW + 1


async def test_given_a_proxy_that_adds_its_own_forwarded_for_line_then_the_clients_line_is_no_address(
    proxied: TestClient,
) -> None:
    """A proxy that adds an X-Forwarded-For line of its own (HAProxy's `option
    forwardfor`) leaves the client's line above it: the console read only the first
    line, the one the client wrote, so a guesser naming a new address in it for every
    guess was never throttled. The lines are one list (RFC 9110), read from its end."""
    statuses = []
    for i in range(idc.ADDRESS_FAILURES + 1):
        page = await (await proxied.get("/p")).text()
        form = {"ref": f"MX-GUESS-{i}", "digits": "0000", "_csrf": CSRF.search(page).group(1)}  # type: ignore[union-attr]
        headers = [("X-Forwarded-For", f"198.51.100.{i + 1}"), ("X-Forwarded-For", "203.0.113.7")]
        resp = await proxied.post("/p", data=form, allow_redirects=False, headers=headers)
        statuses.append(resp.status)
    assert statuses == [403] * idc.ADDRESS_FAILURES + [429]
