"""Do-not-call registries (REUS...) in Redis: compact, versioned, swapped atomically.

Layout (one hash tag per registry, so a registry lives on one cluster slot):

    cobrador:reg:{NAME}:current            -> the version in force
    cobrador:reg:{NAME}:<version>:meta     -> hash: imported_at, count, sha256, country
    cobrador:reg:{NAME}:<version>:<bucket> -> sorted 5-byte big-endian integers

A number is its E.164 digits as an integer n; it lives in bucket n % 65536 as
n // 65536 (under 2**40 for any 15-digit number): 5 bytes a number, about
50 MB for 10 million. A new version is written beside the old one and becomes
current with one SET; a lookup (one Lua script) reads the pointer, checks
the version's meta and searches the buckets atomically, so it never sees a
half-loaded list. Older versions are deleted after the swap.
"""

from __future__ import annotations

import hashlib
import secrets
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from compliance.engine import RegistryAnswer
from compliance.numbers import e164_to_int

BUCKETS = 65536
RECORD = 5
PREFIX = "cobrador:reg:"

LOOKUP_LUA = """
local ver = redis.call('GET', KEYS[1])
if not ver then return {false} end
local base = string.sub(KEYS[1], 1, -8) .. ver .. ':'
local meta = redis.call('HMGET', base .. 'meta', 'imported_at', 'count', 'sha256')
if not meta[1] then return {false} end
local out = {}
for i = 1, #ARGV do
  local n = tonumber(ARGV[i])
  local hit = '0'
  if n then
    local b = n % 65536
    local q = (n - b) / 65536
    local s = redis.call('GET', base .. b)
    if s then
      local lo, hi = 0, #s / 5 - 1
      while lo <= hi do
        local mid = math.floor((lo + hi) / 2)
        local p = mid * 5 + 1
        local a1, a2, a3, a4, a5 = string.byte(s, p, p + 4)
        local v = (((a1 * 256 + a2) * 256 + a3) * 256 + a4) * 256 + a5
        if v == q then hit = '1' break
        elseif v < q then lo = mid + 1
        else hi = mid - 1 end
      end
    end
  end
  out[i] = hit
end
return {ver, meta[1], meta[2], table.concat(out)}
"""


def current_key(name: str) -> str:
    return f"{PREFIX}{{{name}}}:current"


def version_prefix(name: str, version: str) -> str:
    return f"{PREFIX}{{{name}}}:{version}:"


@dataclass(frozen=True)
class RegistryVersion:
    name: str
    version: str
    imported_at: datetime
    count: int


