"""Serving /metrics over aiohttp: a handler to mount in an existing app (the
console) and a small stand-alone server (the dialer)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import (
    CONTENT_TYPE_PLAIN_0_0_4,
    choose_encoder,
    generate_latest,
)

from cobrador.ground.http_bounds import BoundedRunner
from metrics.definitions import REGISTRY

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
# A scraper or two and a person's curl: past this a new connection is answered 503,
# so clients that hold connections open cannot take the process's file descriptors.
MAX_CONNECTIONS = 64
REGISTRY_KEY = web.AppKey("cobrador_metrics_registry", CollectorRegistry)
# A content type the exposition may answer with: the library echoes the Accept
# header's version into it, so anything else is the text format's.
_CONTENT_TYPE = re.compile(r"[a-z/-]+; version=\d{1,3}\.\d{1,3}\.\d{1,3}(; [a-z]+=[a-z0-9-]+)*")
Encoder = Callable[[CollectorRegistry], bytes]


def encoder_for(accept: str) -> tuple[Encoder, str]:
    """prometheus_client's choice for an Accept header it can read; the text format
    (0.0.4, what every scraper reads) for one it cannot: a version that is not digits
    raised TypeError there (a 500), and a long one came back in the Content-Type."""
    try:
        encoder, content_type = choose_encoder(accept[:1000])
    except (TypeError, ValueError):
        return generate_latest, CONTENT_TYPE_PLAIN_0_0_4
    if not _CONTENT_TYPE.fullmatch(content_type):
        return generate_latest, CONTENT_TYPE_PLAIN_0_0_4
    return encoder, content_type


async def metrics_handler(request: web.Request) -> web.Response:
    """Exposition of the app's registry (REGISTRY unless the app set REGISTRY_KEY),
    in OpenMetrics when the scraper asks for it, else the text format."""
    registry = request.app.get(REGISTRY_KEY, REGISTRY)
    encoder, content_type = encoder_for(request.headers.get("Accept", ""))
    body = encoder(registry)
    return web.Response(body=body, headers={"Content-Type": content_type})


def add_metrics_route(app: web.Application, registry: CollectorRegistry = REGISTRY) -> None:
    """Mount GET /metrics on an existing application (the console uses this)."""
    app[REGISTRY_KEY] = registry
    app.router.add_get(METRICS_PATH, metrics_handler)


def make_metrics_app(registry: CollectorRegistry = REGISTRY) -> web.Application:
    app = web.Application()
    add_metrics_route(app, registry)
    return app


class MetricsServer:
    """A stand-alone /metrics server on its own port (the dialer's, the console's).

    `port=0` picks a free port; read it from `.port` after `start()`. Bounded like
    every listener of ours (cobrador/ground/http_bounds.py): at most `max_connections`
    at once (`max_per_address` from one address; 0: no such bound), a request's head and body in so many seconds.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9108,
        registry: CollectorRegistry = REGISTRY,
        max_connections: int = MAX_CONNECTIONS,
        max_per_address: int = 0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._max_connections = max_connections
        self._max_per_address = max_per_address
        self._app = make_metrics_app(registry)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        runner = BoundedRunner(self._app, max_connections=self._max_connections,
                               max_per_address=self._max_per_address, access_log=None)  # fmt: skip
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("metrics on http://%s:%s%s", self.host, self.port, METRICS_PATH)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MetricsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
