"""/metrics served by aiohttp, mounted or stand-alone."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp.test_utils import TestClient
from aiohttp.web import Application
from prometheus_client import CollectorRegistry, Counter
from support.polling import until

from metrics.http import MetricsServer, add_metrics_route, make_metrics_app


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("cobrador_calls_placed_total", "x", ["campaign"], registry=registry).labels("a").inc(3)
    return registry


async def test_given_an_app_when_metrics_are_scraped_then_the_text_format_is_served(
    aiohttp_client,  # type: ignore[no-untyped-def]
) -> None:
    client: TestClient = await aiohttp_client(make_metrics_app(_registry()))

    response = await client.get("/metrics")

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'cobrador_calls_placed_total{campaign="a"} 3.0' in await response.text()


async def test_given_an_openmetrics_scraper_when_scraped_then_openmetrics_is_served(
    aiohttp_client,  # type: ignore[no-untyped-def]
) -> None:
    app = Application()
    add_metrics_route(app, _registry())
    client: TestClient = await aiohttp_client(app)

    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )

    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await response.text()).rstrip().endswith("# EOF")


async def test_given_a_standalone_server_on_port_0_when_started_then_it_serves_metrics() -> None:
    async with (
        MetricsServer("127.0.0.1", 0, _registry()) as server,
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.port}/metrics") as response,
    ):
        body = await response.text()

    assert server.port and "cobrador_calls_placed_total" in body


async def test_given_connections_held_open_when_one_more_comes_then_503_and_one_freed_is_served() -> (
    None
):
    """/metrics had no bound: clients holding connections took the dialer's file
    descriptors. Past the bound a new connection is answered 503 and closed."""
    async with MetricsServer("127.0.0.1", 0, _registry(), max_connections=2) as server:
        held = []
        for _ in range(2):  # a request's head started, never finished
            _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            held.append(writer)
        try:
            # Connected, and the listener has them: the next one finds both places taken.
            await until(lambda: _open(server) == 2)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            refused = await reader.read()
            writer.close()
            held.pop().close()
            await until(lambda: _open(server) == 1)
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{server.port}/metrics") as response,
            ):
                served = await response.text()
        finally:
            for writer in held:
                writer.close()

    assert refused.startswith(b"HTTP/1.1 503") and b"too many connections" in refused
    assert "cobrador_calls_placed_total" in served


def _open(server: MetricsServer) -> int:
    runner = server._runner
    assert runner is not None and runner.server is not None
    return len(runner.server.connections)