def pack_buckets(numbers: Iterable[int]) -> Iterator[tuple[int, bytes]]:
    """(bucket, packed sorted unique values) for every non-empty bucket."""
    # Typed arrays keep 10 M numbers at 8 bytes each instead of Python int objects.
    buckets: dict[int, array[int]] = {}
    for n in numbers:
        values = buckets.get(n % BUCKETS)
        if values is None:
            values = buckets[n % BUCKETS] = array("Q")
        values.append(n // BUCKETS)
    for bucket in sorted(buckets):
        unique = sorted(set(buckets.pop(bucket)))
        yield bucket, b"".join(v.to_bytes(RECORD, "big") for v in unique)


def packed_contains(blob: bytes, q: int) -> bool:
    """Binary search in one bucket (what the Lua script does, for tests and tools)."""
    lo, hi = 0, len(blob) // RECORD - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        v = int.from_bytes(blob[mid * RECORD : mid * RECORD + RECORD], "big")
        if v == q:
            return True
        if v < q:
            lo = mid + 1
        else:
            hi = mid - 1
    return False


UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RegistryBusy(RuntimeError):
    """Another import of the same registry is running."""


class RegistryWriter:
    """Loads a new version beside the current one; `swap` makes it current atomically."""

    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client = client
        self.name = name

    @contextmanager
    def exclusive(self, ttl_seconds: int = 3600) -> Iterator[None]:
        """One import per registry at a time: a second one would delete the first's version."""
        key = f"{PREFIX}{{{self.name}}}:lock"
        token = secrets.token_hex(8)
        if not self.client.set(key, token, nx=True, ex=ttl_seconds):
            raise RegistryBusy(
                f"another import (or a reload from SQL) of registry {self.name!r} is running"
            )
        try:
            yield
        finally:
            self.client.eval(UNLOCK_LUA, 1, key, token)

    def current_version(self) -> str | None:
        raw = self.client.get(current_key(self.name))
        return raw.decode() if isinstance(raw, bytes) else raw

    def load(
        self,
        version: str,
        buckets: Iterable[tuple[int, bytes]],
        *,
        imported_at: datetime,
        count: int,
        sha256: str,
        country: str | None,
        batch: int = 2000,
    ) -> None:
        prefix = version_prefix(self.name, version)
        pipe = self.client.pipeline(transaction=False)
        pending = 0
        for bucket, blob in buckets:
            pipe.set(f"{prefix}{bucket}", blob)
            pending += 1
            if pending >= batch:
                pipe.execute()
                pending = 0
        pipe.hset(
            f"{prefix}meta",
            mapping={
                "imported_at": f"{imported_at.timestamp():.6f}",
                "count": str(count),
                "sha256": sha256,
                "country": country or "",
            },
        )
        pipe.execute()

    def swap(self, version: str) -> str | None:
        """Make `version` current; returns the version it replaced."""
        old: Any = self.client.set(current_key(self.name), version, get=True)
        return old.decode() if isinstance(old, bytes) else old

    def restore(self, version: str | None) -> None:
        if version is None:
            self.client.delete(current_key(self.name))
        else:
            self.client.set(current_key(self.name), version)

    def delete_except(self, keep: str | None, batch: int = 2000) -> int:
        """Remove every version but `keep` (old ones and leftovers of failed imports)."""
        keep_prefix = version_prefix(self.name, keep) if keep else None
        pointer = current_key(self.name)
        lock = f"{PREFIX}{{{self.name}}}:lock"
        removed = 0
        chunk: list[Any] = []
        for key in self.client.scan_iter(match=f"{PREFIX}{{{self.name}}}:*", count=5000):
            text = key.decode() if isinstance(key, bytes) else key
            if text in (pointer, lock) or (keep_prefix and text.startswith(keep_prefix)):
                continue
            chunk.append(key)
            if len(chunk) >= batch:
                removed += self.client.unlink(*chunk)
                chunk = []
        if chunk:
            removed += self.client.unlink(*chunk)
        return removed


class RegistryReader:
    """Batch lookups against the current version of each registry (redis.asyncio)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._script = client.register_script(LOOKUP_LUA)

    async def lookup(
        self, name: str, numbers: Sequence[str]
    ) -> tuple[RegistryVersion | None, list[bool]]:
        """(version or None when not loaded, listed flags per number). Redis errors propagate."""
        args = [str(e164_to_int(n) or "x") for n in numbers]
        result = await self._script(keys=[current_key(name)], args=args)
        if not result or result[0] is None:
            return None, [False] * len(numbers)
        version, imported_at, count, flags = result
        meta = RegistryVersion(
            name=name,
            version=version.decode() if isinstance(version, bytes) else str(version),
            imported_at=datetime.fromtimestamp(float(imported_at), UTC),
            count=int(count),
        )
        text = flags.decode() if isinstance(flags, bytes) else str(flags)
        return meta, [c == "1" for c in text]


@dataclass
class PrefetchedRegistries:
    """A RegistryLookup over answers fetched in one batch (engine stays pure).

    `versions[name]` is None for a registry that is not loaded; `failed` names
    registries whose lookup raised (Redis down): both answer unavailable.
    """

    versions: Mapping[str, RegistryVersion | None]
    listed: Mapping[str, frozenset[str]]
    failed: frozenset[str] = frozenset()

    def answer(self, name: str, e164: str) -> RegistryAnswer:
        meta = self.versions.get(name)
        if name in self.failed or meta is None:
            return RegistryAnswer(name, available=False)
        listed = e164 in self.listed.get(name, frozenset())
        return RegistryAnswer(name, True, meta.version, meta.imported_at, listed)


async def prefetch(
    reader: RegistryReader | None, names: Iterable[str], numbers: Sequence[str]
) -> PrefetchedRegistries:
    """One Lua call per registry for the whole batch; any failure marks it unavailable."""
    versions: dict[str, RegistryVersion | None] = {}
    listed: dict[str, frozenset[str]] = {}
    failed: set[str] = set()
    for name in dict.fromkeys(names):
        if reader is None:
            failed.add(name)
            continue
        try:
            meta, flags = await reader.lookup(name, numbers)
        except (redis.RedisError, OSError):
            failed.add(name)
            continue
        versions[name] = meta
        listed[name] = frozenset(n for n, hit in zip(numbers, flags, strict=True) if hit)
    return PrefetchedRegistries(versions, listed, frozenset(failed))


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
