"""Attempt and contact caps on real Redis: rebuilt from SQL, one atomic check-and-count."""

from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from compliance_helpers import make_account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from compliance.caps import AccountHistory, CapStore, Event
from compliance.profile import CapRule, Profile, load_profiles
from compliance.service import load_history
from store.db import transaction
from store.models import CallAttempt

NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)
PROFILES = load_profiles()
MX = PROFILES["MX"]


def no_history(account_ids: list[int], since: datetime) -> dict[int, AccountHistory]:
    return {}


def cap_profile(max_per_day: int) -> Profile:
    """A profile whose only cap is `max_per_day` attempts per rolling 24 h."""
    return replace(PROFILES["PE"], caps=(CapRule("attempts", 24, max_per_day),))


async def test_given_empty_history_when_counting_then_hourly_cap_blocks_the_second(
    aredis: aioredis.Redis,
) -> None:
    caps = CapStore(aredis, no_history)
    first = await caps.check_and_count(1, MX, NOW, "a:1")
    second = await caps.check_and_count(1, MX, NOW + timedelta(minutes=59), "a:2")
    third = await caps.check_and_count(1, MX, NOW + timedelta(minutes=60), "a:3")
    assert (first.allowed, first.counted) == (True, True)
    assert second == second.__class__(False, ("attempt_cap_day",), False)
    assert third.counted


async def test_given_same_attempt_ref_twice_when_counting_then_counted_once(
    aredis: aioredis.Redis,
) -> None:
    caps = CapStore(aredis, no_history)
    profile = cap_profile(2)
    await caps.check_and_count(1, profile, NOW, "a:1")
    await caps.check_and_count(1, profile, NOW, "a:1")  # a retried check of the same attempt
    snap = (await caps.snapshot([1], NOW))[1]
    assert len(snap.attempts) == 1


