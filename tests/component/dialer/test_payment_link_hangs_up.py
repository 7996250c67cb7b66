"""A debtor pays by link while the dialer rings them: Mercado Pago's signed notification
reaches the console's webhook, the account is paid in SQL, and the dial loop hangs up
the ringing call (pbxsim) and never dials the account again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cobrador.ground.settings import Settings
from console.app import init_app
from console.payment_webhook_views import WEBHOOK_PATH, PaymentWebhook
from dialer.hopper import Hopper
from gateways import mercadopago as mp
from gateways.mercadopago_local import LocalMercadoPago
from pbxsim.scenario import Dist
from selfservice.payment_links import MercadoPagoProvider, create_link
from store.audit import append as audit_append
from store.models import Account, CallAttempt

TOKEN, SECRET = "APP_USR-piso", "secreto-del-piso"


async def test_given_a_ringing_call_when_its_account_is_paid_by_link_then_hung_up_and_never_dialed_again(
    make_floor, aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=3, agents=3)
    floor.pbx.scenario = floor.pbx.scenario.__class__(**{**floor.pbx.scenario.__dict__,
                                                         "ring_seconds": Dist("constant", 200.0)})  # fmt: skip
    dialer = floor.dialer
    # pbxsim's time held: the calls ring until the test is done, however long the payment
    # takes to travel (at 20x the dialer's 30 s ring timeout is 1.5 s of wall time, and a
    # loaded machine took longer: the call rang out, `no_answer`, before the hangup).
    floor.pbx_clock.hold()
    await floor.run_until(lambda: len(dialer.calls) == 3 and
                          all(c.is_ringing for c in dialer.calls.values()))  # fmt: skip
    target = next(iter(dialer.calls.values())).account_id
    others = {c.account_id for c in dialer.calls.values()} - {target}

    local = LocalMercadoPago(access_token=TOKEN, webhook_secret=SECRET, retries=0)
    client = mp.MercadoPagoClient(
        mp.MercadoPagoSettings(TOKEN, SECRET, api_base=await local.start())
    )
    provider = MercadoPagoProvider(client)
    now = lambda: datetime.fromtimestamp(floor.clock(), UTC)  # noqa: E731
    app = init_app(settings, floor.engine, floor.redis, clock=now,
                   payment_webhook=PaymentWebhook(provider, SECRET, 300))  # fmt: skip
    console = await aiohttp_client(app)
    local.webhook_url = str(console.make_url(WEBHOOK_PATH))
    try:
        link = await create_link(floor.engine, provider, target, "1000.00", actor="portal",
                                 now=now(), hours=24, audit=audit_append)  # fmt: skip
        pref = next(iter(local.preferences))
        await local.pay(pref)
        assert local.deliveries[-1].answers == [200], local.deliveries[-1].reasons
        assert link.amount == 1000

        # Once the Finisher owes nothing: the call leaves `calls` before its result is in SQL.
        await floor.run_until(lambda: all(c.account_id != target for c in dialer.calls.values())
                              and not dialer.finisher.owed)  # fmt: skip
        with Session(floor.engine) as s:
            assert s.get_one(Account, target).status == "paid"
            rows = s.scalars(select(CallAttempt).where(CallAttempt.account_id == target)
                             .order_by(CallAttempt.id)).all()  # fmt: skip
        # The call cancelled; the payment itself a debtor-initiated contact, not a call.
        assert [(a.result, a.direction) for a in rows] == [
            ("cancelled", "outbound"), ("self_service", "inbound")]  # fmt: skip
        # pbxsim's own debtor channel is gone, the others still ring.
        assert {c.account_id for c in dialer.calls.values()} == others
        assert all(c.is_ringing for c in dialer.calls.values())
        assert await Hopper(floor.redis, "mx-test").contains([target]) == set()

        floor.clock.jump(48 * 3600)
        for _ in range(10):
            await dialer.tick()
        with Session(floor.engine) as s:
            results = s.scalars(select(CallAttempt.result)
                                .where(CallAttempt.account_id == target,
                                       CallAttempt.direction == "outbound")).all()  # fmt: skip
        assert results == ["cancelled"]
    finally:
        await client.close()
        await local.stop()
