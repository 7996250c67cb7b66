"""Redis's registries follow SQL: each registry's last import is reloaded into
Redis from its numbers kept in SQL (`registry_buckets`) whenever Redis lacks it
(a restart, a flush, a lost server) or holds another version.

One process reloads a registry at a time (the registry's Redis lock, the one
imports take, with an expiry renewed while loading); the others leave it alone
and their lookups answer `registry_unavailable` until it is back: the pointer
to the version in force is deleted before anything else, so nothing is checked
against a list other than the last one imported (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from compliance.registry import PREFIX, UNLOCK_LUA, current_key, version_prefix
from metrics import definitions as m
from store.db import transaction
from store.models import RegistryBucket, RegistryImport

log = logging.getLogger(__name__)

LOCK_SECONDS = 120  # renewed after every chunk; a crashed reloader frees it by then
# After a request that could not bring a registry into force (never imported,
# numbers not kept, an error), lookups wait this long before asking again.
RETRY_SECONDS = 5.0
CHUNK = 4096  # buckets read from SQL and written to Redis per round trip

RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# What `ensure` found or did, per registry.
IN_FORCE = "in_force"  # Redis answers with the last import
RELOADED = "reloaded"  # it did not; this process loaded it from SQL
RELOADING = "reloading"  # another process holds the registry's lock (reload or import)
NOT_KEPT = "numbers_not_kept"  # imported before numbers were kept in SQL: re-import it


@dataclass(frozen=True)
class LastImport:
    id: int
    name: str
    version: str
    imported_at: datetime
    count: int
    sha256: str
    country: str | None
    buckets: int  # rows in registry_buckets; 0: the numbers were not kept


def last_imports(sql: Engine, names: Iterable[str] | None = None) -> dict[str, LastImport]:
    """The newest import of each registry (all of them, or the named ones)."""
    newest = select(func.max(RegistryImport.id)).group_by(RegistryImport.name)
    if names is not None:
        newest = newest.where(RegistryImport.name.in_(list(names)))
    buckets = (
        select(func.count()).where(RegistryBucket.import_id == RegistryImport.id).scalar_subquery()
    )
    with transaction(sql) as session:
        rows = session.execute(
            select(RegistryImport, buckets).where(RegistryImport.id.in_(newest.scalar_subquery()))
        ).all()
        return {
            row.name: LastImport(
                row.id,
                row.name,
                row.version,
                row.imported_at,
                row.count,
                row.sha256,
                row.country,
                int(kept),
            )  # fmt: skip
            for row, kept in rows
        }


def read_buckets(sql: Engine, import_id: int, after: int, limit: int) -> list[tuple[int, bytes]]:
    """Up to `limit` (bucket, packed numbers) of one import, buckets above `after`."""
    with transaction(sql) as session:
        rows = session.execute(
            select(RegistryBucket.bucket, RegistryBucket.numbers)
            .where(RegistryBucket.import_id == import_id, RegistryBucket.bucket > after)
            .order_by(RegistryBucket.bucket)
            .limit(limit)
        ).all()
    return [(int(b), bytes(n)) for b, n in rows]


def lock_key(name: str) -> str:
    return f"{PREFIX}{{{name}}}:lock"


class RegistrySync:
    """Keeps every registry in Redis equal to its last import; one per process."""

    def __init__(self, sql: Engine, client: aioredis.Redis, *, chunk: int = CHUNK) -> None:
        self.sql = sql
        self.redis = client
        self.chunk = chunk
        self.expected: dict[str, LastImport] = {}
        self.reloading: set[str] = set()  # not in force while a reload runs (here or elsewhere)
        self._tasks: dict[str, asyncio.Task[str]] = {}
        self._quiet_until: dict[str, float] = {}

    async def ensure_all(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Read the last imports from SQL and bring Redis to them; name -> what was done."""
        imports = await asyncio.to_thread(last_imports, self.sql, names)
        self.expected.update(imports)
        return {name: await self.ensure(imp) for name, imp in sorted(imports.items())}

    async def ensure(self, imp: LastImport) -> str:
        if await self._in_force(imp):
            return self._state(imp.name, IN_FORCE)
        if not imp.buckets:
            log.warning(
                "registry %s: version %s is not in Redis and its numbers were not kept "
                "(imported before they were): import the list again",
                imp.name, imp.version,
            )  # fmt: skip
            return self._state(imp.name, NOT_KEPT)
        return await self.reload(imp)

    async def reload(self, imp: LastImport) -> str:
        """Load `imp` into Redis from SQL under the registry's lock."""
        name = imp.name
        token = secrets.token_hex(8)
        if not await self.redis.set(lock_key(name), token, nx=True, ex=LOCK_SECONDS):
            return self._state(name, RELOADING)
        try:
            # Under the lock: an import may have committed a newer version meanwhile.
            fresh = (await asyncio.to_thread(last_imports, self.sql, [name])).get(name, imp)
            self.expected[name] = fresh
            if await self._in_force(fresh):
                return self._state(name, IN_FORCE)
            self._state(name, RELOADING)
            log.warning("registry %s: reloading version %s into Redis from SQL (%d numbers); "
                        "its calls are blocked until it is loaded", name, fresh.version,
                        fresh.count)  # fmt: skip
            await self.redis.delete(current_key(name))  # fail closed from here
            await self._delete_versions(name)
            await self._load(fresh, token)
            await self.redis.set(current_key(name), fresh.version)
            log.warning("registry %s: version %s back in force", name, fresh.version)
            return self._state(name, RELOADED)
        finally:
            await self.redis.eval(UNLOCK_LUA, 1, lock_key(name), token)  # type: ignore[misc]

    def request(self, name: str) -> None:
        """Reload `name` in the background unless this process already is (a lookup
        found it missing); errors are logged and the next request tries again."""
        task = self._tasks.get(name)
        if task is not None and not task.done():
            return
        if time.monotonic() < self._quiet_until.get(name, 0.0):
            return
        self.reloading.add(name)
        m.REGISTRY_LOADED.labels(registry=name).set(0)
        self._tasks[name] = asyncio.create_task(self._ensure_one(name), name=f"registry-{name}")

    async def refresh(self, names: Iterable[str] | None = None) -> None:
        """Read the last imports from SQL, then `check` them (reloads in the background)."""
        imports = await asyncio.to_thread(last_imports, self.sql, names)
        self.expected.update(imports)
        await self.check(imports)

    async def check(self, names: Iterable[str]) -> None:
        """Cheap, every tick: one GET per registry against the version expected from
        SQL (read by `ensure_all`); a missing or other version is reloaded."""
        wanted = [n for n in dict.fromkeys(names) if n in self.expected]
        if not wanted:
            return
        values = await self.redis.mget([current_key(n) for n in wanted])
        for name, value in zip(wanted, values, strict=True):
            live = value.decode() if isinstance(value, bytes) else value
            if live != self.expected[name].version or name in self.reloading:
                self.request(name)

    async def idle(self) -> None:
        """Wait for the reloads this process started (tests, shutdown)."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await self.idle()

    async def _ensure_one(self, name: str) -> str:
        state = RELOADING
        try:
            imports = await asyncio.to_thread(last_imports, self.sql, [name])
            imp = imports.get(name)
            if imp is None:  # never imported: unavailable, nothing to reload
                state = self._state(name, NOT_KEPT)
            else:
                self.expected[name] = imp
                state = await self.ensure(imp)
        except (RedisError, SQLAlchemyError, OSError) as exc:
            log.warning("registry %s: reload failed (%s); calls stay blocked", name, exc)
        if state not in (IN_FORCE, RELOADED):
            self._quiet_until[name] = time.monotonic() + RETRY_SECONDS
        return state

    async def _in_force(self, imp: LastImport) -> bool:
        live = await self.redis.get(current_key(imp.name))
        if (live.decode() if isinstance(live, bytes) else live) != imp.version:
            return False
        return bool(await self.redis.exists(f"{version_prefix(imp.name, imp.version)}meta"))

    async def _load(self, imp: LastImport, token: str) -> None:
        prefix = version_prefix(imp.name, imp.version)
        after = -1
        while True:
            rows = await asyncio.to_thread(read_buckets, self.sql, imp.id, after, self.chunk)
            if not rows:
                break
            pipe = self.redis.pipeline(transaction=False)
            # One MSET a chunk (one hash tag: one cluster slot).
            pipe.mset({f"{prefix}{bucket}": blob for bucket, blob in rows})
            pipe.eval(RENEW_LUA, 1, lock_key(imp.name), token, LOCK_SECONDS)
            results = await pipe.execute()
            if not results[-1]:
                raise RedisError(f"registry {imp.name}: reload lock lost")
            after = rows[-1][0]
        await self.redis.hset(
            f"{prefix}meta",
            mapping={
                "imported_at": f"{imp.imported_at.timestamp():.6f}",
                "count": str(imp.count),
                "sha256": imp.sha256,
                "country": imp.country or "",
            },
        )

    async def _delete_versions(self, name: str) -> None:
        keep = {current_key(name), lock_key(name)}
        chunk: list[bytes | str] = []
        async for key in self.redis.scan_iter(match=f"{PREFIX}{{{name}}}:*", count=5000):
            text = key.decode() if isinstance(key, bytes) else key
            if text not in keep:
                chunk.append(key)
            if len(chunk) >= 2000:
                await self.redis.unlink(*chunk)
                chunk = []
        if chunk:
            await self.redis.unlink(*chunk)

    def _state(self, name: str, state: str) -> str:
        if state == RELOADING:
            self.reloading.add(name)
        else:
            self.reloading.discard(name)
        m.REGISTRY_LOADED.labels(registry=name).set(1 if state in (IN_FORCE, RELOADED) else 0)
        return state
