"""Kannel's callbacks and sendsms answers without a Kannel: what a broken or hostile
caller sends gets a 4xx with its reason, and a refused or unreachable gateway fails
the attempt without sending anything twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine
from support.messaging import Note, attempt_row, message_attempt
from support.ports import free_port

from dialer.channels import OutcomeKind, PlaceUncertain
from gateways.kannel import KannelSettings, parse_dlr, receipt_error, sendsms_query
from metrics.definitions import REGISTRY
from outreach.channels import MessageNotSent, MessageRefused, Reply
from outreach.channels.callbacks import init_app
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import MessageChannel
from outreach.channels.sms_kannel import KannelTransport, kannel_sms_channel
from store.models import ContactChannel

TOKEN = "tok-123"
Client = Callable[..., Awaitable[TestClient[Any, Any]]]


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("cobrador_message_reports_refused_total",
                                     {"channel": "sms", "reason": reason}) or 0.0  # fmt: skip


def channel_for(
    engine: Engine, url: str, replies: list[Reply], timeout: float = 5.0
) -> MessageChannel:
    async def opt_out(reply: Reply) -> None:
        replies.append(reply)

    settings = KannelSettings(url, "u", "p", "http://127.0.0.1:1", TOKEN, timeout_seconds=timeout)
    return kannel_sms_channel(settings, DeliveryBook(engine), opt_out=opt_out)


def transport_of(channel: MessageChannel) -> KannelTransport:
    assert isinstance(channel.transport, KannelTransport)
    return channel.transport


async def test_given_bad_callbacks_then_each_gets_a_4xx_with_its_reason(
    engine: Engine, aiohttp_client: Client
) -> None:
    channel = channel_for(engine, "http://127.0.0.1:1/cgi-bin/sendsms", [])
    client = await aiohttp_client(init_app(kannel=transport_of(channel)))
    before = refused("bad_signature"), refused("malformed")
    for path in ("/kannel/dlr?ref=1-a&type=1", "/kannel/mo?token=wrong&from=%2B52155&text=BAJA"):
        response = await client.get(path)
        assert response.status == 403 and "token" in await response.text()
    bad = {
        f"/kannel/dlr?token={TOKEN}&type=1": "ref missing",
        f"/kannel/dlr?token={TOKEN}&ref={'x' * 65}&type=1": "too long",
        f"/kannel/dlr?token={TOKEN}&ref=1-a&type=3": "not a DLR type",
        f"/kannel/dlr?token={TOKEN}&ref=1-a&type=abc": "not a DLR type",
        f"/kannel/mo?token={TOKEN}&text=BAJA": "from missing",
        f"/kannel/mo?token={TOKEN}&from=%2B5215&text={'a' * 1601}": "text over",
    }
    for path, reason in bad.items():
        response = await client.get(path)
        assert (response.status, reason in await response.text()) == (400, True), path
    assert (refused("bad_signature"), refused("malformed")) == (before[0] + 2, before[1] + 6)


async def test_given_a_report_about_an_unknown_reference_then_ignored_and_counted(
    engine: Engine, aiohttp_client: Client
) -> None:
    channel = channel_for(engine, "http://127.0.0.1:1/cgi-bin/sendsms", [])
    client = await aiohttp_client(init_app(kannel=transport_of(channel)))
    before = refused("unknown_message")
    response = await client.get(f"/kannel/dlr?token={TOKEN}&ref=404-beef&type=1&reply=x")
    assert response.status == 200 and "unknown" in await response.text()
    assert refused("unknown_message") == before + 1


async def test_given_a_kannel_refusing_the_sendsms_then_the_attempt_failed(engine: Engine) -> None:
    async def refuse(request: web.Request) -> web.Response:
        assert request.query["dlr-mask"] == "19" and "%d" in request.query["dlr-url"]
        # The carrier drops what it could not deliver within the message's reach
        # (outreach.outgoing.MESSAGE_REACH): never delivered hours later, at night.
        assert request.query["validity"] == "15"
        return web.Response(status=403, text="Authorization failed for sendsms")

    app = web.Application()
    app.router.add_get("/cgi-bin/sendsms", refuse)
    async with TestServer(app) as server:
        outcomes: list[Any] = []
        channel = channel_for(engine, str(server.make_url("/cgi-bin/sendsms")), [])
        channel.on_outcome = outcomes.append
        attempt = message_attempt(engine, ContactChannel.sms, "+525512345678")
        with pytest.raises(MessageRefused, match="HTTP 403"):
            await channel.send(Note(attempt, "Aviso"))
        await transport_of(channel).close()
    row = attempt_row(engine, attempt.attempt_id)
    assert row.result == "failed" and "HTTP 403 Authorization failed" in row.details["error"]
    assert outcomes[-1].kind == OutcomeKind.place_failed


async def test_given_no_kannel_listening_then_not_sent_and_failed(engine: Engine) -> None:
    channel = channel_for(engine, f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms", [])
    attempt = message_attempt(engine, ContactChannel.sms, "+525512345678")
    with pytest.raises(MessageNotSent, match="unreachable"):
        await channel.send(Note(attempt, "Aviso"))
    await transport_of(channel).close()
    assert "unreachable" in attempt_row(engine, attempt.attempt_id).details["error"]


async def test_given_kannel_silent_then_uncertain_recorded_sent_and_not_sent_again(
    engine: Engine,
) -> None:
    calls = 0

    async def silent(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(5)
        return web.Response(status=202)

    app = web.Application()
    app.router.add_get("/cgi-bin/sendsms", silent)
    async with TestServer(app) as server:
        channel = channel_for(engine, str(server.make_url("/cgi-bin/sendsms")), [], timeout=0.3)
        attempt = message_attempt(engine, ContactChannel.sms, "+525512345678")
        with pytest.raises(PlaceUncertain):
            await channel.send(Note(attempt, "Aviso"))
        await transport_of(channel).close()
    assert calls == 1 and attempt_row(engine, attempt.attempt_id).result == "sent"


async def test_given_an_answer_that_never_ends_then_read_to_its_first_kib_only(
    engine: Engine,
) -> None:
    """Whatever answers at the gateway's address streams a body without end: the
    transport reads its first KiB (a refusal's reason), not the whole stream."""
    sent: list[int] = []
    bound = 64 * 1024 * 1024  # the test's own end of the stream

    async def endless(request: web.Request) -> web.StreamResponse:
        status = 202 if request.query["to"].endswith("8") else 500
        response = web.StreamResponse(status=status)
        await response.prepare(request)
        sent.append(0)
        chunk = b"x" * 65536
        with contextlib.suppress(ConnectionError):
            while sent[-1] < bound:
                await response.write(chunk)
                sent[-1] += len(chunk)
        return response

    app = web.Application()
    app.router.add_get("/cgi-bin/sendsms", endless)
    async with TestServer(app) as server:
        channel = channel_for(engine, str(server.make_url("/cgi-bin/sendsms")), [], timeout=30)
        accepted = message_attempt(engine, ContactChannel.sms, "+525512345678")
        await channel.send(Note(accepted, "Aviso"))
        refused_one = message_attempt(engine, ContactChannel.sms, "+525512345679")
        with pytest.raises(MessageRefused, match="HTTP 500 x{10}") as exc:
            await channel.send(Note(refused_one, "Aviso"))
        assert len(str(exc.value)) < 300
        await transport_of(channel).close()
    assert attempt_row(engine, accepted.attempt_id).result == "sent"
    # Each stream stopped when the client let go: what socket buffers took, not 64 MiB.
    assert len(sent) == 2 and max(sent) < bound // 2


def test_given_text_when_querying_then_ascii_stays_gsm_and_spanish_goes_ucs2() -> None:
    settings = KannelSettings("http://k/cgi-bin/sendsms", "u", "p", "http://me", TOKEN)
    plain = sendsms_query(settings, sender="COBRA", to="+52155", text="Hola", reference="1-a")
    spanish = sendsms_query(settings, sender="COBRA", to="+52155", text="Señor", reference="1-a")
    assert (plain["coding"], spanish["coding"]) == ("0", "2")
    assert plain["dlr-url"] == f"http://me/kannel/dlr?token={TOKEN}&ref=1-a&type=%d&reply=%A"


def test_given_receipt_texts_then_the_error_is_stat_and_err() -> None:
    assert receipt_error("id:1 sub:001 dlvrd:000 stat:UNDELIV err:011 text:") == "UNDELIV err:011"
    assert receipt_error("NACK/0x0000000b/Invalid Destination Address") == (
        "NACK/0x0000000b/Invalid Destination Address"
    )
    assert parse_dlr({"ref": "1-a", "type": "16", "reply": "r" * 900}).reply == "r" * 500
