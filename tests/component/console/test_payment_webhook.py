"""Payment links and the Mercado Pago webhook, end to end against the local stand-in
of Mercado Pago (its API and its signed notifications), real SQL and real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Commands, Seed
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from support.polling import until

from cobrador.ground.settings import Settings
from console.app import init_app
from console.payment_webhook_views import WEBHOOK_PATH, PaymentWebhook
from gateways import mercadopago as mp
from gateways.mercadopago_local import LocalMercadoPago
from selfservice.payment_links import (
    Link,
    MercadoPagoProvider,
    PaymentLinkError,
    ProviderUnavailable,
    create_link,
)
from store.audit import append as audit_append
from store.models import Account, AuditEntry, Payment, PaymentLink, Promise

TOKEN = "APP_USR-prueba"
SECRET = "clave-secreta-del-webhook"


@dataclass
class Rig:
    mp: LocalMercadoPago
    client: TestClient
    provider: MercadoPagoProvider
    engine: Engine
    seed: Seed

    async def link(self, amount: str, account_id: int | None = None) -> Link:
        return await create_link(self.engine, self.provider, account_id or self.seed.account_id,
                                 amount, actor="portal", now=NOW, hours=72,
                                 audit=audit_append)  # fmt: skip

    def pref_of(self, link: Link) -> str:
        with Session(self.engine) as s:
            ref = s.get_one(PaymentLink, link.id).provider_ref
        assert ref is not None
        return ref

    def account(self, account_id: int | None = None) -> Account:
        with Session(self.engine) as s:
            return s.get_one(Account, account_id or self.seed.account_id)

    def payments(self) -> list[Payment]:
        with Session(self.engine) as s:
            return list(s.scalars(select(Payment).order_by(Payment.id)))

    def audit_count(self) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)

    async def post(self, payment_id: str, *, body: Any = None, secret: str = SECRET,
                   ts: int | None = None, request_id: str = "req-1",
                   headers: dict[str, str] | None = None, query: str | None = None) -> tuple[int, str]:  # fmt: skip
        """A notification sent by hand (the stand-in's are in `mp.notify`)."""
        import time

        raw = body if isinstance(body, bytes) else json.dumps(
            body if body is not None else mp.notification_body(payment_id, "payment.updated"))  # fmt: skip
        sent = {mp.SIGNATURE_HEADER: mp.sign(secret, payment_id, request_id,
                                             ts if ts is not None else int(time.time())),
                mp.REQUEST_ID_HEADER: request_id, "Content-Type": "application/json"}  # fmt: skip
        sent.update(headers or {})
        url = (
            f"{WEBHOOK_PATH}?{query if query is not None else f'data.id={payment_id}&type=payment'}"
        )
        resp = await self.client.post(url, data=raw, headers=sent)
        return resp.status, await resp.text()


@pytest.fixture
async def rig(aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings,
              engine: Engine, aredis: aioredis.Redis, seed: Seed) -> AsyncIterator[Rig]:  # fmt: skip
    local = LocalMercadoPago(access_token=TOKEN, webhook_secret=SECRET, retries=0)
    base = await local.start()
    client = mp.MercadoPagoClient(mp.MercadoPagoSettings(TOKEN, SECRET, api_base=base))
    provider = MercadoPagoProvider(client)
    app = init_app(settings, engine, aredis, clock=lambda: NOW,
                   payment_webhook=PaymentWebhook(provider, SECRET, 300))  # fmt: skip
    test_client = await aiohttp_client(app)
    local.webhook_url = str(test_client.make_url(WEBHOOK_PATH))
    yield Rig(local, test_client, provider, engine, seed)
    await client.close()
    await local.stop()


def last(rig: Rig) -> tuple[int, str]:
    delivery = rig.mp.deliveries[-1]
    return delivery.answers[-1], delivery.reasons[-1]


# --- the happy path ---------------------------------------------------------------


async def test_given_a_link_paid_in_full_then_recorded_once_account_paid_and_dialing_stopped(
    rig: Rig, commands: Commands
) -> None:
    link = await rig.link("12500.00")
    assert link.url.startswith(rig.mp.base_url) and link.currency == "MXN"
    payment_id = await rig.mp.pay(rig.pref_of(link))
    assert last(rig)[0] == 200, last(rig)
    assert last(rig)[1].startswith("recorded")
    account = rig.account()
    assert account.balance == 0 and account.status == "paid"
    [payment] = rig.payments()
    assert (payment.provider, payment.provider_payment_id, payment.amount) == (
        "mercadopago", payment_id, Decimal("12500.00"))  # fmt: skip
    assert payment.payment_link_id == link.id and payment.source == "mercadopago"
    await until(lambda: any(c["type"] == "stop_account" for c in commands))
    stop = next(c for c in commands if c["type"] == "stop_account")
    assert stop == {"type": "stop_account", "account_id": rig.seed.account_id, "reason": "paid",
                    "campaign": "mx-demo"}  # fmt: skip
    with Session(rig.engine) as s:
        assert s.get_one(PaymentLink, link.id).status == "paid"
        kinds = [e.kind for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert kinds[-3:] == ["payment_link", "payment", "debtor_action"]


async def test_given_a_partial_payment_then_balance_lowered_a_promise_kept_and_dialing_not_stopped(
    rig: Rig, commands: Commands
) -> None:
    with Session(rig.engine) as s, s.begin():
        s.add(Promise(account_id=rig.seed.account_id, amount=Decimal("1000.00"), currency="MXN",
                      due_date=date(2026, 11, 30), status="open"))  # fmt: skip
    link = await rig.link("1000.00")
    await rig.mp.pay(rig.pref_of(link))
    assert last(rig)[0] == 200
    account = rig.account()
    assert account.balance == Decimal("11500.00") and account.status == "active"
    with Session(rig.engine) as s:
        assert s.scalars(select(Promise.status)).all() == ["kept"]
    assert not any(c["type"] == "stop_account" for c in commands)


# --- replay --------------------------------------------------------------------------


async def test_given_the_same_payment_notified_again_then_nothing_changes(rig: Rig) -> None:
    link = await rig.link("500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link))
    before = (rig.account().balance, rig.audit_count(), len(rig.payments()))
    for action in ("payment.updated", "payment.created"):
        await rig.mp.notify(payment_id, action)
        assert last(rig) == (200, "replay: payment already recorded\n")
    assert (rig.account().balance, rig.audit_count(), len(rig.payments())) == before
    assert before[0] == Decimal("12000.00")


async def test_given_a_captured_request_replayed_byte_for_byte_then_nothing_changes(
    rig: Rig,
) -> None:
    link = await rig.link("500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), notify=False)
    import time

    ts = int(time.time())
    assert (await rig.post(payment_id, ts=ts, request_id="same"))[0] == 200
    before = (rig.account().balance, rig.audit_count())
    status, text = await rig.post(payment_id, ts=ts, request_id="same")
    assert (status, text) == (200, "replay: payment already recorded\n")
    assert (rig.account().balance, rig.audit_count()) == before


async def test_given_a_pending_payment_later_approved_then_recorded_once_on_approval(
    rig: Rig,
) -> None:
    link = await rig.link("500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), status="pending")
    assert last(rig) == (200, "pending: payment is pending, not approved\n")
    assert rig.payments() == [] and rig.account().balance == Decimal("12500.00")
    await rig.mp.change(payment_id, "approved")
    assert last(rig)[1].startswith("recorded")
    await rig.mp.change(payment_id, "approved")
    assert last(rig)[1].startswith("replay")
    assert rig.account().balance == Decimal("12000.00") and len(rig.payments()) == 1


async def test_given_a_payment_that_settled_the_account_refunded_then_undone_once_and_reopened(
    rig: Rig, aredis: aioredis.Redis
) -> None:
    link = await rig.link("12500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link))
    assert rig.account().status == "paid"
    assert rig.seed.account_id not in await dialable(rig, aredis)
    await rig.mp.change(payment_id, "refunded")  # read back from Mercado Pago, not the body
    assert last(rig) == (200, "reversed: payment refunded: 12500.00 MXN back on the balance; "
                              "account reopened\n")  # fmt: skip
    account = rig.account()
    assert (account.balance, account.status, account.next_attempt_at) == (
        Decimal("12500.00"), "active", NOW)  # fmt: skip
    [payment] = rig.payments()
    assert (payment.reversal, payment.reversed_at) == ("refunded", NOW)  # durable, in SQL
    with Session(rig.engine) as s:
        assert s.get_one(PaymentLink, link.id).status == "refunded"
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.kind == "payment_reversed"))
    assert json.loads(entry.payload)["status"] == ["paid", "active"]
    # The agent's timeline says the online payment was taken back.
    from console.timeline import timeline_for

    whats = [e["what"] for e in timeline_for(rig.engine, rig.seed.account_id)]
    assert "Pagó en línea (reembolsado)" in whats
    # Back in the refill's candidates: the normal path, whose compliance checks follow.
    assert rig.seed.account_id in await dialable(rig, aredis)
    # Told again (or charged back after the refund): nothing changes.
    before = (rig.account().balance, rig.audit_count(), rig.payments()[0].reversed_at)
    for status in ("refunded", "charged_back"):
        await rig.mp.change(payment_id, status)
        assert last(rig)[0] == 200 and last(rig)[1].startswith("replay: payment "), last(rig)
    assert (rig.account().balance, rig.audit_count(), rig.payments()[0].reversed_at) == before


async def test_given_a_payment_that_kept_a_promise_charged_back_then_the_promise_is_open_again(
    rig: Rig,
) -> None:
    with Session(rig.engine) as s, s.begin():
        s.add(Promise(account_id=rig.seed.account_id, amount=Decimal("1000.00"), currency="MXN",
                      due_date=date(2026, 11, 30), status="open"))  # fmt: skip
    link = await rig.link("1000.00")
    payment_id = await rig.mp.pay(rig.pref_of(link))
    await rig.mp.change(payment_id, "charged_back")
    assert last(rig)[1].startswith("reversed: payment charged_back: 1000.00 MXN"), last(rig)
    assert rig.account().balance == Decimal("12500.00")
    with Session(rig.engine) as s:
        [promise] = s.scalars(select(Promise))
        assert (promise.status, promise.paid_amount, promise.resolved_at) == (
            "open", Decimal("0.00"), None)  # fmt: skip


def reversals(rig: Rig) -> list[dict[str, Any]]:
    with Session(rig.engine) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.kind == "payment_reversed")
                            .order_by(AuditEntry.id))  # fmt: skip
        return [json.loads(e.payload) for e in entries]


async def refund_by_api(rig: Rig, payment_id: str, amount: str | None) -> tuple[int, Any]:
    """POST /v1/payments/{id}/refunds on the stand-in, as the collector's back office."""
    import aiohttp

    body = {} if amount is None else {"amount": float(amount)}
    async with aiohttp.ClientSession() as http, http.post(
        f"{rig.mp.base_url}/v1/payments/{payment_id}/refunds", json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as answer:  # fmt: skip
        return answer.status, await answer.json()


async def test_given_a_paid_account_partly_refunded_then_only_that_part_comes_back_once(
    rig: Rig, aredis: aioredis.Redis
) -> None:
    link = await rig.link("12500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link))
    assert rig.account().status == "paid"
    status, refund = await refund_by_api(rig, payment_id, "2000.00")
    assert status == 201 and refund["amount"] == 2000.0
    got = await rig.provider.payment(payment_id)  # Mercado Pago keeps it approved
    assert (got.status, got.refunded) == ("approved", Decimal("2000.00"))
    assert last(rig) == (200, "reversed: payment partially_refunded: 2000.00 MXN back on the "
                              "balance (2000.00 of 12500.00 refunded); account reopened\n")  # fmt: skip
    account = rig.account()
    assert (account.balance, account.status, account.next_attempt_at) == (
        Decimal("2000.00"), "active", NOW)  # fmt: skip
    assert rig.seed.account_id in await dialable(rig, aredis)
    [payment] = rig.payments()
    assert (payment.refunded, payment.reversal, payment.reversed_at) == (
        Decimal("2000.00"), "partially_refunded", None)  # fmt: skip
    with Session(rig.engine) as s:
        assert s.get_one(PaymentLink, link.id).status == "paid"  # paid, less a part
    [entry] = reversals(rig)
    assert (entry["amount"], entry["refunded"], entry["full"]) == ("2000.00", ["0", "2000.00"],
                                                                   False)  # fmt: skip
    from console.timeline import timeline_for

    # The agent's timeline says how much was taken back, in the account's currency.
    whats = [e["what"] for e in timeline_for(rig.engine, rig.seed.account_id)]
    assert "Pagó en línea (reembolsado en parte: $2,000.00 MXN)" in whats
    # The same refunded total told again: nothing changes.
    before = (rig.account().balance, rig.audit_count())
    await rig.mp.notify(payment_id, "payment.updated")
    assert last(rig) == (200, "replay: payment partially_refunded 2000.00 MXN before\n")
    assert (rig.account().balance, rig.audit_count()) == before
    # A larger refund later: only the difference.
    await rig.mp.refund(payment_id, Decimal("3000.00"))
    assert rig.account().balance == Decimal("5000.00")
    assert reversals(rig)[-1]["amount"] == "3000.00"
    # The rest: refunded in full, the payment undone, never more than it.
    await rig.mp.refund(payment_id)
    assert last(rig)[1].startswith("reversed: payment refunded: 7500.00 MXN back on the balance")
    assert rig.account().balance == Decimal("12500.00")
    [payment] = rig.payments()
    assert (payment.refunded, payment.reversal, payment.reversed_at) == (
        Decimal("12500.00"), "refunded", NOW)  # fmt: skip
    assert [e["amount"] for e in reversals(rig)] == ["2000.00", "3000.00", "7500.00"]
    await rig.mp.change(payment_id, "charged_back")
    assert last(rig)[1].startswith("replay") and rig.account().balance == Decimal("12500.00")
    whats = [e["what"] for e in timeline_for(rig.engine, rig.seed.account_id)]
    assert "Pagó en línea (reembolsado)" in whats


async def test_given_a_refund_above_what_is_left_then_the_stand_in_refuses_as_mercado_pago(
    rig: Rig,
) -> None:
    link = await rig.link("1000.00")
    payment_id = await rig.mp.pay(rig.pref_of(link))
    assert (await refund_by_api(rig, payment_id, "600.00"))[0] == 201
    status, error = await refund_by_api(rig, payment_id, "400.01")
    assert status == 400 and "exceeds" in error["message"]
    for bad in ("0", "-5"):
        assert (await refund_by_api(rig, payment_id, bad))[0] == 400
    assert rig.account().balance == Decimal("12100.00")  # 12500 - 1000 + 600
    assert [e["amount"] for e in reversals(rig)] == ["600.00"]


async def test_given_a_promise_kept_by_a_larger_payment_then_a_small_refund_leaves_it_kept(
    rig: Rig,
) -> None:
    with Session(rig.engine) as s, s.begin():
        s.add(Promise(account_id=rig.seed.account_id, amount=Decimal("1000.00"), currency="MXN",
                      due_date=date(2026, 11, 30), status="open"))  # fmt: skip
    link = await rig.link("1500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link))
    await rig.mp.refund(payment_id, Decimal("400.00"))  # what it paid beyond the promise
    with Session(rig.engine) as s:
        [promise] = s.scalars(select(Promise))
        assert (promise.status, promise.paid_amount) == ("kept", Decimal("1000.00"))
    await rig.mp.refund(payment_id, Decimal("200.00"))  # 600 back: the promise is short 100
    assert rig.account().balance == Decimal("11600.00")
    with Session(rig.engine) as s:
        [promise] = s.scalars(select(Promise))
        assert (promise.status, promise.paid_amount, promise.resolved_at) == (
            "open", Decimal("900.00"), None)  # fmt: skip
    assert reversals(rig)[-1]["promises_reopened"] == [promise.id]


async def test_given_a_payment_first_told_once_partly_refunded_then_recorded_less_that_part(
    rig: Rig,
) -> None:
    link = await rig.link("1000.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), notify=False)
    await rig.mp.refund(payment_id, Decimal("250.00"), notify=False)
    await rig.mp.notify(payment_id, "payment.updated")
    assert last(rig)[1].startswith(
        "recorded: payment of 1000.00 MXN recorded; payment partially_refunded: 250.00 MXN back"
    ), last(rig)
    assert rig.account().balance == Decimal("11750.00")
    await rig.mp.notify(payment_id, "payment.updated")
    assert last(rig)[1].startswith("replay") and rig.account().balance == Decimal("11750.00")


async def dialable(rig: Rig, aredis: aioredis.Redis) -> set[int]:
    """The accounts the campaign's refill would evaluate now (dialer/refill.py)."""
    import asyncio

    from compliance.service import ComplianceService
    from dialer.hopper import Hopper
    from dialer.refill import Refiller
    from store.models import Campaign

    with Session(rig.engine) as s:
        campaign = s.scalars(select(Campaign).where(Campaign.name == "mx-demo")).one()
        s.expunge(campaign)
    refiller = Refiller(rig.engine, aredis, Hopper(aredis, "mx-demo"),
                        ComplianceService(rig.engine, aredis), campaign)  # fmt: skip
    found = await asyncio.to_thread(refiller._candidates, NOW, 50)
    return {c.account.id for c in found}


# --- never trusted -------------------------------------------------------------------


async def test_given_a_forged_signature_then_refused_and_nothing_recorded(rig: Rig) -> None:
    link = await rig.link("12500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), notify=False)
    status, text = await rig.post(payment_id, secret="adivinada")
    assert status == 401 and "signature does not match" in text
    assert rig.payments() == [] and rig.account().status == "active"


async def test_given_a_signature_for_another_payment_then_refused(rig: Rig) -> None:
    link = await rig.link("12500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), notify=False)
    import time

    other = mp.sign(SECRET, "1", "req-1", int(time.time()))
    status, _ = await rig.post(payment_id, headers={mp.SIGNATURE_HEADER: other})
    assert status == 401 and rig.payments() == []


@pytest.mark.parametrize("age", [301, 3600, -301])
async def test_given_a_stale_or_future_timestamp_then_refused(rig: Rig, age: int) -> None:
    import time

    link = await rig.link("500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), notify=False)
    status, text = await rig.post(payment_id, ts=int(time.time()) - age)
    assert status == 401 and "from now" in text
    assert rig.payments() == []


async def test_given_the_body_claims_approved_for_a_pending_payment_then_the_provider_is_believed(
    rig: Rig,
) -> None:
    link = await rig.link("12500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), status="in_process", notify=False)
    lie = {**mp.notification_body(payment_id, "payment.updated"), "status": "approved",
           "transaction_amount": 12500, "external_reference": "cb-other"}  # fmt: skip
    assert await rig.post(payment_id, body=lie) == (
        200,
        "pending: payment is in_process, not approved\n",
    )
    assert rig.payments() == []


async def test_given_a_signed_notification_of_an_id_the_provider_does_not_know_then_404(
    rig: Rig,
) -> None:
    status, text = await rig.post("424242")
    assert status == 404 and "knows no payment 424242" in text
    assert rig.payments() == []


async def test_given_a_payment_not_of_our_links_then_ignored(rig: Rig) -> None:
    link = await rig.link("500.00")
    pref = rig.pref_of(link)
    rig.mp.preferences[pref]["external_reference"] = "tienda-123"  # another integration's
    await rig.mp.pay(pref)
    assert last(rig) == (200, "ignored: not a payment of a cobrador link\n")
    assert rig.payments() == []


async def test_given_a_payment_in_another_currency_then_ignored_and_audited(rig: Rig) -> None:
    link = await rig.link("500.00")
    pref = rig.pref_of(link)
    payment_id = await rig.mp.pay(pref, notify=False)
    rig.mp.payments[payment_id]["currency_id"] = "USD"
    await rig.mp.notify(payment_id, "payment.created")
    assert last(rig) == (200, "ignored: payment in USD for a link in MXN\n")
    with Session(rig.engine) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.kind == "payment_refused")) == 1  # fmt: skip
    assert rig.payments() == []


async def test_given_another_topic_then_acknowledged_and_ignored(rig: Rig) -> None:
    status, text = await rig.post("ABC123", query="data.id=ABC123&type=merchant_order",
                                  body={"type": "merchant_order", "data": {"id": "ABC123"}})  # fmt: skip
    assert (status, text) == (200, "ignored: topic merchant_order is not a payment\n")


async def test_given_mercado_pago_down_then_503_so_it_sends_again(rig: Rig) -> None:
    link = await rig.link("500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), notify=False)
    rig.provider.client.settings = mp.MercadoPagoSettings(
        TOKEN, SECRET, api_base="http://127.0.0.1:9"
    )
    status, text = await rig.post(payment_id)
    assert status == 503 and "send again" in text
    assert rig.payments() == []


# --- malformed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("type=payment", None, (400, "no data.id")),
        ("data.id=" + "9" * 65 + "&type=payment", None, (400, "no data.id")),
        ("data.id=777&type=payment", b"{not json", (400, "not JSON")),
        ("data.id=777&type=payment", b"[]", (400, "not a JSON object")),
        ("data.id=777&type=payment", {"data": {"id": "778"}, "type": "payment"}, (400, "differs")),
        ("data.id=777", {"data": {"id": "777"}}, (400, "no type")),
    ],
)
async def test_given_a_malformed_notification_then_400_with_the_reason(
    rig: Rig, query: str, body: Any, expected: tuple[int, str]
) -> None:
    status, text = await rig.post("777", query=query, body=body)
    assert status == expected[0] and expected[1] in text, text


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({mp.SIGNATURE_HEADER: ""}, (401, "no x-signature")),
        ({mp.SIGNATURE_HEADER: "v1=abc"}, (400, "no numeric ts")),
        ({mp.SIGNATURE_HEADER: "ts"}, (400, "not ts=")),
        ({mp.SIGNATURE_HEADER: "ts=1,v1=zz"}, (400, "64-hex-digit")),
        ({mp.REQUEST_ID_HEADER: ""}, (401, "no x-request-id")),
    ],
)
async def test_given_bad_signature_headers_then_refused_with_the_reason(
    rig: Rig, headers: dict[str, str], expected: tuple[int, str]
) -> None:
    status, text = await rig.post("777", headers=headers)
    assert status == expected[0] and expected[1] in text, text


async def test_given_a_body_over_the_bound_then_413_before_it_is_read(rig: Rig) -> None:
    huge = b"{" + b" " * (mp.MAX_WEBHOOK_BYTES + 10) + b"}"
    status, text = await rig.post("777", body=huge)
    assert status == 413 and "body over" in text


async def test_given_a_chunked_body_over_the_bound_then_413(rig: Rig) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 1024

    import time

    headers = {mp.SIGNATURE_HEADER: mp.sign(SECRET, "777", "r", int(time.time())),
               mp.REQUEST_ID_HEADER: "r"}  # fmt: skip
    resp = await rig.client.post(f"{WEBHOOK_PATH}?data.id=777&type=payment", data=chunks(),
                                 headers=headers)  # fmt: skip
    assert resp.status == 413


async def test_given_a_get_then_405(rig: Rig) -> None:
    assert (await rig.client.get(f"{WEBHOOK_PATH}?data.id=1")).status == 405


async def test_given_no_payment_gateway_configured_then_there_is_no_webhook(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed,
) -> None:  # fmt: skip
    client = await aiohttp_client(init_app(settings, engine, aredis, clock=lambda: NOW))
    resp = await client.post(f"{WEBHOOK_PATH}?data.id=1&type=payment", data=b"{}")
    assert resp.status in (403, 404)  # no route (CSRF answers first for unknown POSTs)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"payment_gateway": "paypal"}, "use mercadopago or simulated"),
        ({"payment_gateway": "mercadopago"}, "needs mercadopago_access_token"),
        ({"payment_gateway": "mercadopago", "mercadopago_access_token": "t"}, "webhook_secret"),
        # Refused as the settings are built (cobrador/ground/setting_bounds.py).
        ({"payment_gateway": "simulated", "payment_link_hours": 0}, "use 1 to 720 hours"),
        ({"payment_gateway": "simulated", "payment_link_hours": 721}, "use 1 to 720 hours"),
    ],
)
def test_given_payments_misconfigured_then_the_console_does_not_start(
    settings: Settings, engine: Engine, aredis: aioredis.Redis, changes: dict[str, str], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        init_app(settings.with_overrides(**changes), engine, aredis)


# --- links -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("0", "above zero"),
        ("-5", "above zero"),
        ("abc", "not a number"),
        ("NaN", "above zero"),
        ("Infinity", "above zero"),
        ("10.005", "more than 2 decimals"),
        ("12500.01", "above the balance"),
        ("1e13", "too large"),
    ],
)
async def test_given_a_bad_amount_then_no_link(rig: Rig, amount: str, why: str) -> None:
    with pytest.raises(PaymentLinkError, match=why):
        await rig.link(amount)
    assert rig.mp.preferences == {}


async def test_given_an_unknown_or_paid_account_then_no_link(rig: Rig) -> None:
    with pytest.raises(PaymentLinkError, match="no account"):
        await rig.link("10", account_id=999_999)
    with Session(rig.engine) as s, s.begin():
        s.get_one(Account, rig.seed.other_account_id).status = "paid"
    with pytest.raises(PaymentLinkError, match="nothing to pay"):
        await rig.link("10", account_id=rig.seed.other_account_id)


async def test_given_the_provider_refuses_then_the_link_is_kept_as_failed(rig: Rig) -> None:
    rig.provider.client.settings = mp.MercadoPagoSettings("otro-token", SECRET,
                                                          api_base=rig.mp.base_url)  # fmt: skip
    with pytest.raises(ProviderUnavailable, match="HTTP 401"):
        await rig.link("100.00")
    with Session(rig.engine) as s:
        assert s.scalars(select(PaymentLink.status)).all() == ["failed"]


async def test_given_a_link_then_the_checkout_page_asks_for_no_card_data(rig: Rig) -> None:
    import aiohttp

    link = await rig.link("100.00")
    async with aiohttp.ClientSession() as http, http.get(link.url) as page:
        text = await page.text()
    assert "100.00" in text and "<input type=hidden name=pref_id" in text
    assert "card" not in text.lower() and text.count("<input") == 1


async def test_given_a_payment_then_it_is_a_debtor_initiated_contact_not_an_attempt(
    rig: Rig,
) -> None:
    from store.models import CallAttempt

    link = await rig.link("500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link))
    with Session(rig.engine) as s:
        [row] = s.scalars(select(CallAttempt).where(CallAttempt.account_id == rig.seed.account_id))
    assert (row.direction, row.source, row.result, row.channel) == (
        "inbound", "selfservice", "self_service", "portal")  # fmt: skip
    assert row.details["debtor_action"] == "payment"
    assert row.details["provider_payment_id"] == payment_id and row.details["amount"] == "500.00"


async def test_given_two_notifications_of_one_payment_at_once_then_recorded_once(rig: Rig) -> None:
    import asyncio

    link = await rig.link("500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), notify=False)
    answers = await asyncio.gather(*(rig.post(payment_id, request_id=f"r{i}") for i in range(4)))
    assert [status for status, _ in answers] == [200] * 4
    outcomes = sorted(text.split(":")[0] for _, text in answers)
    assert outcomes == ["recorded", "replay", "replay", "replay"]
    assert len(rig.payments()) == 1 and rig.account().balance == Decimal("12000.00")


async def test_given_the_simulated_gateway_then_the_console_runs_a_local_mercado_pago_end_to_end(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed,
) -> None:  # fmt: skip
    import aiohttp
    from support.ports import free_port

    from console.payment_webhook_views import payment_provider

    port = free_port()
    simulated = settings.with_overrides(payment_gateway="simulated", console_port=port)
    app = init_app(simulated, engine, aredis, clock=lambda: NOW)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    provider = payment_provider(client.app)
    assert provider is not None
    link = await create_link(engine, provider, seed.account_id, "800.00", actor="portal",
                             now=NOW, hours=72, audit=audit_append)  # fmt: skip
    async with aiohttp.ClientSession() as http:
        async with http.get(link.url) as page:
            pref = str(page.url.query["pref_id"])
        async with http.post(link.url.split("/checkout/")[0] + "/checkout/v1/pay",
                             data={"pref_id": pref}) as paid:  # fmt: skip
            assert paid.status == 200 and "Pago aprobado" in await paid.text()
    with Session(engine) as s:
        assert s.get_one(Account, seed.account_id).balance == Decimal("11700.00")


@pytest.mark.parametrize("hours", [0, -1, 24 * 30 + 1])
async def test_given_a_link_open_too_short_or_too_long_then_no_link(rig: Rig, hours: int) -> None:
    with pytest.raises(PaymentLinkError, match="between 1 and"):
        await create_link(rig.engine, rig.provider, rig.seed.account_id, "10", actor="portal",
                          now=NOW, hours=hours, audit=audit_append)  # fmt: skip


async def test_given_a_database_error_while_recording_then_503_not_a_silent_replay(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    import selfservice.payment_links as links

    def broken(*args: Any, **kwargs: Any) -> None:
        raise IntegrityError("INSERT", {}, Exception("some other constraint"))

    link = await rig.link("500.00")
    payment_id = await rig.mp.pay(rig.pref_of(link), notify=False)
    original = links.record_payment
    monkeypatch.setattr(links, "record_payment", broken)
    status, _ = await rig.post(payment_id)
    assert status == 503 and rig.payments() == []
    monkeypatch.setattr(links, "record_payment", original)
    assert (await rig.post(payment_id, request_id="again"))[1].startswith("recorded")


async def test_given_a_business_clock_days_ahead_of_the_wall_then_the_payment_is_dated_by_it(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed,
) -> None:  # fmt: skip
    """`cobrador demo --at` a later day: the simulated Mercado Pago approves the payment
    at the demo's time, so its receipt (the payment row, the link's paid_at) is of the
    demo's day; before, the wall clock's approval, days earlier, was taken as paid_at."""
    ahead = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    local = LocalMercadoPago(access_token=TOKEN, webhook_secret=SECRET, retries=0,
                             clock=lambda: ahead)  # fmt: skip
    client = mp.MercadoPagoClient(
        mp.MercadoPagoSettings(TOKEN, SECRET, api_base=await local.start())
    )
    provider = MercadoPagoProvider(client)
    try:
        app = init_app(settings, engine, aredis, clock=lambda: ahead,
                       payment_webhook=PaymentWebhook(provider, SECRET, 300))  # fmt: skip
        web = await aiohttp_client(app)
        local.webhook_url = str(web.make_url(WEBHOOK_PATH))
        link = await create_link(engine, provider, seed.account_id, "12500.00", actor="portal",
                                 now=ahead, hours=72, audit=audit_append)  # fmt: skip
        with Session(engine) as s:
            pref = s.get_one(PaymentLink, link.id).provider_ref
        assert pref is not None
        payment_id = await local.pay(pref)
        assert local.deliveries[-1].answers[-1] == 200
        assert local.payments[payment_id]["date_approved"].startswith(ahead.isoformat()[:19])
        with Session(engine) as s:
            [payment] = s.scalars(select(Payment))
            paid_link = s.get_one(PaymentLink, link.id)
            assert payment.paid_at.replace(tzinfo=UTC) == ahead
            assert paid_link.paid_at is not None and paid_link.paid_at.replace(tzinfo=UTC) == ahead
    finally:
        await client.close()
        await local.stop()
