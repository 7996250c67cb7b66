"""The client's address behind a reverse proxy the operator trusts.

The console throttles by client address (logins, the portal's identity check) and
records it with the debtor's actions. Behind a reverse proxy every request comes
from the proxy's address: one address for the whole world, so ten wrong identity
answers from anybody would throttle every debtor. With ``trusted_proxies`` set
(comma-separated addresses or networks), a request from one of them is read for
the ``X-Forwarded-For`` chain, right to left, skipping trusted hops: the first
address not trusted is the client. Nothing else in the header is believed (its
left part is whatever the client wrote); several lines of it are one list, in order. Unset, the header is ignored: a client
talking to the console directly can write anything in it. A trusted proxy's
``X-Forwarded-Proto`` (http or https) is the scheme the browser used, so that a
TLS proxy in front of a plain-HTTP console passes the WebSockets' Origin check
(``https://console`` against the scheme the console sees); from anyone else the
header is ignored. Its lines are one list too, and only its last value is read:
a proxy that sets the header leaves one value, one that appends puts its own
last, after whatever the client wrote (a client's ``https`` sent over plain
HTTP is never believed). Behind several proxies the last value is the nearest
one's: the edge must set the header and the others pass it on (one that appends
its own ``http`` fails the Origin check closed).

aiohttp does not do this by itself; the aiohttp-remotes package does, but with a
fixed hop count rather than a set of trusted networks, and pulling it in for
thirty lines was not worth a dependency.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from cobrador.ground.addresses import Network, parse_networks
from cobrador.ground.settings import SettingsError

MAX_HEADER = 2000  # characters of X-Forwarded-For read, from its end (the proxies' part)
MAX_HOPS = 20  # addresses read from it, right to left
MAX_PROTO = 100  # characters of X-Forwarded-Proto read, from its end


class TrustedProxiesError(SettingsError):
    """`trusted_proxies` holds something that is not an address or a network."""


def parse_trusted(value: str) -> tuple[Network, ...]:
    """ "10.0.0.0/8, 192.168.1.5, ::1" -> networks; TrustedProxiesError says which item."""
    try:
        return parse_networks(value)
    except ValueError as exc:
        raise TrustedProxiesError(f"trusted_proxies: {exc}") from exc


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             networks: tuple[Network, ...]) -> bool:  # fmt: skip
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted: tuple[Network, ...]) -> str | None:  # fmt: skip
    """The client as the console should count it: the peer itself unless the peer is
    a trusted proxy; then the rightmost untrusted address of the chain (a malformed
    entry ends the walk there: the hop before it is the best known)."""
    if not trusted or not peer:
        return peer
    address = _address(peer)
    if address is None or not _trusted(address, trusted):
        return peer
    client = peer
    chain = forwarded_for or ""
    hops = chain[-MAX_HEADER:].split(",")
    if len(chain) > MAX_HEADER:
        hops = hops[1:]  # the cut may have left part of an address: never read it
    for hop in reversed(hops[-MAX_HOPS:]):
        hop_address = _address(hop)
        if hop_address is None:
            break
        client = str(hop_address)
        if not _trusted(hop_address, trusted):
            break
    return client


def forwarded_scheme(peer: str | None, forwarded_proto: str | None,
                     trusted: tuple[Network, ...]) -> str | None:  # fmt: skip
    """The scheme a trusted proxy says the browser used: the last value of the list
    (every line of the header joined, in order), the one the proxy set or appended;
    the values before it may be the client's. None when the peer is not a trusted
    proxy or its value is not http or https."""
    if not trusted or not peer or not forwarded_proto:
        return None
    address = _address(peer)
    if address is None or not _trusted(address, trusted):
        return None
    scheme = forwarded_proto[-MAX_PROTO:].rsplit(",", 1)[-1].strip().lower()
    return scheme if scheme in ("http", "https") else None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def middleware(trusted: tuple[Network, ...]) -> Middleware:
    """`request.remote` replaced by the client behind a trusted proxy, for every
    handler (throttles, audit entries) alike, and `request.scheme` by the scheme the
    proxy says the browser used."""

    @web.middleware
    async def real_client(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Every X-Forwarded-For line, in order, as one list (RFC 9110 5.3): a proxy that
        # adds a line of its own (HAProxy's `option forwardfor`) leaves the client's line
        # first, and reading only that one believed whatever the client wrote.
        forwarded = ", ".join(request.headers.getall("X-Forwarded-For", ())) or None
        client = client_address(request.remote, forwarded, trusted)
        # Every X-Forwarded-Proto line too: the proxy's value is the last one.
        proto = ", ".join(request.headers.getall("X-Forwarded-Proto", ())) or None
        scheme = forwarded_scheme(request.remote, proto, trusted)
        changes: dict[str, str] = {}
        if client is not None and client != request.remote:
            changes["remote"] = client
        if scheme is not None and scheme != request.scheme:
            changes["scheme"] = scheme
        if changes:
            request = request.clone(**changes)  # type: ignore[arg-type]
        return await handler(request)

    return real_client
