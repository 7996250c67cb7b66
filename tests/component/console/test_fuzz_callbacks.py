"""The endpoints that machines call, fuzzed like the console's routes
(test_fuzz_routes.py): Mercado Pago's payment webhook, the message gateways'
callbacks (Kannel's delivery reports and replies, the WhatsApp Cloud API's verify
and signed webhook) and /metrics. Hostile query strings, headers, signatures (absent,
malformed, forged, valid over hostile values, stale and far-future timestamps),
bodies (hostile JSON, deep nesting, invalid UTF-8, the wrong content type) and sizes
(past the bound, declared or chunked). Every answer is a 2xx, or a 4xx with a reason
in its body; never a 5xx other than the 503 that asks the provider to send again; a
body past its bound is refused (413) without being read to its end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from console_fixtures import NOW, Seed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from console.app import init_app as console_app
from console.payment_webhook_views import WEBHOOK_PATH, PaymentWebhook
from gateways import mercadopago as mp
from gateways.kannel import KannelSettings
from gateways.whatsapp.cloud_api import SIGNATURE_HEADER as WA_SIGNATURE
from gateways.whatsapp.cloud_api import WhatsAppSettings, signature
from metrics.http import make_metrics_app
from outreach.channels import Reply
from outreach.channels.callbacks import init_app as callbacks_app
from outreach.channels.delivery import DeliveryBook
from outreach.channels.sms_kannel import KannelTransport, kannel_sms_channel
from outreach.channels.whatsapp import CloudApiTransport, whatsapp_channel
from selfservice.payment_links import (
    Checkout,
    CheckoutRequest,
    ProviderPayment,
    ProviderUnavailable,
    UnknownPayment,
)

MP_SECRET = "clave-del-webhook"
WA_SECRET = "app-secret"
KANNEL_TOKEN = "tok-123"
WALL = 1_800_000_000.0  # the webhook's wall clock, in epoch seconds

HOSTILE_TEXTS = (
    "9" * 5000, "-1", "0", "1e999999", "NaN", "Infinity", "٣", "²", "１２", " 1 ", "0x10",
    "../../etc/passwd", "%00", "\x00", "\ud800", "\u202e", "a" * 70_000, "", " ", "null",
    "true", "[]", "{}", "<script>x</script>", "'; DROP TABLE payments; --", "{{7*7}}",
    "%s%s%n", "ts=1,v1=zz", "ts=²,v1=" + "a" * 64, "sha256=" + "0" * 64, "sha256=", "=",
    ",,,", "ts=,v1=", "v1=" + "f" * 64 + ",ts=1", "12345678901234", "-12", "1" * 64,
)  # fmt: skip
# What a header may carry at all (a client cannot send CR, LF or NUL in one).
HEADER_TEXTS = tuple(t for t in HOSTILE_TEXTS if not set(t) & {"\r", "\n", "\x00", "\ud800"})
WORDS = (
    "object", "entry", "changes", "value", "statuses", "messages", "id", "status", "timestamp",
    "recipient_id", "errors", "code", "from", "text", "body", "type", "contacts", "wa_id",
    "field", "metadata", "data", "action", "live_mode", "user_id", "date_created",
)  # fmt: skip
LEAF = st.one_of(
    st.sampled_from(HOSTILE_TEXTS), st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([10**4000, 2**63, -(2**63) - 1]), st.floats(allow_nan=True),
    st.booleans(), st.none(), st.text(max_size=12),
)  # fmt: skip
JSON_VALUES = st.recursive(
    LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(WORDS), c, max_size=4),
    max_leaves=12,
)  # fmt: skip


def _deep(depth: int) -> bytes:
    return b'{"entry": ' + b"[" * depth + b"]" * depth + b"}"


BODIES = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.sampled_from([b"", b"\xff\xfe\x00", b"{", _deep(10_000), b"[" * 20_000, b"{}" * 9000,
                     b'{"data": {"id": "1"}}', b'{"object": "whatsapp_business_account"}']),
    st.binary(max_size=64),
)  # fmt: skip
TEXT = st.one_of(st.sampled_from(HOSTILE_TEXTS), st.text(max_size=20))
HEADER = st.one_of(st.none(), st.sampled_from(HEADER_TEXTS))


def _q(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")


def _query(pairs: dict[str, str]) -> str:
    return "&".join(f"{_q(k)}={_q(v)}" for k, v in pairs.items())


def _ok(status: int, text: str, *, retry_ok: bool = False) -> str | None:
    """Why this answer breaks the rule; None when it keeps it."""
    if 200 <= status < 300 or (retry_ok and status == 503):
        return None
    if 400 <= status < 500:
        return None if text.strip() else "a 4xx without a reason"
    return f"status {status}"


FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


async def _answer(resp: Any) -> tuple[int, str]:
    return resp.status, (await resp.read()).decode("utf-8", "replace")


def _run(check: Callable[[], Awaitable[list[str]]]) -> None:
    failures = asyncio.run(check())  # type: ignore[arg-type]
    assert not failures, "\n".join(failures)


async def _client(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


# ---- Mercado Pago's payment webhook ------------------------------------------------------


class HostileProvider:
    """Mercado Pago's answers about a payment, read by the webhook after the signature:
    by the id's last digit, unknown, unreachable, or a payment with odd values."""

    name = "mercadopago"

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:  # pragma: no cover
        raise ProviderUnavailable("not in this test")

    async def payment(self, payment_id: str) -> ProviderPayment:
        last = int(payment_id[-1]) if payment_id[-1:].isdigit() else 0
        if last in (0, 1):
            raise UnknownPayment(payment_id)
        if last == 2:
            raise ProviderUnavailable("timeout")
        odd = [
            ("approved", Decimal("NaN"), "link:1"), ("approved", Decimal("1e400"), "link:1"),
            ("approved", Decimal("-5"), "9" * 70), ("refunded", Decimal("10"), "link:../../x"),
            ("charged_back", Decimal("0"), None), ("\x00", Decimal("1"), "link:1"),
            ("approved", Decimal("12.345"), "link:99999999999999999999999"),
        ][last - 3]  # fmt: skip
        return ProviderPayment(payment_id, odd[0], odd[1], "MXN", odd[2],
                               datetime(2026, 11, 24, tzinfo=UTC))  # fmt: skip


