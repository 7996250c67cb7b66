"""The HTTP listeners' access log without what a URL may carry: a portal link's
token (`/p/<token>`), a recording's play token, Kannel's callback secret and the
debtor's number and text (`/kannel/mo?token=...&from=...&text=...`), a phone number
an auditor or an agent searched. A line keeps the method, the path with every
token-like segment hidden, the query's names without their values, the status,
the size and the time: enough to see what was asked, nothing to replay it.

The same runner bounds the connections a listener holds at once and the time a
request's head and body may take (cobrador/ground/http_bounds.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from yarl import URL

from cobrador.ground.addresses import Network
from cobrador.ground.http_bounds import BoundedRunner

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


DEFAULT_MAX_CONNECTIONS = 1000


def runner(app: web.Application, max_connections: int = DEFAULT_MAX_CONNECTIONS,
           max_per_address: int = 0, exempt: Sequence[Network] = ()) -> web.AppRunner:  # fmt: skip
    """The runner every public listener of ours is served by (the console, the
    providers' callbacks): its access log is the redacted one, its connections bounded
    in all and per client address (but for `exempt` networks: the reverse proxies)."""
    return BoundedRunner(app, max_connections=max_connections, max_per_address=max_per_address,
                         exempt=exempt, access_log_class=RedactedAccessLogger)  # fmt: skip
