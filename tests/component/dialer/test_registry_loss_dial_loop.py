"""The dial loop when Redis loses a registry: it is reloaded from SQL, and
meanwhile the campaign neither refills nor dials (no candidate is held back
as registry_unavailable), and the wallboard says why."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.registry import current_key
from compliance.registry_sync import lock_key
from dialer.campaign_dialer import DialerOptions
from dialer.messages import wallboard_key
from metrics.definitions import REGISTRY
from store.models import CallAttempt, Decision


def _unavailable_decisions(floor) -> int:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        reasons = s.scalars(select(Decision.reasons)).all()
    return sum(1 for r in reasons if "registry_unavailable" in (r or []))


def _attempts(floor) -> int:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        return len(s.scalars(select(CallAttempt.id)).all())


async def _board(floor) -> dict:  # type: ignore[no-untyped-def,type-arg]
    raw = await floor.redis.get(wallboard_key("mx-test"))
    return json.loads(raw) if raw else {}


async def test_given_flushall_mid_run_then_registry_reloaded_and_nothing_held_back_meanwhile(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    # Two accounts a refill: most are still candidates when Redis is flushed.
    options = DialerOptions(owner="d1", refill_every_seconds=0.5, refill_batch=2)
    floor = await make_floor(accounts=10, listed_accounts=2, options=options)
    await floor.dialer.tick()
    version = await floor.redis.get(current_key("reus"))
    assert version is not None
    await floor.redis.flushall()
    # Another process took the reload: this one waits, blocked, and says so.
    await floor.redis.set(lock_key("reus"), "other-dialer", ex=60)
    placed_before = _attempts(floor)
    for _ in range(3):
        assert await floor.dialer.tick() == 0
    assert (await _board(floor))["registries_reloading"] == ["reus"]
    assert REGISTRY.get_sample_value("cobrador_registry_loaded_up", {"registry": "reus"}) == 0
    assert _attempts(floor) == placed_before
    assert _unavailable_decisions(floor) == 0
    await floor.redis.delete(lock_key("reus"))  # the other process died
    sync = floor.dialer.compliance.registry_sync
    await floor.run_until(lambda: not sync.reloading)
    await sync.idle()
    assert await floor.redis.get(current_key("reus")) == version
    await floor.dialer.tick()
    assert (await _board(floor))["registries_reloading"] == []
    assert REGISTRY.get_sample_value("cobrador_registry_loaded_up", {"registry": "reus"}) == 1
    assert _unavailable_decisions(floor) == 0
