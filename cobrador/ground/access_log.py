"""The HTTP listeners' access log without what a URL may carry: a portal link's
token (`/p/<token>`), a recording's play token, Kannel's callback secret and the
debtor's number and text (`/kannel/mo?token=...&from=...&text=...`), a phone number
an auditor or an agent searched. A line keeps the method, the path with every
token-like segment hidden, the query's names without their values, the status,
the size and the time: enough to see what was asked, nothing to replay it.

The same runner bounds the connections a listener holds at once: aiohttp has no
bound of its own and no deadline on a request's headers, so clients that open
connections and send a byte now and then (slowloris) held file descriptors until
the process could open no other socket (Redis, SQL, AMI). Past the bound a new
connection is answered 503 and closed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import resource
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from yarl import URL

HIDDEN = "…"
# A path segment that may be a credential: 20+ characters of base64url (a portal
# token is 39). Ids, names and words of our routes are shorter or have other signs.
_TOKEN_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{20,}$")
MAX_QUERY_NAMES = 20
MAX_NAME = 40


def redacted(url: URL) -> str:
    """The path and query as the access log writes them."""
    path = "/".join(
        HIDDEN if _TOKEN_SEGMENT.match(segment) else segment for segment in url.raw_path.split("/")
    )
    names = [name[:MAX_NAME] for name in list(url.query)[:MAX_QUERY_NAMES]]
    if not names:
        return path[:500]
    return path[:500] + "?" + "&".join(f"{name}={HIDDEN}" for name in names)


class RedactedAccessLogger(AbstractAccessLogger):
    """aiohttp's access log, one line a request, through `redacted`."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info('%s "%s %s" %s %s %.3fs', request.remote, request.method,
                         redacted(request.rel_url), response.status, response.body_length,
                         time)  # fmt: skip

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Retry-After: 5\r\nConnection: close\r\nContent-Length: 21\r\n\r\n"
        b"too many connections\n")  # fmt: skip
log = logging.getLogger(__name__)


def connection_bound(configured: int) -> int:
    """The connections one listener may hold: as configured, and never more than half
    the file descriptors the process may open (the rest are its Redis, SQL, files)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max(1, configured)
    return max(1, min(configured, soft // 2))


class _Busy(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(BUSY)
        transport.close()


class _BoundedFactory:
    """aiohttp's protocol factory, answering _Busy past `bound` open connections."""

    def __init__(self, server: web.Server, bound: int) -> None:
        self._server = server
        self._bound = bound
        self.refused = 0

    def __call__(self) -> asyncio.Protocol:
        if len(self._server.connections) >= self._bound:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning("HTTP listener: %d connections open (the bound), new ones refused "
                            "(%d so far)", self._bound, self.refused)  # fmt: skip
            return _Busy()
        return self._server()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class BoundedRunner(web.AppRunner):
    """An AppRunner whose sites accept at most `max_connections` at once."""

    def __init__(self, app: web.Application, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.max_connections = connection_bound(max_connections)
        self._factory: _BoundedFactory | None = None

    @property
    def server(self) -> web.Server | None:  # what a site hands to create_server
        real = self._server
        if real is None:
            return None
        if self._factory is None or self._factory._server is not real:
            self._factory = _BoundedFactory(real, self.max_connections)
        return self._factory  # type: ignore[return-value]


DEFAULT_MAX_CONNECTIONS = 1000


def runner(app: web.Application, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> web.AppRunner:
    """The runner every public listener of ours is served by (the console, the
    providers' callbacks): its access log is the redacted one, its connections bounded."""
    return BoundedRunner(app, max_connections=max_connections,
                         access_log_class=RedactedAccessLogger)  # fmt: skip
