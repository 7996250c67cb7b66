"""The question that proves a caller found by the reference they gave: the document's
last 4 digits (the portal's identity, kept as a keyed hash) rather than the full name
printed on the same letter, when the account has one on file."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from console.app import init_app
from console.inbound_service import proof_prompts
from dialer.agent_state import AgentStates
from selfservice.identity import import_identities
from store.db import transaction
from store.models import CallAttempt

KEY = b"k" * 32


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Callable[[], datetime],
) -> TestClient:  # fmt: skip
    keyed = settings.with_overrides(portal_identity_key=base64.b64encode(KEY).decode())
    return await aiohttp_client(init_app(keyed, engine, aredis, clock=clock))


async def withheld_call(engine: Engine, seed: Seed, aredis: aioredis.Redis) -> int:
    agent = seed.users["ana"]
    with transaction(engine) as s:
        row = CallAttempt(phone_e164="", campaign_id=seed.campaign_id, agent_id=agent,
                          direction="inbound", source="inbound", started_at=NOW,
                          answered_at=NOW, bridged_at=NOW)  # fmt: skip
        s.add(row)
        s.flush()
        attempt = int(row.id)
    states = AgentStates(aredis)
    await states.login(agent, "mx-demo")
    await states.set_ready(agent)
    assert await states.reserve(agent, attempt)
    await states.talking(agent, attempt)
    return attempt


def test_given_an_account_found_by_reference_then_a_weak_question_gives_way_to_the_document():
    assert proof_prompts(("account_last4",), False, True) == ("account_last4",)
    assert proof_prompts(("account_last4",), True, True) == ("document_last4",)
    assert proof_prompts(("account_last4", "full_name"), True, True) == ("document_last4",)
    assert proof_prompts(("account_last4",), True, False) == ("full_name",)
    # A campaign's own real question stays the question.
    assert proof_prompts(("account_last4", "birth_date"), True, True) == ("birth_date",)
    assert proof_prompts(("account_last4", "birth_date", "full_name"), True, True) == (
        "birth_date", "full_name")  # fmt: skip


async def test_given_a_caller_who_gave_the_reference_then_the_documents_digits_prove_it_not_the_name(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    stored = import_identities(engine, [(1, "MX-0002", "PEJU800101HDFRRN07")], KEY, "test", NOW)
    assert stored.stored == 1
    token = await login(client, "ana")
    headers = {"X-CSRF-Token": token}
    attempt = await withheld_call(engine, seed, aredis)
    found = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0002")
    [account] = (await found.json())["accounts"]
    assert account["prompts"] == [
        {"code": "document_last4", "label": "Últimos 4 dígitos del documento (INE, cédula, DNI)"}
    ]
    # María's account has no document on file: the name, as before.
    other = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0001")
    assert [p["code"] for p in (await other.json())["accounts"][0]["prompts"]] == ["full_name"]

    async def answer(**fields: str) -> ClientResponse:
        return await client.post("/api/agent/inbound/verify", headers=headers, json={
            "attempt_id": attempt, "account_id": seed.other_account_id,
            **{f"answer_{k}": v for k, v in fields.items()}})  # fmt: skip

    assert (await answer(full_name="Juan Pérez")).status == 422  # on the letter: not asked
    assert (await answer(document_last4="0000")).status == 422
    right = await answer(document_last4="01-07")  # typed with a dash: read as the portal does
    assert right.status == 200, await right.text()
    assert right_pop_is_juans(await right.json())


def right_pop_is_juans(body: dict) -> bool:
    return bool(body["ok"] and body["pop"]["account"]["name"] == "Juan Pérez")
