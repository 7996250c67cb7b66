"""Process-wide resources built from settings: the SQL engine and Redis.

Embedded defaults live here: SQLite under the data dir when no DATABASE_URL,
and an embedded redis-server for the process' lifetime when no REDIS_URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from cobrador.redis_runtime import EmbeddedRedis
from cobrador.settings import Settings
from store.db import make_engine


def open_engine(settings: Settings, migrate: bool = True) -> Engine:
    """The SQL engine; with migrate, the schema is brought to the newest revision."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    if migrate:
        from store.migrate import upgrade

        upgrade(engine)
    return engine


@contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """The Redis URL to use; starts (and later stops) an embedded server if needed."""
    if settings.redis_url:
        yield settings.redis_url
        return
    server = EmbeddedRedis(data_dir=settings.data_dir / "redis").start()
    try:
        yield server.url
    finally:
        server.stop()