@dataclass(frozen=True)
class PaymentNote:
    data_id: str
    request_id: str | None
    signing: str  # valid | stale | future | forged | header
    header: str | None
    topic: str | None
    body: bytes
    content_type: str | None


PAYMENT_NOTES = st.builds(
    PaymentNote,
    data_id=st.one_of(st.integers(min_value=0, max_value=10**30).map(str), TEXT),
    request_id=HEADER,
    signing=st.sampled_from(["valid", "valid", "stale", "future", "forged", "header"]),
    header=HEADER,
    topic=st.one_of(st.none(), st.sampled_from(["payment", "merchant_order", "\u202e"]), TEXT),
    body=BODIES,
    content_type=st.sampled_from([None, "application/json", "text/csv",
                                  "multipart/form-data; boundary=x"]),
)  # fmt: skip


def _payment_request(note: PaymentNote) -> tuple[str, dict[str, str]]:
    query = {"data.id": note.data_id}
    if note.topic is not None:
        query["type"] = note.topic
    headers: dict[str, str] = {}
    if note.content_type:
        headers["Content-Type"] = note.content_type
    request_id = note.request_id if note.request_id is not None else "req-1"
    headers[mp.REQUEST_ID_HEADER] = request_id
    ts = {"valid": WALL, "stale": WALL - 10**6, "future": WALL + 10**9}.get(note.signing, WALL)
    try:
        signed = mp.sign(MP_SECRET, note.data_id, request_id, int(ts * 1000))
    except UnicodeEncodeError:  # a lone surrogate: nothing can sign it
        signed = "ts=1,v1=" + "0" * 64
    if note.signing == "forged":
        signed = mp.sign("otra-clave", note.data_id, request_id, int(WALL))
    if note.signing == "header" and note.header is not None:
        signed = note.header
    headers[mp.SIGNATURE_HEADER] = signed
    return f"{WEBHOOK_PATH}?{_query(query)}", headers


@pytest.fixture
def payments_app(settings: Settings, engine: Engine, seed: Seed,
                 redis_url: str) -> Callable[[], web.Application]:  # fmt: skip
    webhook = PaymentWebhook(HostileProvider(), MP_SECRET, 300, wall_clock=lambda: WALL)

    def make() -> web.Application:
        redis = aioredis.Redis.from_url(redis_url)
        app = console_app(settings, engine, redis, clock=lambda: NOW, payment_webhook=webhook)

        async def close_redis(_app: web.Application) -> AsyncIterator[None]:
            yield
            await redis.aclose()

        app.cleanup_ctx.append(close_redis)
        return app

    return make


