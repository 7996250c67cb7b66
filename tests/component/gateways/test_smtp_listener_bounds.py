"""The inbound e-mail listener's own bounds, whatever a client sends: connections at
once, recipients of one message, and the bytes of one line (aiosmtpd kept every piece
of an endless DATA line: 300 MB sent without a line break grew the process by 300 MB)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from support.polling import until

from gateways import smtp
from gateways.smtp import MAX_LINE_BYTES, MAX_RECIPIENTS, SmtpListener

Client = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def listener() -> AsyncIterator[SmtpListener]:
    got: list[bytes] = []

    async def on_mail(mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        got.append(raw)

    server = SmtpListener(on_mail, max_connections=3)
    await server.start()
    yield server
    await server.stop()


async def connect(port: int) -> Client:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return reader, writer


async def command(client: Client, line: bytes) -> bytes:
    reader, writer = client
    writer.write(line + b"\r\n")
    await writer.drain()
    while True:
        answer = await reader.readline()
        if answer[3:4] != b"-":
            return answer


async def test_given_the_connection_limit_when_one_more_connects_then_421_and_room_after(
    listener: SmtpListener,
) -> None:
    clients = [await connect(listener.port) for _ in range(3)]
    for reader, _ in clients:
        assert (await reader.readline()).startswith(b"220")
    reader, writer = await connect(listener.port)
    assert (await reader.readline()).startswith(b"421")
    assert await reader.read() == b""  # and closed
    writer.close()
    assert len(listener.connections) == 3 and listener.refused == 1
    clients[0][1].close()
    await until(lambda: len(listener.connections) == 2)
    reader, writer = await connect(listener.port)
    assert (await reader.readline()).startswith(b"220")
    writer.close()
    for _, w in clients[1:]:
        w.close()


async def test_given_many_recipients_when_past_the_limit_then_452(listener: SmtpListener) -> None:
    client = await connect(listener.port)
    await client[0].readline()
    await command(client, b"EHLO x")
    await command(client, b"MAIL FROM:<a@b.example>")
    answers = [await command(client, f"RCPT TO:<r{i}@b.example>".encode())
               for i in range(MAX_RECIPIENTS + 2)]  # fmt: skip
    assert [a[:3] for a in answers] == [b"250"] * MAX_RECIPIENTS + [b"452"] * 2
    client[1].close()


async def test_given_a_data_line_without_end_then_closed_and_nothing_kept(
    listener: SmtpListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[int] = []
    real = smtp._BoundedSMTP.data_received

    def spy(self: smtp._BoundedSMTP, data: bytes) -> None:
        received.append(len(data))
        real(self, data)

    monkeypatch.setattr(smtp._BoundedSMTP, "data_received", spy)
    client = await connect(listener.port)
    await client[0].readline()
    for line in (b"EHLO x", b"MAIL FROM:<a@b.example>", b"RCPT TO:<c@d.example>", b"DATA"):
        await command(client, line)
    chunk = b"x" * 65536
    with pytest.raises(ConnectionError):
        for _ in range(4 * MAX_LINE_BYTES // len(chunk) + 64):  # far past the line limit
            client[1].write(chunk)
            await client[1].drain()
            await asyncio.sleep(0)
    await until(lambda: len(listener.connections) == 0)
    # Closed once the line passed the limit: what the server took in (and so could
    # have kept) is the limit plus one socket read, not what the client sent.
    assert sum(received) <= MAX_LINE_BYTES + 256 * 1024 + 1024
