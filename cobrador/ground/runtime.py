"""Process-wide Redis built from settings: an embedded redis-server for the
process' lifetime when no REDIS_URL. (The SQL engine: `store.db.open_engine`.)
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from cobrador.ground.redis_runtime import EmbeddedRedis
from cobrador.ground.settings import Settings


@contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """The Redis URL to use; starts (and later stops) an embedded server if needed."""
    if settings.redis_url:
        yield settings.redis_url
        return
    # A random password (the data dir keeps its last one: docs/redis.md): no other
    # local user reads or writes our Redis.
    server = EmbeddedRedis(data_dir=settings.data_dir / "redis",
                           password=secrets.token_urlsafe(24)).start()  # fmt: skip
    try:
        yield server.url
    finally:
        server.stop()