@FUZZ
@given(batch=st.lists(PAYMENT_NOTES, min_size=1, max_size=4))
def test_given_hostile_payment_notifications_then_2xx_or_4xx_with_a_reason(
    payments_app: Callable[[], web.Application], batch: list[PaymentNote]
) -> None:
    async def check() -> list[str]:
        client = await _client(payments_app())
        failures = []
        try:
            for note in batch:
                url, headers = _payment_request(note)
                resp = await client.post(url, data=note.body, headers=headers)
                status, text = await _answer(resp)
                why = _ok(status, text, retry_ok=True)
                if why:
                    failures.append(f"{why}: {note!r} -> {text[:200]!r}"[:800])
        finally:
            await client.close()
        return failures

    _run(check)


# ---- the message gateways' callbacks -----------------------------------------------------


@dataclass(frozen=True)
class GatewayCall:
    route: str  # dlr | mo | verify | webhook
    fields: dict[str, str]
    token: str  # right | wrong | none
    signing: str  # valid | forged | header | none
    header: str | None
    body: bytes


GATEWAY_CALLS = st.builds(
    GatewayCall,
    route=st.sampled_from(["dlr", "mo", "verify", "webhook", "webhook"]),
    fields=st.dictionaries(
        st.sampled_from(["ref", "type", "from", "to", "text", "ts", "smsc", "id", "charset",
                         "coding", "hub.mode", "hub.verify_token", "hub.challenge", "status"]),
        TEXT, max_size=6,
    ),
    token=st.sampled_from(["right", "right", "wrong", "none"]),
    signing=st.sampled_from(["valid", "valid", "forged", "header", "none"]),
    header=HEADER,
    body=BODIES,
)  # fmt: skip


async def _nobody(_reply: Reply) -> None:
    return None


@pytest.fixture
def gateways_app(engine: Engine) -> Callable[[], web.Application]:
    def make() -> web.Application:
        book = DeliveryBook(engine)
        kannel = kannel_sms_channel(KannelSettings("http://127.0.0.1:1/cgi-bin/sendsms", "u",
                                                   "p", "http://127.0.0.1:1", KANNEL_TOKEN),
                                    book, opt_out=_nobody)  # fmt: skip
        whatsapp = whatsapp_channel(WhatsAppSettings("1098765", "token", WA_SECRET, "verify-me",
                                                     api_base="http://127.0.0.1:1/v21.0"),
                                    book, opt_out=_nobody)  # fmt: skip
        assert isinstance(kannel.transport, KannelTransport)
        assert isinstance(whatsapp.transport, CloudApiTransport)
        return callbacks_app(kannel=kannel.transport, whatsapp=whatsapp.transport)

    return make


async def _gateway_send(client: TestClient, call: GatewayCall) -> Any:
    fields = dict(call.fields)
    if call.route in ("dlr", "mo"):
        if call.token != "none":
            fields["token"] = KANNEL_TOKEN if call.token == "right" else "tok-999"
        return await client.get(f"/kannel/{call.route}?{_query(fields)}")
    if call.route == "verify":
        if call.token != "none":
            fields["hub.verify_token"] = "verify-me" if call.token == "right" else "nope"
        fields.setdefault("hub.mode", "subscribe")
        return await client.get(f"/whatsapp/webhook?{_query(fields)}")
    headers = {"Content-Type": "application/json"}
    if call.signing == "valid":
        headers[WA_SIGNATURE] = signature(call.body, WA_SECRET)
    elif call.signing == "forged":
        headers[WA_SIGNATURE] = signature(call.body, "otra")
    elif call.signing == "header" and call.header is not None:
        headers[WA_SIGNATURE] = call.header
    return await client.post("/whatsapp/webhook", data=call.body, headers=headers)


@FUZZ
@given(batch=st.lists(GATEWAY_CALLS, min_size=1, max_size=4))
def test_given_hostile_gateway_callbacks_then_2xx_or_4xx_with_a_reason(
    gateways_app: Callable[[], web.Application], batch: list[GatewayCall]
) -> None:
    async def check() -> list[str]:
        client = await _client(gateways_app())
        failures = []
        try:
            for call in batch:
                status, text = await _answer(await _gateway_send(client, call))
                # A 503 asks the gateway to send again: nothing is down here.
                why = _ok(status, text)
                if why:
                    failures.append(f"{why}: {call!r} -> {text[:200]!r}"[:800])
        finally:
            await client.close()
        return failures

    _run(check)


