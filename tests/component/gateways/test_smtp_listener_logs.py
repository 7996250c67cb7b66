"""The inbound e-mail listener keeps debtors' addresses out of the logs: aiosmtpd logs
every SMTP command it reads (MAIL FROM and RCPT TO with their addresses) at INFO on
its "mail.log" logger, which an operator's INFO log would keep."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateways.smtp import SmtpListener


async def test_given_a_bounce_received_at_info_level_then_no_address_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    got: list[bytes] = []

    async def on_mail(mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        got.append(raw)

    server = SmtpListener(on_mail)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await reader.readline()
        for line in (b"EHLO deudor.example", b"MAIL FROM:<maria.lopez@deudor.example>",
                     b"RCPT TO:<rebotes@cobrador.example>", b"DATA"):  # fmt: skip
            writer.write(line + b"\r\n")
            await writer.drain()
            while (await reader.readline())[3:4] == b"-":
                pass
        writer.write(b"Subject: hola\r\n\r\nya pague\r\n.\r\n")
        await writer.drain()
        assert (await reader.readline()).startswith(b"250")
        writer.write(b"QUIT\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
    finally:
        await server.stop()
    assert len(got) == 1
    assert "maria.lopez" not in caplog.text
    assert "rebotes@" not in caplog.text
