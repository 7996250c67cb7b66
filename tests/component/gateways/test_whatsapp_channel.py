"""The WhatsApp channel against the local Cloud API server (which follows Meta's
published API and signs its webhooks) and real SQL: templates and session messages,
statuses into the attempt row, replies to the opt-out, and the webhook endpoint
refusing unsigned, forged, oversized and malformed bodies with a 4xx and its reason."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import Engine, select
from support.messaging import Note, attempt_row, message_attempt
from support.polling import until
from support.ports import free_port

from dialer.channels import PlaceUncertain
from gateways.whatsapp.cloud_api import (
    SIGNATURE_HEADER,
    InboundMessage,
    StatusEvent,
    WhatsAppSettings,
    message_webhook,
    parse_webhook,
    signature,
    status_webhook,
)
from gateways.whatsapp.local_server import LocalCloudApi
from metrics.definitions import REGISTRY
from outreach.channels import BadAddress, MessageNotSent, MessageRefused, Reply
from outreach.channels.callbacks import MAX_BODY_BYTES, init_app
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import MessageChannel
from outreach.channels.whatsapp import CloudApiTransport, whatsapp_channel
from store.db import transaction
from store.models import AuditEntry, ContactChannel

PHONE = "+525512345678"
READER = "+525511110000"
NOT_ON_WHATSAPP = "+525599990000"
SECRET = "app-secret-for-tests"


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("cobrador_message_reports_refused_total",
                                     {"channel": "whatsapp", "reason": reason}) or 0.0  # fmt: skip


@dataclass
class Debtors:
    replies: list[Reply] = field(default_factory=list)
    bad: list[BadAddress] = field(default_factory=list)
    fail_next: int = 0

    async def opt_out(self, reply: Reply) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("opt-out store down")
        self.replies.append(reply)

    async def bad_address(self, bad: BadAddress) -> None:
        self.bad.append(bad)


@dataclass
class Rig:
    api: LocalCloudApi
    channel: MessageChannel
    debtors: Debtors
    webhook_url: str


def settings(base: str, token: str = "token-ok") -> WhatsAppSettings:
    return WhatsAppSettings("1098765", token, SECRET, "verify-me", api_base=base, timeout_seconds=3)


@pytest.fixture
async def rig(engine: Engine) -> AsyncIterator[Rig]:
    def fate(wa_id: str) -> tuple[int, str] | None:
        return (131026, "Message undeliverable") if wa_id == NOT_ON_WHATSAPP[1:] else None

    api = LocalCloudApi(phone_number_id="1098765", access_token="token-ok", app_secret=SECRET,
                        templates={"recordatorio": {"es_MX"}}, fate=fate,
                        reads=lambda wa_id: wa_id == READER[1:])  # fmt: skip
    base = await api.start()
    debtors = Debtors()
    channel = whatsapp_channel(settings(base), DeliveryBook(engine), opt_out=debtors.opt_out,
                               templates={"recordatorio", "no_aprobada"},
                               on_bad_address=debtors.bad_address)  # fmt: skip
    transport = channel.transport
    assert isinstance(transport, CloudApiTransport)
    runner = web.AppRunner(init_app(whatsapp=transport))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    api.webhook_url = f"http://127.0.0.1:{port}/whatsapp/webhook"
    yield Rig(api, channel, debtors, api.webhook_url)
    await api.settle()
    await transport.close()
    await runner.cleanup()
    await api.stop()


def result(engine: Engine, attempt_id: int) -> str | None:
    return attempt_row(engine, attempt_id).result


async def test_given_an_approved_template_when_sent_then_named_parameters_and_delivered(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    wamid = await rig.channel.send(Note(attempt, "texto", template="recordatorio",
                                        params={"nombre": "Juan", "enlace": "https://x/p/1"}))  # fmt: skip
    assert rig.api.accepted == [{
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "525512345678",
        "type": "template", "template": {"name": "recordatorio", "language": {"code": "es_MX"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "parameter_name": "nombre", "text": "Juan"},
                {"type": "text", "parameter_name": "enlace", "text": "https://x/p/1"}]}]},
    }]  # fmt: skip
    await until(lambda: result(engine, attempt.attempt_id) == "delivered", "delivered")
    row = attempt_row(engine, attempt.attempt_id)
    assert row.uniqueid == wamid and [h["status"] for h in row.details["history"]] == [
        "sent",
        "delivered",
    ]


async def test_given_a_reader_then_the_attempt_ends_read(rig: Rig, engine: Engine) -> None:
    attempt = message_attempt(engine, ContactChannel.whatsapp, READER)
    await rig.channel.send(Note(attempt, "texto", template="recordatorio"))
    await until(lambda: result(engine, attempt.attempt_id) == "read", "read")
    assert attempt_row(engine, attempt.attempt_id).answered_at is not None


async def test_given_no_session_window_when_a_free_text_is_sent_then_failed_131047_until_the_debtor_writes(
    rig: Rig, engine: Engine
) -> None:
    first = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    await rig.channel.send(Note(first, "Hola, ¿podemos hablar?", template="sin_plantilla"))
    assert rig.api.accepted[-1]["text"] == {"preview_url": False, "body": "Hola, ¿podemos hablar?"}
    await until(lambda: result(engine, first.attempt_id) == "failed", "failed")
    assert attempt_row(engine, first.attempt_id).details["error"] == "131047 Re-engagement message"
    await rig.api.reply("525512345678", "Hola")
    second = message_attempt(engine, ContactChannel.whatsapp, PHONE, account_id=first.account_id)
    await rig.channel.send(Note(second, "Gracias por responder"))
    await until(lambda: result(engine, second.attempt_id) == "delivered", "delivered")
    assert rig.debtors.bad == []


async def test_given_a_baja_reply_to_our_message_then_the_opt_out_gets_it_for_that_attempt(
    rig: Rig, engine: Engine
) -> None:
    older = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    older_id = await rig.channel.send(Note(older, "x", template="recordatorio"))
    newer = message_attempt(engine, ContactChannel.whatsapp, PHONE, account_id=older.account_id)
    await rig.channel.send(Note(newer, "x", template="recordatorio"))
    await rig.api.settle()
    await rig.api.reply("525512345678", "BAJA", context_id=older_id)
    [reply] = rig.debtors.replies
    assert (reply.address, reply.text, reply.attempt_id) == (PHONE, "BAJA", older.attempt_id)
    assert result(engine, older.attempt_id) == "replied"
    assert result(engine, newer.attempt_id) == "delivered"


async def test_given_a_reply_from_another_number_naming_our_message_then_not_that_debtors(
    rig: Rig, engine: Engine
) -> None:
    """A reply's context id named the attempt it answered whoever sent it: another
    number quoting the debtor's message id was taken as the debtor's reply (their
    attempt replied, their account on the reply)."""
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    message_id = await rig.channel.send(Note(attempt, "x", template="recordatorio"))
    await rig.api.settle()
    await rig.api.reply("525598765432", "BAJA", context_id=message_id)
    [reply] = rig.debtors.replies
    assert (reply.address, reply.attempt_id, reply.account_id) == ("+525598765432", None, None)
    assert result(engine, attempt.attempt_id) == "delivered"


async def test_given_the_opt_out_fails_once_then_503_and_the_retry_records_it(rig: Rig) -> None:
    rig.debtors.fail_next = 1
    await rig.api.reply("525512345678", "Stop")
    assert [r.text for r in rig.debtors.replies] == ["Stop"]
    assert rig.api.webhooks[-1].answers == [503, 200]


async def test_given_a_number_without_whatsapp_then_failed_and_the_address_marked(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.whatsapp, NOT_ON_WHATSAPP)
    await rig.channel.send(Note(attempt, "x", template="recordatorio"))
    await until(lambda: rig.debtors.bad, "the bad address reported")
    assert [(b.address, b.attempt_id) for b in rig.debtors.bad] == [
        (NOT_ON_WHATSAPP, attempt.attempt_id)
    ]
    row = attempt_row(engine, attempt.attempt_id)
    assert row.result == "failed" and row.details["address_invalid"] is True


async def test_given_a_template_meta_has_not_approved_then_refused_132001(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    with pytest.raises(MessageRefused, match="code 132001"):
        await rig.channel.send(Note(attempt, "x", template="no_aprobada"))
    assert result(engine, attempt.attempt_id) == "failed"


async def test_given_a_wrong_token_then_refused_190(rig: Rig, engine: Engine) -> None:
    channel = whatsapp_channel(settings(rig.api.base_url, token="expired"), DeliveryBook(engine),
                               opt_out=rig.debtors.opt_out)  # fmt: skip
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    with pytest.raises(MessageRefused, match="HTTP 401, code 190"):
        await channel.send(Note(attempt, "x"))
    await channel.transport.close()  # type: ignore[attr-defined]


async def test_given_no_api_then_not_sent(engine: Engine) -> None:
    channel = whatsapp_channel(settings(f"http://127.0.0.1:{free_port()}/v21.0"), DeliveryBook(engine),
                               opt_out=Debtors().opt_out)  # fmt: skip
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    with pytest.raises(MessageNotSent, match="unreachable"):
        await channel.send(Note(attempt, "x"))
    await channel.transport.close()  # type: ignore[attr-defined]


async def test_given_an_api_answering_500_then_uncertain_and_never_sent_again(
    engine: Engine,
) -> None:
    calls = 0

    async def broken(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.json_response({"error": {"code": 1, "message": "unknown"}}, status=500)

    app = web.Application()
    app.router.add_post("/v21.0/1098765/messages", broken)
    async with TestServer(app) as server:
        channel = whatsapp_channel(settings(str(server.make_url("/v21.0"))), DeliveryBook(engine),
                                   opt_out=Debtors().opt_out)  # fmt: skip
        attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
        with pytest.raises(PlaceUncertain):
            await channel.send(Note(attempt, "x"))
        await channel.transport.close()  # type: ignore[attr-defined]
    assert calls == 1 and result(engine, attempt.attempt_id) == "sent"


Post = Callable[..., Awaitable[tuple[int, str]]]


@pytest.fixture
async def post(rig: Rig) -> AsyncIterator[Post]:
    async with aiohttp.ClientSession() as http:

        async def send(body: bytes, signed: str | None = "good", **headers: str) -> tuple[int, str]:
            if signed == "good":
                headers[SIGNATURE_HEADER] = signature(body, SECRET)
            elif signed is not None:
                headers[SIGNATURE_HEADER] = signed
            async with http.post(rig.webhook_url, data=body, headers=headers) as response:
                return response.status, await response.text()

        yield send


def status_body(wamid: str, status: str = "delivered") -> bytes:
    return json.dumps(
        status_webhook("1098765", StatusEvent(wamid, status, 1764925200, "525512345678"))
    ).encode()


async def test_given_unsigned_or_forged_webhooks_then_401_and_nothing_recorded(
    rig: Rig, engine: Engine, post: Post
) -> None:
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    wamid = await rig.channel.send(Note(attempt, "x", template="recordatorio"))
    await rig.api.settle()
    before = refused("bad_signature")
    forged = status_body(wamid, "read")
    assert (await post(forged, signed=None))[0] == 401
    status, reason = await post(forged, signed=signature(forged, "another-secret"))
    assert status == 401 and SIGNATURE_HEADER in reason
    assert (await post(forged, signed="sha256=zz"))[0] == 401
    assert result(engine, attempt.attempt_id) == "delivered"
    assert refused("bad_signature") == before + 3


async def test_given_signed_changes_about_another_number_then_skipped_and_counted(
    rig: Rig, engine: Engine, post: Post
) -> None:
    """One Meta app signs the notifications of every number it is subscribed to: a
    'read' for our message id and a 'BAJA' written to another of its numbers were
    taken as ours. Changes about another phone_number_id are read (a malformed one
    is still refused) and skipped; ours in the same notification are taken."""
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    wamid = await rig.channel.send(Note(attempt, "x", template="recordatorio"))
    await rig.api.settle()
    before = refused("foreign_number")
    event = StatusEvent(wamid, "read", 1764925200, "525512345678")
    other = status_webhook("2223334", event)
    baja = message_webhook("2223334", InboundMessage("wamid.x1", "525512345678", 1764925200,
                                                     "text", "BAJA"))  # fmt: skip
    no_metadata = status_webhook("1098765", event)
    del no_metadata["entry"][0]["changes"][0]["value"]["metadata"]
    for payload in (other, baja, no_metadata):
        status, text = await post(json.dumps(payload).encode())
        assert status == 200 and "0 statuses recorded, 0 replies" in text
    assert result(engine, attempt.attempt_id) == "delivered" and rig.debtors.replies == []
    assert refused("foreign_number") == before + 3
    mixed = status_webhook("1098765", event)
    mixed["entry"] += other["entry"]
    status, text = await post(json.dumps(mixed).encode())
    assert status == 200 and "1 statuses recorded" in text
    assert result(engine, attempt.attempt_id) == "read"


async def test_given_oversized_webhooks_then_413_before_any_signature_check(
    rig: Rig, post: Post
) -> None:
    before = refused("too_large")
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    status, reason = await post(big)
    assert status == 413 and "over" in reason

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read up to the bound
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    async with (
        aiohttp.ClientSession() as http,
        http.post(rig.webhook_url, data=chunks()) as response,
    ):
        assert response.status == 413
    assert refused("too_large") == before + 2


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "not JSON"),
        (b'{"object": "page", "entry": []}', "whatsapp_business_account"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry is not a list"),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {"statuses": [{"status": "read"}]}}]}]}',
            "statuses[].id",
        ),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {"messages": [{"type": "text", "id": "w1", "from": "52", "timestamp": "soon"}]}}]}]}',
            "timestamp: not a number",
        ),
    ],
)
async def test_given_signed_but_malformed_webhooks_then_400_naming_the_field(
    post: Post, body: bytes, reason: str
) -> None:
    before = refused("malformed")
    status, text = await post(body)
    assert status == 400 and reason in text
    assert refused("malformed") == before + 1


async def test_given_a_status_about_an_unknown_message_then_200_ignored_and_counted(
    post: Post,
) -> None:
    before = refused("unknown_message")
    status, text = await post(status_body("wamid.not-ours"))
    assert status == 200 and "0 statuses recorded" in text
    assert refused("unknown_message") == before + 1


async def test_given_the_verification_handshake_then_the_challenge_only_with_our_token(
    rig: Rig,
) -> None:
    async with aiohttp.ClientSession() as http:
        ok = {
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-me",
            "hub.challenge": "1158201444",
        }
        async with http.get(rig.webhook_url, params=ok) as response:
            assert (response.status, await response.text()) == (200, "1158201444")
        for bad in ({**ok, "hub.verify_token": "guess"}, {**ok, "hub.mode": "unsubscribe"}):
            async with http.get(rig.webhook_url, params=bad) as response:
                assert response.status == 403


def test_given_button_and_interactive_replies_then_their_text() -> None:
    body: dict[str, Any] = {"object": "whatsapp_business_account", "entry": [{"changes": [{
        "field": "messages", "value": {"messages": [
            {"from": "525512345678", "id": "w1", "timestamp": "1", "type": "button",
             "button": {"text": "Darme de baja", "payload": "BAJA"}},
            {"from": "525512345678", "id": "w2", "timestamp": "2", "type": "interactive",
             "interactive": {"type": "button_reply", "button_reply": {"id": "b", "title": "STOP"}}},
            {"from": "525512345678", "id": "w3", "timestamp": "3", "type": "image", "image": {}},
        ]}}]}]}  # fmt: skip
    parsed = parse_webhook(json.dumps(body).encode())
    assert [(m.kind, m.text) for m in parsed.messages] == [
        ("button", "Darme de baja"),
        ("interactive", "STOP"),
        ("image", ""),
    ]


async def test_given_a_large_signed_webhook_sent_in_pieces_then_it_is_read_whole(
    rig: Rig, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    wamid = await rig.channel.send(Note(attempt, "x", template="recordatorio"))
    await rig.api.settle()
    payload = status_webhook("1098765", StatusEvent(wamid, "read", 1764925200, "525512345678"))
    payload["padding"] = "x" * 40_000  # well under the bound, far over one read's buffer
    body = json.dumps(payload).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    headers = {SIGNATURE_HEADER: signature(body, SECRET), "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(rig.webhook_url, data=pieces(),
                                                           headers=headers) as response:  # fmt: skip
        assert response.status == 200, await response.text()
    assert result(engine, attempt.attempt_id) == "read"


async def test_given_a_reply_delivered_twice_then_counted_once_and_audited_once(
    rig: Rig, engine: Engine, post: Post
) -> None:
    attempt = message_attempt(engine, ContactChannel.whatsapp, PHONE)
    await rig.channel.send(Note(attempt, "x", template="recordatorio"))
    await rig.api.settle()
    before = REGISTRY.get_sample_value("cobrador_messages_total",
                                       {"channel": "whatsapp", "result": "replied"}) or 0.0  # fmt: skip
    await rig.api.reply("525512345678", "Gracias")
    again = json.dumps(rig.api.webhooks[-1].payload).encode()
    assert (await post(again))[0] == 200  # Meta's retry of the same notification
    await rig.api.reply("525512345678", "¿Cuánto debo?")  # a second reply: evidence, not a count
    after = REGISTRY.get_sample_value("cobrador_messages_total",
                                      {"channel": "whatsapp", "result": "replied"}) or 0.0  # fmt: skip
    assert after == before + 1
    with transaction(engine) as s:
        replied = [json.loads(e.payload) for e in s.scalars(select(AuditEntry).where(
            AuditEntry.kind == "message")) if json.loads(e.payload)["status"] == "replied"]  # fmt: skip
    assert (
        len(replied) == 2 and len(attempt_row(engine, attempt.attempt_id).details["reply_ids"]) == 2
    )