# ---- /metrics ----------------------------------------------------------------------------


@FUZZ
@given(
    accept=st.one_of(
        st.sampled_from(HEADER_TEXTS),
        st.sampled_from(
            [
                "application/openmetrics-text; version=abc",
                "text/plain; version=x.y",
                'application/openmetrics-text; version="1.0.0"',
                "text/plain; version=1.0.0.0.0",
                "application/openmetrics-text; version=1.0.0; escaping=zzz",
                "application/openmetrics-text; version=9" + "9" * 4000 + ".0.0",
                "application/openmetrics-text; version=1.0.0 é",
                "text/plain; version=;",
                "application/openmetrics-text; version=2.0.0, text/plain; version=1.0.0",
                "application/openmetrics-text;version=0.0.1",
                "*/*",
                "text/plain;;;;=;version",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    ),
    method=st.sampled_from(["GET", "GET", "POST", "DELETE", "OPTIONS"]),
    query=TEXT,
)
def test_given_hostile_metrics_requests_then_2xx_or_4xx_with_a_reason(
    accept: str, method: str, query: str
) -> None:
    async def check() -> list[str]:
        client = await _client(make_metrics_app())
        try:
            resp = await client.request(method, f"/metrics?q={_q(query)}",
                                        headers={"Accept": accept})  # fmt: skip
            status, text = await _answer(resp)
        finally:
            await client.close()
        why = _ok(status, text)
        return [f"{why}: {method} Accept {accept[:200]!r} -> {text[:200]!r}"] if why else []

    _run(check)


# ---- sizes: refused at the bound, never read to the end -----------------------------------


class Counting:
    """A chunked body of `chunks` pieces of 64 KiB; counts how many the server took."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.sent += 1
            yield b"[" * 65_536


@pytest.mark.parametrize("declared", [True, False])
async def test_given_bodies_past_the_bound_then_413_before_the_end(
    payments_app: Callable[[], web.Application],
    gateways_app: Callable[[], web.Application],
    declared: bool,
) -> None:  # fmt: skip
    """Declared (Content-Length) or chunked, 256 MiB to each webhook: 413 with the bound,
    the connection closed long before the end (the body is never held whole)."""
    for make, url, headers in (
        (payments_app, f"{WEBHOOK_PATH}?data.id=123&type=payment",
         {mp.REQUEST_ID_HEADER: "r", mp.SIGNATURE_HEADER: mp.sign(MP_SECRET, "123", "r", int(WALL))}),
        (gateways_app, "/whatsapp/webhook", {WA_SIGNATURE: "sha256=" + "0" * 64}),
    ):  # fmt: skip
        client = await _client(make())
        try:
            body = Counting(4096)  # 256 MiB
            if declared:
                headers = {**headers, "Content-Length": str(4096 * 65_536)}
            try:
                resp = await client.post(url, data=body, headers=headers)
                status, text = await _answer(resp)
                assert status == 413 and "bytes" in text, (url, status, text)
            except (ConnectionError, OSError):
                pass  # closed while we were still sending: refused all the same
            # Never to the end: the chunks counted here include what the kernel's socket
            # buffers take before the 413 closes the connection (loopback buffers grow to
            # 32 MiB received plus 4 MiB sent on this machine, filled while a loaded
            # server is slow to answer), so the bound is a quarter of the body.
            assert body.sent < 1024, (url, body.sent)  # under 64 MiB of the 256
        finally:
            await client.close()


@pytest.mark.parametrize(
    "accept",
    ["application/openmetrics-text; version=abc", "text/plain; version=1.0.0rc1",
     'application/openmetrics-text; version="1.0.0"',
     "application/openmetrics-text; version=" + "9" * 60 + ".0.0"],
)  # fmt: skip
async def test_given_an_accept_version_prometheus_cannot_read_then_the_text_format(
    accept: str,
) -> None:
    """prometheus_client compared such a version with numbers (TypeError: a 500) or
    echoed it into the Content-Type; the scraper gets the text format every one reads."""
    client = await _client(make_metrics_app())
    try:
        resp = await client.get("/metrics", headers={"Accept": accept})
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert b"cobrador_" in await resp.read()
        good = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; "
                                                               "version=1.0.0"})  # fmt: skip
        assert good.headers["Content-Type"].startswith(
            "application/openmetrics-text; version=1.0.0"
        )
    finally:
        await client.close()
