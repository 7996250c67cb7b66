"""The debtor's document (its last 4 digits) is one secret, asked by the portal's links,
the chat assistant and agents: its wrong answers are counted once, on the account's
document row (the portal's ``ref:<account>``, console/verify_lock.py). The anonymous
way in by reference (/p) counts on a row of its own, refused while the document's is
locked: a stranger holding a letter locks only that way in."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine, select
from support.inbound_support import withheld_call

from cobrador.ground.settings import Settings
from console import verify_lock
from console.app import init_app
from selfservice.identity import entry_gate, import_identities, reference_gate
from store.db import transaction
from store.models import PortalGate, SupervisorTask

KEY = b"k" * 32
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
JUANS_DIGITS = "0107"  # the last 4 digits of the document imported for MX-0002


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Callable[[], datetime],
) -> TestClient:  # fmt: skip
    keyed = settings.with_overrides(portal_identity_key=base64.b64encode(KEY).decode(),
                                    portal_link_secret=base64.b64encode(b"l" * 32).decode())  # fmt: skip
    assert import_identities(engine, [(1, "MX-0002", "PEJU800101HDFRRN07")], KEY, "test",
                             NOW).stored == 1  # fmt: skip
    return await aiohttp_client(init_app(keyed, engine, aredis, clock=clock))


@pytest.fixture
async def debtor(client: TestClient) -> AsyncIterator[TestClient]:
    """Juan in the portal's reference entry (/p), a browser of his own."""
    browser = TestClient(client.server)
    await browser.start_server()  # the running server: nothing started
    yield browser
    await browser._session.close()  # not browser.close(): that would stop the shared server


async def portal(debtor: TestClient, digits: str) -> int:
    """Juan's reference and `digits` at /p: 303 into the portal, 403 refused."""
    match = CSRF.search(await (await debtor.get("/p")).text())
    assert match
    resp = await debtor.post("/p", data={"ref": "MX-0002", "digits": digits,
                                         "_csrf": match.group(1)}, allow_redirects=False)  # fmt: skip
    return resp.status


async def on_a_call(engine: Engine, seed: Seed, aredis: aioredis.Redis,
                    client: TestClient) -> tuple[int, str]:  # fmt: skip
    """Ana on a call from a withheld number, Juan's account found by his number (its
    question: the document's digits): (attempt, CSRF token)."""
    token = await login(client, "ana")
    attempt = await withheld_call(engine, aredis, seed.campaign_id, seed.users["ana"], NOW)
    found = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=5512340002")
    [account] = (await found.json())["accounts"]
    assert [p["code"] for p in account["prompts"]] == ["document_last4"]
    return attempt, token


async def agent_answer(client: TestClient, token: str, attempt: int, seed: Seed,
                       digits: str) -> tuple[int, str]:  # fmt: skip
    resp = await client.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": token},
                             json={"attempt_id": attempt, "account_id": seed.other_account_id,
                                   "answer_document_last4": digits})  # fmt: skip
    return resp.status, (await resp.json()).get("reason", "")


def document_row(engine: Engine, seed: Seed) -> tuple[int, int, bool]:
    with transaction(engine) as s:
        row = s.get(PortalGate, reference_gate(seed.other_account_id))
        assert row is not None
        return row.failures, row.total_failures, row.locked_at is not None


def entry_row(engine: Engine, seed: Seed) -> tuple[int, int, bool]:
    """The anonymous way in's own row (/p, the reference typed: selfservice/identity.py
    entry_gate)."""
    with transaction(engine) as s:
        row = s.get(PortalGate, entry_gate(seed.other_account_id))
        assert row is not None
        return row.failures, row.total_failures, row.locked_at is not None


async def test_given_a_stranger_locking_the_portals_reference_way_then_the_agents_still_check_the_document(
    client: TestClient, debtor: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """Whoever holds a letter knows the reference: three wrong answers at /p locked the
    account's document row, so for a day (nine: until a supervisor) agents answered 423
    to the debtor calling in and the debtor's links were refused. The anonymous way in
    counts on its own row now: it locks itself (the right answer refused there), and
    the agent on the debtor's call still compares the document."""
    assert [await portal(debtor, d) for d in ("1111", "2222", "3333")] == [403] * 3
    assert await portal(debtor, JUANS_DIGITS) == 403
    assert entry_row(engine, seed) == (3, 3, True)
    attempt, token = await on_a_call(engine, seed, aredis, client)
    assert (await agent_answer(client, token, attempt, seed, JUANS_DIGITS))[0] == 200
    # The debtor's success clears the document's row, not a stranger's count at /p.
    assert document_row(engine, seed) == (0, 0, False)
    assert entry_row(engine, seed) == (3, 3, True)


async def test_given_three_wrong_answers_to_agents_then_the_document_is_locked_on_every_way_in(
    client: TestClient, debtor: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The agents, the chat assistant and the debtor's links share one count of the
    document's digits; a locked one refuses the anonymous way in too (its own three
    come on top, never past a lock)."""
    attempt, token = await on_a_call(engine, seed, aredis, client)
    for digits in ("1111", "2222", "3333"):
        assert (await agent_answer(client, token, attempt, seed, digits))[0] == 422
    assert document_row(engine, seed) == (3, 3, True)
    assert await portal(debtor, JUANS_DIGITS) == 403
    attempt, token = await on_a_call(engine, seed, aredis, client)
    status, reason = await agent_answer(client, token, attempt, seed, JUANS_DIGITS)
    assert status == 423 and "Verificación bloqueada" in reason
    # The agent's refusal opened the supervisor's task (the portal's lock had none);
    # clearing it opens the document again on both sides.
    with transaction(engine) as s:
        [task] = s.scalars(select(SupervisorTask.id).where(
            SupervisorTask.kind == verify_lock.VERIFY_LOCK_TASK, SupervisorTask.status == "open",
            SupervisorTask.account_id == seed.other_account_id)).all()  # fmt: skip
        assert verify_lock.unlock_in(s, seed.other_account_id, "user:sofia", NOW,
                                     seed.users["sofia"])  # fmt: skip
    assert document_row(engine, seed) == (0, 0, False)
    assert await portal(debtor, JUANS_DIGITS) == 303
    assert (await agent_answer(client, token, attempt, seed, JUANS_DIGITS))[0] == 200
    # The agents' own row counted none of it: the document's is the one count.
    with transaction(engine) as s:
        assert s.get(PortalGate, verify_lock.account_gate(seed.other_account_id)) is None
