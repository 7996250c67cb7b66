"""What an HTTP listener's access log keeps of a request: never a token, a callback
secret, a phone number or a debtor's text from its URL."""

from __future__ import annotations

import asyncio
import logging
import resource

import aiohttp
import pytest
from aiohttp import web
from support.polling import until

from cobrador.ground.access_log import runner
from cobrador.ground.http_bounds import connection_bound

TOKEN = "AQAAAAAAAAABawm3ELtLT3WB39FO_9krXKP9TT0"
SECRETS = (TOKEN, "s3cr3t-callback", "5512340001", "BAJA", "play-token-abcdef")


async def test_given_urls_with_secrets_when_served_then_the_access_log_keeps_their_shape_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = web.Application()
    app.router.add_get("/{tail:.*}", lambda request: web.Response(text="ok"))
    served = runner(app)
    await served.setup()
    site = web.TCPSite(served, "127.0.0.1", 0)
    await site.start()
    port = served.addresses[0][1]
    urls = [
        f"/p/{TOKEN}",
        "/kannel/mo?token=s3cr3t-callback&from=%2B525512340001&text=BAJA",
        "/recordings/12/audio?t=play-token-abcdef",
        "/auditor?phone=%2B525512340001&account_ref=",
    ]
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    try:
        async with aiohttp.ClientSession() as session:
            for url in urls:
                async with session.get(f"http://127.0.0.1:{port}{url}") as resp:
                    assert resp.status == 200
    finally:
        await served.cleanup()
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == len(urls)
    for secret in SECRETS:
        assert not [line for line in lines if secret in line], secret
    assert '"GET /p/…"' in lines[0]
    assert "/kannel/mo?token=…&from=…&text=…" in lines[1]
    assert "/recordings/12/audio?t=…" in lines[2] and " 200 " in lines[2]


async def test_given_clients_that_hold_connections_open_then_past_the_bound_503_and_room_after() -> (
    None
):
    """Slowloris: connections that never finish their headers held file descriptors
    without bound; past the listener's bound a new one is answered 503 and closed,
    and a closed one frees its place."""
    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text="ok"))
    served = runner(app, max_connections=3)
    await served.setup()
    site = web.TCPSite(served, "127.0.0.1", 0)
    await site.start()
    port = served.addresses[0][1]
    held = []
    try:
        for _ in range(3):  # headers started, never finished
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            held.append(writer)
        await until(lambda: served.server is not None and len(served.server.connections) == 3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 503") and answer.endswith(b"too many connections\n")
        writer.close()
        held.pop().close()
        await until(lambda: len(served.server.connections) == 2)  # type: ignore[union-attr]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as resp,
        ):
            assert resp.status == 200
    finally:
        for writer in held:
            writer.close()
        await served.cleanup()


def test_given_few_file_descriptors_then_the_bound_is_half_of_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _kind: (1024, 4096))
    assert connection_bound(1000) == 512 and connection_bound(100) == 100
