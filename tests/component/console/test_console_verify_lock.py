"""An account's identity questions over every inbound call and chat: three wrong answers
lock the account's check for a day (in SQL: a Redis flush unlocks nothing), nine hold it
for a supervisor, and parallel checks get no extra tries (console/verify_lock.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine, select
from support.inbound_support import put_on_call, ready_then_pop, shared_number_chat, withheld_call

from console import verify_lock
from store.db import transaction
from store.models import AuditEntry, CallAttempt, PortalGate, SupervisorTask

LOCKED = "Verificación bloqueada"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def new_call(engine: Engine, seed: Seed, aredis: aioredis.Redis, agent: str) -> int:
    """A new inbound call (from a withheld number) on the agent's line."""
    return await withheld_call(engine, aredis, seed.campaign_id, seed.users[agent], NOW)


async def verify(client: TestClient, token: str, attempt: int, account_id: int,
                 last4: str) -> tuple[int, str]:  # fmt: skip
    resp = await client.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": token}, json={
        "attempt_id": attempt, "account_id": account_id, "answer_account_last4": last4})  # fmt: skip
    return resp.status, (await resp.json()).get("reason", "")


async def find_by_phone(client: TestClient, attempt: int, number: str) -> None:
    """The agent finds the account by the number the caller says (its last 4 digits of
    the reference are then a real question: inbound_service.proof_prompts)."""
    resp = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q={number}")
    assert resp.status == 200 and (await resp.json())["accounts"], await resp.text()


def checks(engine: Engine) -> list[dict[str, Any]]:
    with transaction(engine) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.kind == "identity_check")
                         .order_by(AuditEntry.id))  # fmt: skip
        return [json.loads(e.payload) for e in rows]


def lock_entries(engine: Engine) -> list[dict[str, Any]]:
    with transaction(engine) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.kind == "identity_lock")
                         .order_by(AuditEntry.id))  # fmt: skip
        return [json.loads(e.payload) for e in rows]


def open_lock_tasks(engine: Engine, account_id: int) -> list[int]:
    with transaction(engine) as s:
        return list(s.scalars(select(SupervisorTask.id).where(
            SupervisorTask.account_id == account_id, SupervisorTask.status == "open",
            SupervisorTask.kind == verify_lock.VERIFY_LOCK_TASK)))  # fmt: skip


def tied(engine: Engine, attempt: int) -> int | None:
    with transaction(engine) as s:
        row = s.get(CallAttempt, attempt)
        assert row is not None
        return row.account_id


async def three_wrong_on_a_call(client: TestClient, engine: Engine, seed: Seed,
                                aredis: aioredis.Redis, token: str, agent: str = "ana") -> int:  # fmt: skip
    call = await new_call(engine, seed, aredis, agent)
    await find_by_phone(client, call, "5512340002")
    for guess in ("1111", "2222", "3333"):
        assert (await verify(client, token, call, seed.other_account_id, guess))[0] == 422
    return call


