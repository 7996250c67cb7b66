"""What an HTTP listener's access log keeps of a request: never a token, a callback
secret, a phone number or a debtor's text from its URL."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web

from cobrador.ground.access_log import runner

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
