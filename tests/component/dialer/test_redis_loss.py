"""Redis is a cache: a FLUSHALL, or a redis-server killed and restarted empty, in
the middle of a shift loses nothing the dial loop needs. Within one tick the
hopper has its accounts again (never one with a call in flight)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from conftest import load_reus
from sqlalchemy import select
from sqlalchemy.orm import Session

from cobrador.redis_runtime import EmbeddedRedis
from store.models import Account, CallAttempt


class Restartable:
    """A redis-server of this module's own: killed with SIGKILL and started again,
    empty, on the same port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = 0
        self.server = self._start()

    def _start(self, port: int | None = None) -> EmbeddedRedis:
        self.runs += 1
        return EmbeddedRedis(data_dir=self.root / f"run{self.runs}", port=port).start()

    @property
    def url(self) -> str:
        return self.server.url

    def kill_and_restart_empty(self) -> None:
        proc = self.server._proc
        assert proc is not None
        proc.kill()
        proc.wait()
        self.server = self._start(self.server.port)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Restartable]:
    if os.environ.get("REDIS_URL"):
        pytest.skip("kills its own redis-server; REDIS_URL names a shared one")
    server = Restartable(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def redis_url(own_redis: Restartable) -> str:
    """The floor (conftest.make_floor) on this module's own redis-server."""
    return own_redis.url


def wipe(own_redis: Restartable, how: str) -> None:
    if how == "flushall":
        client = redis.Redis.from_url(own_redis.url)
        client.flushall()
        client.close()
    else:
        own_redis.kill_and_restart_empty()


async def first_good_tick(dialer) -> None:  # type: ignore[no-untyped-def]
    """The tick after the loss; after a SIGKILL the first one may still meet a pooled
    connection to the dead server (the loop pauses dialing for that tick)."""
    for _ in range(3):
        await dialer.tick()
        if dialer.health.ok:
            return
    raise AssertionError(f"dialer still paused: {dialer.health.reason}")


def reload_registry(floor, url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The REUS list as it was (the registries' own reload is not this test's subject)."""
    load_reus(floor.engine, url, tmp_path, [], datetime.fromtimestamp(floor.clock(), UTC))


def held(floor) -> set[int]:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        return set(s.scalars(select(Account.id).where(Account.hopper_since.is_not(None))))


def attempted(floor, *, open_only: bool = False) -> set[int]:  # type: ignore[no-untyped-def]
    query = select(CallAttempt.account_id)
    if open_only:
        query = query.where(CallAttempt.result.is_(None))
    with Session(floor.engine) as s:
        return {a for a in s.scalars(query) if a is not None}


@pytest.mark.parametrize("how", ["flushall", "sigkill"])
async def test_given_full_hopper_when_redis_loses_it_then_next_tick_refills_it(
    make_floor, own_redis: Restartable, tmp_path: Path, how: str
) -> None:  # type: ignore[no-untyped-def]
    # No agent logged in: nothing is dialed, every account waits in the hopper.
    floor = await make_floor(accounts=30, agents=0)
    await floor.dialer.tick()
    assert await floor.dialer.hopper.sizes() == {"ready": 30, "delayed": 0, "leased": 0}
    assert held(floor) == set(floor.numbers)

    wipe(own_redis, how)
    reload_registry(floor, own_redis.url, tmp_path)
    await first_good_tick(floor.dialer)

    # The accounts held for the lost hopper are found again by the first refill.
    assert (await floor.dialer.hopper.sizes())["ready"] == 30
    assert held(floor) == set(floor.numbers)


@pytest.mark.parametrize("how", ["flushall", "sigkill"])
async def test_given_calls_in_flight_when_redis_is_lost_then_their_accounts_are_not_readmitted(
    make_floor, own_redis: Restartable, tmp_path: Path, how: str
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=12, agents=2)
    dialer = floor.dialer
    await floor.run_until(lambda: len(dialer.calls) >= 1)
    flying = {c.account_id for c in dialer.calls.values()}

    wipe(own_redis, how)
    reload_registry(floor, own_redis.url, tmp_path)
    # A second dialer's view: this loop's own calls are not its own (no `mine`).
    dialer.calls, saved = {}, dialer.calls
    try:
        await first_good_tick(dialer)
    finally:
        dialer.calls = {**saved, **dialer.calls}
    assert flying <= attempted(floor, open_only=True)
    assert not await dialer.hopper.contains(sorted(flying))
    # Every account never dialed is back in the hopper.
    waiting = set(floor.numbers) - attempted(floor)
    assert waiting and await dialer.hopper.contains(sorted(waiting)) == waiting
