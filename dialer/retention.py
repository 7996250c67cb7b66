"""The recordings' retention purge on a schedule: every dialer process runs it
(`recordings_purge_every_seconds`, hourly by default), one process at a time
across the floor (a Redis lock lasting the interval), so no operator has to
remember a cron job for files past their retention date. The purge itself is
store.recordings.purge (legal holds kept, every deletion audited)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from store.recordings.purge import PurgeReport, purge_expired
from store.recordings.storage import DirectoryStorage

log = logging.getLogger(__name__)

LOCK_KEY = "cobrador:recordings:purge-lock"


class RetentionPurge:
    def __init__(self, *, sql: Engine, redis: aioredis.Redis, recordings_dir: Path,
                 every_seconds: float, owner: str,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.sql = sql
        self.redis = redis
        self.recordings_dir = recordings_dir
        self.every_seconds = every_seconds
        self.owner = owner
        self.clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        """A pass now, then one every `every_seconds`, until `stop`."""
        while not stop.is_set():
            try:
                await self.run_once()
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("recordings purge skipped: %s; tried again later", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_seconds)

    async def run_once(self) -> PurgeReport | None:
        """Purge what is due, unless another process did in this interval (None)."""
        if not self.recordings_dir.is_dir():
            # A wrong path would make every expired file look already gone (the CLI
            # refuses for the same reason): nothing is marked purged.
            log.warning("recordings purge not run: directory %s does not exist",
                        self.recordings_dir)  # fmt: skip
            return None
        lock_ms = max(1000, int(self.every_seconds * 1000))
        if not await self.redis.set(LOCK_KEY, self.owner, nx=True, px=lock_ms):
            return None
        report = await asyncio.to_thread(
            purge_expired, self.sql, DirectoryStorage(self.recordings_dir),
            datetime.fromtimestamp(self.clock(), UTC), actor=f"dialer:{self.owner}",
        )  # fmt: skip
        if report.expired:
            log.info("recordings purge: %s", report.summary())
        for failure in report.failures:
            log.warning("recordings purge: %s", failure)
        return report
