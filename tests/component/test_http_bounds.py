"""The HTTP listeners' deadlines: a request's head and its body must arrive in so
many seconds, or the connection is closed (slowloris held it for as long as the
client kept sending a byte now and then)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from support.polling import until, within

from cobrador.ground.http_bounds import BoundedRunner

HEAD_SECONDS = 0.5
BODY_SECONDS = 0.5


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _echo(request: web.Request) -> web.Response:
    return web.Response(text=f"got {len(await request.read())}")


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/", _ok)
    app.router.add_post("/echo", _echo)
    served = BoundedRunner(app, max_connections=10, max_per_address=5, head_seconds=HEAD_SECONDS,
                           body_seconds=BODY_SECONDS)  # fmt: skip
    await served.setup()
    site = web.TCPSite(served, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(served.addresses[0][1])
    finally:
        await served.cleanup()


async def _trickle(port: int, first: bytes) -> bytes:
    """Send `first`, then one byte at a time, each well inside the deadline, until the
    server closes the connection; what it answered before. A server that never closes
    it fails the test after polling.WITHIN seconds (over a hundred deadlines: a bound
    for a hang, not a measure of the server)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first)
    answer = asyncio.ensure_future(_until_closed(reader))

    async def trickled() -> bytes:
        while not answer.done():
            writer.write(b"a")
            await asyncio.wait([answer], timeout=HEAD_SECONDS / 5)
        return answer.result()

    try:
        return await within(trickled(), "the server closing a connection trickling its request")
    finally:
        answer.cancel()
        writer.close()


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """What the server sent until it closed the connection. A server that closes with
    bytes of ours still unread (the trickle outran it: a loaded machine) makes the
    kernel answer with a reset instead of a FIN; that is a close too."""
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


async def test_given_a_head_sent_a_byte_at_a_time_then_the_connection_is_closed(port: int) -> None:
    answer = await _trickle(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")

    assert b"200" not in answer  # closed, no request served


async def test_given_a_body_sent_a_byte_at_a_time_then_the_connection_is_closed(port: int) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    answer = await _trickle(port, head)

    assert b"got " not in answer


async def test_given_requests_in_time_then_they_are_served_on_one_connection(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.post(f"http://127.0.0.1:{port}/echo", data=b"a" * 5000) as resp:
                assert await resp.text() == "got 5000"


async def test_given_an_idle_kept_alive_connection_then_it_is_closed_after_the_deadline(
    port: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await reader.readuntil(b"ok")
        rest = await within(reader.read(), "the idle connection closed")  # EOF: closed by it

        assert first.startswith(b"HTTP/1.1 200") and rest == b""
    finally:
        writer.close()


async def _serve(max_per_address: int, exempt: tuple[str, ...] = ()) -> BoundedRunner:
    app = web.Application()
    app.router.add_get("/", _ok)
    served = BoundedRunner(app, max_connections=10, max_per_address=max_per_address,
                           exempt=[ipaddress.ip_network(n) for n in exempt])  # fmt: skip
    await served.setup()
    await web.TCPSite(served, "127.0.0.1", 0).start()
    return served


async def _ask(port: int, source: str = "127.0.0.1") -> bytes:
    """A whole GET on a new connection from `source`; what came back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return await within(reader.read(), "the answer to a GET")
    finally:
        writer.close()


def _open(served: BoundedRunner) -> int:
    """The connections the listener holds (handed to aiohttp, not refused)."""
    assert served.server is not None
    return len(served.server.connections)


async def _hold(served: BoundedRunner, count: int,
                source: str = "127.0.0.1") -> list[asyncio.StreamWriter]:  # fmt: skip
    """`count` connections from `source` that sent half a head and wait, once the
    listener holds them all."""
    port = int(served.addresses[0][1])
    held = []
    for _ in range(count):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(b"GET / HTTP/1.1\r\n")
        await writer.drain()
        held.append(writer)
    await until(
        lambda: _open(served) == count, lambda: f"{count} connections held, not {_open(served)}"
    )
    return held


async def test_given_an_address_holding_its_share_then_its_next_connection_is_503() -> None:
    served = await _serve(max_per_address=3)
    port = int(served.addresses[0][1])
    held = await _hold(served, 3)
    try:
        assert b"503" in (await _ask(port)).split(b"\r\n")[0]
        assert (await _ask(port, source="127.0.0.2")).startswith(b"HTTP/1.1 200")
    finally:
        for writer in held:
            writer.close()
        await until(lambda: _open(served) == 0, "the held connections closed")
    try:
        assert (await _ask(port)).startswith(b"HTTP/1.1 200")  # the share is free again
    finally:
        await served.cleanup()


async def test_given_an_exempt_proxy_address_then_it_is_bounded_only_in_all() -> None:
    served = await _serve(max_per_address=2, exempt=("127.0.0.0/8",))
    port = int(served.addresses[0][1])
    held = await _hold(served, 4)
    try:
        assert (await _ask(port)).startswith(b"HTTP/1.1 200")
    finally:
        for writer in held:
            writer.close()
        await served.cleanup()


async def test_given_no_bound_per_address_then_one_address_may_take_every_place() -> None:
    served = await _serve(max_per_address=0)
    port = int(served.addresses[0][1])
    held = await _hold(served, 6)
    try:
        assert (await _ask(port)).startswith(b"HTTP/1.1 200")
    finally:
        for writer in held:
            writer.close()
        await served.cleanup()
