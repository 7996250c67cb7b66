"""The debtor's document (its last 4 digits) is one secret, asked by the portal, the
chat assistant and agents: its wrong answers are counted once, on the account's
document row (the portal's ``ref:<account>``, console/verify_lock.py), so the portal
and the agents share three guesses, not three each."""

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
from selfservice.identity import import_identities, reference_gate
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


async def test_given_two_wrong_answers_in_the_portal_when_an_agent_hears_a_third_then_both_are_locked(
    client: TestClient, debtor: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The portal locked after three wrong answers and the agents after three of theirs:
    six guesses a day at the same four digits. One count now."""
    assert [await portal(debtor, d) for d in ("1111", "2222")] == [403, 403]
    attempt, token = await on_a_call(engine, seed, aredis, client)
    assert (await agent_answer(client, token, attempt, seed, "3333"))[0] == 422
    assert document_row(engine, seed) == (3, 3, True)
    # The agent's right answer is not compared: locked, with the reason...
    status, reason = await agent_answer(client, token, attempt, seed, JUANS_DIGITS)
    assert status == 423 and "Verificación bloqueada" in reason and "supervisor" in reason
    # ...and the debtor's right answer does not enter the portal.
    assert await portal(debtor, JUANS_DIGITS) == 403
    # The agents' own row counted none of it: the document's is the one count.
    with transaction(engine) as s:
        assert s.get(PortalGate, verify_lock.account_gate(seed.other_account_id)) is None


async def test_given_two_wrong_answers_to_agents_when_the_portal_gets_a_third_then_both_are_locked(
    client: TestClient, debtor: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    attempt, token = await on_a_call(engine, seed, aredis, client)
    for digits in ("1111", "2222"):
        assert (await agent_answer(client, token, attempt, seed, digits))[0] == 422
    assert await portal(debtor, "3333") == 403
    assert document_row(engine, seed) == (3, 3, True)
    assert await portal(debtor, JUANS_DIGITS) == 403
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


async def test_given_a_right_answer_to_an_agent_then_the_portals_wrong_answers_start_again(
    client: TestClient, debtor: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    assert [await portal(debtor, d) for d in ("1111", "2222")] == [403, 403]
    attempt, token = await on_a_call(engine, seed, aredis, client)
    assert (await agent_answer(client, token, attempt, seed, JUANS_DIGITS))[0] == 200
    assert document_row(engine, seed) == (0, 0, False)
