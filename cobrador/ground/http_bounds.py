"""Bounds on what one client can hold of an HTTP listener of ours: connections at
once (in all, and per client address), and the time a request's head and its body
may take to arrive.

aiohttp bounds none of these by itself in a way we can rely on: clients that open
connections and send a byte now and then (slowloris) held file descriptors until
the process could open no other socket (Redis, SQL, AMI). Past the connection
bound a new connection is answered 503 and closed; a connection whose request head
is not in within `head_seconds` of its opening (or of its last answer) is closed;
a request whose body is not in within `body_seconds` of its head is cut.

The bound in all counts connections, not clients: one client could take every
place. `max_per_address` bounds what one address (an IPv6 client's /64:
cobrador/ground/addresses.py) holds; a connection past it is answered 503 too.
Behind a reverse proxy every connection comes from the proxy's address: its
networks are `exempt` (the proxy bounds its own clients), or the bound is 0 (off).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from cobrador.ground.addresses import Network, throttle_bucket

log = logging.getLogger(__name__)

BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Retry-After: 5\r\nConnection: close\r\nContent-Length: 21\r\n\r\n"
        b"too many connections\n")  # fmt: skip

# A request head is a few hundred bytes: 30 s is room for the worst mobile link and
# the idle time a browser's kept-alive connection may wait for its next request.
HEAD_SECONDS = 30.0
# A body is at most an app's client_max_size (1 MiB by default): 120 s is 9 KB/s.
BODY_SECONDS = 120.0


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


class _Gate(asyncio.Protocol):
    """Stands in for aiohttp's handler until the connection's address is known (a
    protocol factory is called without it): then hands the transport to the handler,
    or answers 503 and closes it."""

    def __init__(self, factory: _BoundedFactory) -> None:
        self._factory = factory

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        handler = self._factory.admit(transport)
        if handler is None:
            _Busy().connection_made(transport)
            return
        transport.set_protocol(handler)
        handler.connection_made(transport)


def _peer(transport: asyncio.BaseTransport) -> str | None:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer and isinstance(peer[0], str):
        return peer[0]
    return None  # a Unix socket, or a transport that does not say


def _exempt(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


class _BoundedFactory:
    """aiohttp's protocol factory, answering _Busy past `bound` open connections, and
    past `per_address` of the new connection's address (_Gate)."""

    def __init__(self, server: web.Server, bound: int, per_address: int = 0,
                 exempt: Sequence[Network] = ()) -> None:  # fmt: skip
        self._server = server
        self._bound = bound
        self._per_address = per_address
        self._exempt = tuple(exempt)
        self.refused = 0
        self.refused_per_address = 0
        # The address bucket of each handler admitted (aiohttp's handlers take no weak
        # reference): pruned to the open ones when it outgrows them.
        self._buckets: dict[Any, str] = {}

    def __call__(self) -> asyncio.Protocol:
        if self._full():
            return _Busy()
        if self._per_address > 0:
            return _Gate(self)
        return self._server()

    def _full(self) -> bool:
        if len(self._server.connections) < self._bound:
            return False
        self.refused += 1
        if self.refused == 1 or self.refused % 1000 == 0:
            log.warning("HTTP listener: %d connections open (the bound), new ones refused "
                        "(%d so far)", self._bound, self.refused)  # fmt: skip
        return True

    def admit(self, transport: asyncio.BaseTransport) -> asyncio.BaseProtocol | None:
        """aiohttp's handler for a connection whose address is known, or None when the
        listener is full or the address holds its share already. One pass over the
        open connections (at most the bound, a thousand): no state to keep in step."""
        if self._full():
            return None
        address = _peer(transport)
        bucket = None
        if address is not None and not _exempt(address, self._exempt):
            bucket = throttle_bucket(address)
            open_now = self._server.connections
            if len(self._buckets) > 2 * len(open_now) + 64:
                self._buckets = {h: self._buckets[h] for h in open_now if h in self._buckets}
            held = sum(1 for h in open_now if self._buckets.get(h) == bucket)
            if held >= self._per_address:
                self.refused_per_address += 1
                if self.refused_per_address == 1 or self.refused_per_address % 1000 == 0:
                    log.warning("HTTP listener: an address holds %d connections (its bound), "
                                "its new ones refused (%d so far)", self._per_address,
                                self.refused_per_address)  # fmt: skip
                return None
        handler = self._server()
        if bucket is not None:
            self._buckets[handler] = bucket
        return handler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def body_deadline(seconds: float) -> Middleware:
    """A middleware that closes the connection of a request whose body is not all in
    `seconds` after its head. It reads nothing itself: handlers that stream a body
    still stream it."""

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        transport = request.transport
        if not request.body_exists or request.content.is_eof() or transport is None:
            return await handler(request)

        def expire() -> None:
            if not request.content.is_eof() and not transport.is_closing():
                log.info("HTTP listener: a request's body not in after %.0f s; connection "
                         "closed", seconds)  # fmt: skip
                transport.close()

        timer = asyncio.get_running_loop().call_later(seconds, expire)
        try:
            return await handler(request)
        finally:
            timer.cancel()

    return middleware


class BoundedRunner(web.AppRunner):
    """An AppRunner whose sites accept at most `max_connections` at once (and at most
    `max_per_address` from one address, unless 0 or in `exempt`), close a
    connection whose request head takes over `head_seconds` and cut a request whose
    body takes over `body_seconds`.

    The head deadline is aiohttp's keep-alive timer, which runs from a connection's
    opening (aiohttp >= 3.14, pinned) and from each answer, and closes a connection
    still waiting for a whole request head when it fires."""

    def __init__(self, app: web.Application, *, max_connections: int,
                 max_per_address: int = 0, exempt: Sequence[Network] = (),
                 head_seconds: float = HEAD_SECONDS, body_seconds: float = BODY_SECONDS,
                 **kwargs: Any) -> None:  # fmt: skip
        # Outermost: before any middleware of the app reads a form.
        app.middlewares.insert(0, body_deadline(body_seconds))
        super().__init__(app, keepalive_timeout=head_seconds, **kwargs)
        self.max_connections = connection_bound(max_connections)
        # 0: no bound per address (a listener behind a proxy that does not exempt it).
        self.max_per_address = max(0, max_per_address)
        self._exempt = tuple(exempt)
        self._factory: _BoundedFactory | None = None

    @property
    def server(self) -> web.Server | None:  # what a site hands to create_server
        real = self._server
        if real is None:
            return None
        if self._factory is None or self._factory._server is not real:
            self._factory = _BoundedFactory(real, self.max_connections,
                                            self.max_per_address, self._exempt)  # fmt: skip
        return self._factory  # type: ignore[return-value]