async def test_given_three_wrong_answers_on_one_call_when_the_caller_calls_again_then_the_account_is_locked(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The cap of three per call gave each new call three new tries at the same account:
    its last 4 digits could be guessed call after call. Now the account is locked."""
    token = await login(client, "ana")
    await three_wrong_on_a_call(client, engine, seed, aredis, token)
    call_b = await new_call(engine, seed, aredis, "ana")
    await find_by_phone(client, call_b, "5512340002")
    wrong = await verify(client, token, call_b, seed.other_account_id, "4444")
    right = await verify(client, token, call_b, seed.other_account_id, "0002")
    assert wrong[0] == right[0] == 423
    assert LOCKED in right[1] and "supervisor" in right[1]
    assert tied(engine, call_b) is None
    # Neither was compared: evidence of the refusal, no answer counted.
    assert [(c["passed"], c.get("refused")) for c in checks(engine)] == \
        [(False, None)] * 3 + [(False, "account_locked")] * 2  # fmt: skip
    [lock] = lock_entries(engine)
    assert (lock["result"], lock["failures"], lock["account_id"]) == (
        "locked",
        3,
        seed.other_account_id,
    )
    assert len(open_lock_tasks(engine, seed.other_account_id)) == 1
    # Another account of the same call is not locked by them.
    await find_by_phone(client, call_b, "5512340001")
    assert (await verify(client, token, call_b, seed.account_id, "0001"))[0] == 200


async def test_given_two_wrong_answers_in_a_chat_and_one_on_a_call_then_the_account_is_locked(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The wrong answers of every channel count together: a chat that names no account
    and an inbound call, by two agents."""
    shared_number_chat(engine, (seed.account_id, seed.other_account_id), "+525512349999", NOW)
    token = await login(client, "ana")
    pop = await ready_then_pop(client, token, "inbound")  # the console's routing loop gives it
    for guess in ("1111", "2222"):
        resp = await client.post("/api/agent/chat/attach", headers={"X-CSRF-Token": token}, json={
            "attempt_id": pop["attempt_id"], "account_id": seed.other_account_id,
            "answer_account_last4": guess})  # fmt: skip
        assert resp.status == 422
    token = await login(client, "beto")
    call = await new_call(engine, seed, aredis, "beto")
    await find_by_phone(client, call, "5512340002")
    assert (await verify(client, token, call, seed.other_account_id, "3333"))[0] == 422
    assert (await verify(client, token, call, seed.other_account_id, "0002"))[0] == 423
    # And back in the chat, the right answer attaches nothing.
    token = await login(client, "ana")
    resp = await client.post("/api/agent/chat/attach", headers={"X-CSRF-Token": token}, json={
        "attempt_id": pop["attempt_id"], "account_id": seed.other_account_id,
        "answer_account_last4": "0002"})  # fmt: skip
    assert resp.status == 423 and LOCKED in (await resp.json())["reason"]


async def test_given_a_locked_account_when_redis_is_flushed_then_it_stays_locked(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """Redis is a cache: losing it unlocks nothing, neither the call's own three wrong
    answers (console/verify_tries.py: 429 on that call) nor the account's lock (423 on
    the next call)."""
    token = await login(client, "ana")
    call = await three_wrong_on_a_call(client, engine, seed, aredis, token)
    await aredis.flushdb()
    await put_on_call(aredis, seed.users["ana"], call)  # the state went with it: same call again
    await find_by_phone(client, call, "5512340002")
    status, reason = await verify(client, token, call, seed.other_account_id, "0002")
    assert status == 429 and "Demasiados intentos" in reason
    assert tied(engine, call) is None
    call = await new_call(engine, seed, aredis, "ana")
    await find_by_phone(client, call, "5512340002")
    status, reason = await verify(client, token, call, seed.other_account_id, "0002")
    assert status == 423 and LOCKED in reason
    assert tied(engine, call) is None


async def test_given_parallel_checks_on_two_calls_then_no_more_than_three_wrong_answers_are_checked(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """Two agents on two calls about one account, three guesses each at once: the
    account's row is taken in the checking transaction, so only three are compared."""
    beto = TestClient(client.server)
    await beto.start_server()  # the running server: nothing started
    try:
        ana_token = await login(client, "ana")
        beto_token = await login(beto, "beto")
        calls = {"ana": await new_call(engine, seed, aredis, "ana"),
                 "beto": await new_call(engine, seed, aredis, "beto")}  # fmt: skip
        await find_by_phone(client, calls["ana"], "5512340002")
        await find_by_phone(beto, calls["beto"], "5512340002")
        burst = await asyncio.gather(*[
            verify(c, t, calls[who], seed.other_account_id, f"{i}{i}{i}{i}")
            for i in range(1, 4)
            for c, t, who in ((client, ana_token, "ana"), (beto, beto_token, "beto"))
        ])  # fmt: skip
    finally:
        await beto._session.close()  # not beto.close(): that would stop the shared server
    assert sorted(status for status, _ in burst) == [422, 422, 422, 423, 423, 423]
    assert [c.get("refused") for c in checks(engine)].count(None) == 3
    with transaction(engine) as s:
        row = s.get(PortalGate, verify_lock.account_gate(seed.other_account_id))
        assert row is not None and (row.failures, row.total_failures) == (3, 3)
    assert (
        len(lock_entries(engine)) == 1 and len(open_lock_tasks(engine, seed.other_account_id)) == 1
    )


async def test_given_a_locked_account_when_the_day_is_over_then_it_may_be_checked_again(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, clock: Clock
) -> None:
    token = await login(client, "ana")
    await three_wrong_on_a_call(client, engine, seed, aredis, token)
    clock.now = NOW + verify_lock.LOCK - timedelta(seconds=1)
    token = await login(client, "ana")  # a console session does not last a day
    call = await new_call(engine, seed, aredis, "ana")
    await find_by_phone(client, call, "5512340002")
    assert (await verify(client, token, call, seed.other_account_id, "0002"))[0] == 423
    clock.now = NOW + verify_lock.LOCK
    # A new window: one wrong answer counts once, and the right one opens the account.
    assert (await verify(client, token, call, seed.other_account_id, "4444"))[0] == 422
    with transaction(engine) as s:
        row = s.get(PortalGate, verify_lock.account_gate(seed.other_account_id))
        assert row is not None and (row.failures, row.total_failures) == (1, 4)
    assert (await verify(client, token, call, seed.other_account_id, "0002"))[0] == 200
    assert tied(engine, call) == seed.other_account_id
    # The reference's digits are printed on every letter: a right answer there opens
    # the call but clears no wrong answer (verify_lock.record, identity.PRINTED_ON_LETTERS).
    with transaction(engine) as s:
        row = s.get(PortalGate, verify_lock.account_gate(seed.other_account_id))
        assert row is not None and (row.failures, row.total_failures, row.locked_at) == (1, 4, None)


async def test_given_wrong_answers_a_day_apart_then_they_do_not_add_up_to_a_lock(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, clock: Clock
) -> None:
    """A debtor who misremembers once in a while is not locked out: the window is a day."""
    for day in range(3):
        clock.now = NOW + day * verify_lock.WINDOW
        token = await login(client, "ana")
        call = await new_call(engine, seed, aredis, "ana")
        await find_by_phone(client, call, "5512340002")
        assert (await verify(client, token, call, seed.other_account_id, "9999"))[0] == 422
    assert lock_entries(engine) == []
    assert (await verify(client, token, call, seed.other_account_id, "0002"))[0] == 200


async def test_given_nine_wrong_answers_since_the_last_success_then_only_a_supervisor_unlocks(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, clock: Clock
) -> None:
    """Three day locks in a row: the account waits for a person (one guess a day for
    ever is no longer possible); the supervisor's task clears it."""
    for day in range(3):
        clock.now = NOW + day * verify_lock.LOCK
        token = await login(client, "ana")
        await three_wrong_on_a_call(client, engine, seed, aredis, token)
    assert [e["result"] for e in lock_entries(engine)] == ["locked", "locked", "held"]
    assert len(open_lock_tasks(engine, seed.other_account_id)) == 1  # one, not one per lock
    clock.now = NOW + 30 * verify_lock.LOCK
    token = await login(client, "ana")
    call = await new_call(engine, seed, aredis, "ana")
    await find_by_phone(client, call, "5512340002")
    assert (await verify(client, token, call, seed.other_account_id, "0002"))[0] == 423

    # The supervisor sees the task, worded, and clears it.
    sofia = TestClient(client.server)
    await sofia.start_server()
    try:
        sofia_token = await login(sofia, "sofia")
        page = await (await sofia.get("/supervisor/tasks")).text()
        assert "Verificación de identidad en llamadas y chats bloqueada" in page
        [task] = open_lock_tasks(engine, seed.other_account_id)
        done = await sofia.post(f"/supervisor/tasks/{task}/done", data={"_csrf": sofia_token},
                                allow_redirects=False)  # fmt: skip
        assert done.status == 303, await done.text()
    finally:
        await sofia._session.close()
    assert open_lock_tasks(engine, seed.other_account_id) == []
    assert lock_entries(engine)[-1]["result"] == "unlocked"
    assert (await verify(client, token, call, seed.other_account_id, "0002"))[0] == 200


async def test_given_a_day_lock_when_the_supervisor_clears_it_then_the_debtor_is_checked_at_once(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    await three_wrong_on_a_call(client, engine, seed, aredis, token)
    [task] = open_lock_tasks(engine, seed.other_account_id)
    with transaction(engine) as s:
        assert verify_lock.locked_in(s, seed.other_account_id, NOW)
        assert verify_lock.unlock_in(
            s, seed.other_account_id, "user:sofia", NOW, seed.users["sofia"]
        )
    with transaction(engine) as s:
        assert not verify_lock.locked_in(s, seed.other_account_id, NOW)
        t = s.get(SupervisorTask, task)
        assert t is not None and (t.status, t.done_by) == ("done", seed.users["sofia"])
    call = await new_call(engine, seed, aredis, "ana")
    await find_by_phone(client, call, "5512340002")
    assert (await verify(client, token, call, seed.other_account_id, "0002"))[0] == 200
