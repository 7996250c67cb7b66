"""The agent on a call with the debtor opens the debtor's portal again: only the
titular verified on the agent's live call, the same unlock as a supervisor's task
(the task closes), audited with the agent and the call."""

from __future__ import annotations

import json

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine, select
from test_console_agent import verify

from console.pophub import verified_key
from dialer.agent_state import AgentStates
from selfservice import identity as idc
from store.db import transaction
from store.models import Account, AuditEntry, PortalGate, SupervisorTask


def _hold(engine: Engine, account_id: int) -> int:
    """The account's reference held after REFERENCE_HOLD_FAILURES wrong answers, with
    the supervisor task that opens; the task's id."""
    with transaction(engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        session.add(PortalGate(key=idc.reference_gate(account_id), account_id=account_id,
                               failures=idc.GATE_FAILURES,
                               total_failures=idc.REFERENCE_HOLD_FAILURES,
                               locked_at=NOW, created_at=NOW))  # fmt: skip
        task = SupervisorTask(account_id=account_id, campaign_id=account.campaign_id,
                              kind=idc.PORTAL_LOCK_TASK, created_at=NOW)  # fmt: skip
        session.add(task)
        session.flush()
        return task.id


async def _on_call(engine: Engine, aredis: aioredis.Redis, seed: Seed, user: str) -> int:
    agent_id = seed.users[user]
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    await states.login(agent_id, "mx-demo")
    await states.set_ready(agent_id)
    assert await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    return attempt


async def _unlock(client: TestClient, token: str, attempt: int):  # type: ignore[no-untyped-def]
    return await client.post("/api/agent/portal/unlock", json={"attempt_id": attempt},
                             headers={"X-CSRF-Token": token})  # fmt: skip


async def test_given_a_held_reference_and_the_titular_verified_on_the_call_then_the_agent_unlocks_it(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    task_id = _hold(engine, seed.account_id)
    token = await login(client, "ana")
    attempt = await _on_call(engine, aredis, seed, "ana")

    refused = await _unlock(client, token, attempt)  # not verified yet
    verified = await verify(client, token, attempt)
    assert verified.status == 200
    assert (await verified.json())["pop"]["portal_locked"] is True
    unlocked = await _unlock(client, token, attempt)
    again = await _unlock(client, token, attempt)

    assert refused.status == 403 and "titular" in (await refused.json())["reason"]
    assert unlocked.status == 200 and "desbloqueado" in (await unlocked.json())["message"]
    assert again.status == 409  # nothing locked any more
    assert not idc.gate_locked(engine, idc.reference_gate(seed.account_id), NOW)
    with transaction(engine) as session:
        task = session.get(SupervisorTask, task_id)
        assert task is not None and task.status == "done" and task.done_by == seed.users["ana"]
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.kind == "portal_identity"))
        payload = json.loads(entry.payload)
        assert entry.actor == "user:ana" and entry.subject == f"account:{seed.account_id}"
    assert payload["result"] == "unlocked" and payload["attempt_id"] == attempt
    assert payload["by"] == "agent_on_call" and payload["verified"] == "titular"
    # The debtor's next pop says nothing is locked.
    fresh = await verify(client, token, attempt)
    assert (await fresh.json())["pop"]["portal_locked"] is False


async def test_given_only_the_guarantor_verified_then_the_agent_cannot_unlock(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The portal is the debtor's: a guarantor's identity opens no way into it."""
    _hold(engine, seed.account_id)
    token = await login(client, "ana")
    attempt = await _on_call(engine, aredis, seed, "ana")
    await aredis.set(verified_key(attempt), "aval")

    resp = await _unlock(client, token, attempt)

    assert resp.status == 403
    assert idc.gate_locked(engine, idc.reference_gate(seed.account_id), NOW)


async def test_given_another_agents_call_or_an_old_one_then_the_agent_cannot_unlock(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    _hold(engine, seed.account_id)
    token = await login(client, "ana")
    theirs = await _on_call(engine, aredis, seed, "beto")
    await aredis.set(verified_key(theirs), "titular")
    old = make_attempt(engine, seed.account_id, seed.users["ana"])  # hers, not live now
    await aredis.set(verified_key(old), "titular")

    other = await _unlock(client, token, theirs)
    past = await _unlock(client, token, old)
    huge = await _unlock(client, token, 10**30)

    assert other.status == 403 and past.status == 403 and huge.status == 400
    assert idc.gate_locked(engine, idc.reference_gate(seed.account_id), NOW)