async def test_given_sql_attempts_when_redis_is_empty_then_rebuilt_before_first_check(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    account_id = make_account(engine)
    with transaction(engine) as session:
        for minutes, result, rpc in (
            (300, "no_answer", False),
            (200, "abandoned", False),
            (100, "blocked", False),
        ):
            session.add(
                CallAttempt(
                    account_id=account_id, phone_e164="+525512345678",
                    started_at=NOW - timedelta(minutes=minutes), result=result, right_party_contact=rpc,
                )
            )  # fmt: skip
        session.add(
            CallAttempt(
                account_id=account_id, phone_e164="+525512345678",
                started_at=NOW - timedelta(days=9), result="contact", right_party_contact=True,
            )
        )  # fmt: skip
    caps = CapStore(aredis, lambda ids, since: load_history(engine, ids, since))
    snap = (await caps.snapshot([account_id], NOW))[account_id]
    assert len(snap.attempts) == 2 and len(snap.abandons) == 1 and snap.contacts == ()
    # Two attempts in 24 h: a third is allowed, a fourth is not.
    assert (await caps.check_and_count(account_id, MX, NOW, "a:new")).counted
    blocked = await caps.check_and_count(account_id, MX, NOW + timedelta(hours=2), "a:newer")
    assert blocked.reasons == ("attempt_cap_day",)


async def test_given_attempt_row_written_before_the_check_when_rebuilt_then_not_counted_twice(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    # The dialer writes the attempt row, then runs the final check; a rebuild in
    # between brings that row into Redis, and it must not block itself.
    account_id = make_account(engine)
    with transaction(engine) as session:
        row = CallAttempt(account_id=account_id, phone_e164="+525512345678", started_at=NOW)
        session.add(row)
        session.flush()
        attempt_id = row.id
    caps = CapStore(aredis, lambda ids, since: load_history(engine, ids, since))
    result = await caps.check_and_count(account_id, MX, NOW, f"a:{attempt_id}")
    assert result.counted
    again = await caps.check_and_count(account_id, MX, NOW, f"a:{attempt_id + 1}")
    assert again.reasons == ("attempt_cap_day",)


async def test_given_contact_saved_only_in_sql_when_final_check_then_contact_cap(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    # The console saves a right-party disposition in SQL and tells nobody: the
    # final check must still see the contact.
    account_id = make_account(engine)
    caps = CapStore(aredis, lambda ids, since: load_history(engine, ids, since))
    assert (await caps.check_and_count(account_id, MX, NOW, "a:1")).counted  # loads the account
    with transaction(engine) as session:
        session.add(
            CallAttempt(
                account_id=account_id, phone_e164="+525512345678", started_at=NOW,
                answered_at=NOW, result="contact", right_party_contact=True,
            )
        )  # fmt: skip
    result = await caps.check_and_count(account_id, MX, NOW + timedelta(hours=2), "a:99")
    assert result.reasons == ("contact_cap_week",)


async def test_given_database_down_when_final_check_then_blocked(aredis: aioredis.Redis) -> None:
    def broken(ids: list[int], since: datetime) -> dict[int, AccountHistory]:
        raise ConnectionError("database is down")

    result = await CapStore(aredis, broken).check_and_count(1, MX, NOW, "a:1")
    assert not result.allowed and not result.counted


async def test_given_contact_recorded_when_checking_then_contact_cap(
    aredis: aioredis.Redis,
) -> None:
    caps = CapStore(aredis, no_history)
    assert (await caps.check_and_count(7, MX, NOW, "a:1")).counted
    await caps.record_contact(7, 1, NOW + timedelta(minutes=1))
    result = await caps.check_and_count(7, MX, NOW + timedelta(hours=2), "a:2")
    assert result.reasons == ("contact_cap_week",)


async def test_given_abandon_within_us_cooldown_when_checking_then_recent_abandon(
    aredis: aioredis.Redis,
) -> None:
    caps = CapStore(aredis, no_history)
    us = PROFILES["US"]
    assert (await caps.check_and_count(8, us, NOW, "a:1")).counted
    await caps.record_abandon(8, 1, NOW)
    result = await caps.check_and_count(8, us, NOW + timedelta(hours=23), "a:2")
    assert result.reasons == ("recent_abandon",)
    assert (await caps.check_and_count(8, us, NOW + timedelta(hours=24, seconds=1), "a:3")).counted


async def test_given_redis_down_when_checking_then_blocked_with_every_cap() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    caps = CapStore(dead, no_history)
    result = await caps.check_and_count(1, MX, NOW, "a:1")
    assert not result.allowed and not result.counted
    assert set(result.reasons) == {"attempt_cap_day", "contact_cap_week"}
    snap = await caps.snapshot([1], NOW)
    assert not snap[1].available
    await dead.aclose()


async def test_given_window_longer_than_counters_keep_when_checking_then_blocked(
    aredis: aioredis.Redis,
) -> None:
    month = replace(MX, caps=(CapRule("attempts", 24 * 30, 10),))
    result = await CapStore(aredis, no_history).check_and_count(1, month, NOW, "a:1")
    assert not result.allowed and not result.counted


async def test_given_naive_clock_when_checking_then_refused(aredis: aioredis.Redis) -> None:
    result = await CapStore(aredis, no_history).check_and_count(1, MX, datetime(2026, 1, 1), "a:1")
    assert not result.allowed and not result.counted


async def test_given_many_concurrent_tasks_when_checking_then_cap_never_exceeded(
    aredis: aioredis.Redis,
) -> None:
    caps = CapStore(aredis, no_history)
    profile = cap_profile(3)
    results = await asyncio.gather(
        *(caps.check_and_count(42, profile, NOW, f"a:{i}") for i in range(40))
    )
    assert sum(r.counted for r in results) == 3


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tasks=st.integers(min_value=1, max_value=30), cap=st.integers(min_value=1, max_value=8),
       account=st.integers(min_value=1, max_value=10**9))  # fmt: skip
def test_given_n_concurrent_checks_when_any_cap_then_exactly_min_n_cap_counted(
    redis_url: str, tasks: int, cap: int, account: int
) -> None:
    async def run() -> int:
        client = aioredis.Redis.from_url(redis_url)
        try:
            caps = CapStore(client, no_history)
            await client.delete(
                *(f"cobrador:caps:{{acct:{account}}}:{k}" for k in ("attempts", "loaded"))
            )
            results = await asyncio.gather(
                *(
                    caps.check_and_count(account, cap_profile(cap), NOW, f"a:{i}")
                    for i in range(tasks)
                )
            )
            return sum(r.counted for r in results)
        finally:
            await client.aclose()

    assert asyncio.run(run()) == min(tasks, cap)


def _process_worker(
    redis_url: str, account: int, start: int, count: int, queue: multiprocessing.Queue
) -> None:
    async def run() -> int:
        client = aioredis.Redis.from_url(redis_url)
        try:
            caps = CapStore(client, no_history)
            results = await asyncio.gather(
                *(
                    caps.check_and_count(account, cap_profile(5), NOW, f"a:{start + i}")
                    for i in range(count)
                )
            )
            return sum(r.counted for r in results)
        finally:
            await client.aclose()

    queue.put(asyncio.run(run()))


def test_given_separate_processes_when_checking_one_debtor_then_cap_never_exceeded(
    redis_url: str,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(redis_url, 77, p * 100, 12, queue))
        for p in range(4)
    ]
    for p in procs:
        p.start()
    counted = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sum(counted) == 5


async def test_given_concurrent_rebuild_and_count_when_racing_then_counts_survive(
    aredis: aioredis.Redis,
) -> None:
    # A rebuild that arrives after a count must not wipe the count.
    history = {5: AccountHistory(attempts=[Event("a:old", (NOW - timedelta(hours=3)).timestamp())])}
    caps = CapStore(aredis, lambda ids, since: history)
    assert (await caps.check_and_count(5, cap_profile(3), NOW, "a:new")).counted
    await caps.rebuild([5], NOW)  # late rebuild: no-op because already loaded
    snap = (await caps.snapshot([5], NOW))[5]
    assert len(snap.attempts) == 2


@pytest.mark.parametrize("kind", ["visits", ""])
async def test_given_unknown_counter_when_recording_then_error(
    aredis: aioredis.Redis, kind: str
) -> None:
    with pytest.raises(ValueError):
        await CapStore(aredis, no_history).record(1, kind, "a:1", NOW)
