"""The question that proves an inbound caller (or a chat): the document's last 4 digits
(the portal's identity, kept as a keyed hash) rather than the reference's last digits or
the full name printed on every letter, when the account has one on file and the
campaign did not choose its own questions."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine
from support.inbound_support import (
    inbound_pop,
    inbound_row,
    ready_then_pop,
    shared_number_chat,
    withheld_call,
)

from cobrador.ground.settings import Settings
from console.app import init_app
from console.inbound_service import chose_questions, proof_prompts
from selfservice.identity import import_identities
from store.db import transaction
from store.models import Campaign, Phone

KEY = b"k" * 32


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Callable[[], datetime],
) -> TestClient:  # fmt: skip
    keyed = settings.with_overrides(portal_identity_key=base64.b64encode(KEY).decode())
    return await aiohttp_client(init_app(keyed, engine, aredis, clock=clock))


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
    attempt = await withheld_call(engine, aredis, seed.campaign_id, seed.users["ana"], NOW)
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


DOCUMENT = [
    {"code": "document_last4", "label": "Últimos 4 dígitos del documento (INE, cédula, DNI)"}
]
SHARED = "+525512349999"  # María's and Juan's number


def test_given_the_default_questions_then_the_document_is_asked_where_on_file():
    # The campaign chose nothing: the document replaces the reference's digits.
    assert proof_prompts(("account_last4",), False, True, chosen=False) == ("document_last4",)
    assert proof_prompts(("account_last4",), True, True, chosen=False) == ("document_last4",)
    # No document on file: as before (the reference's digits; by reference, the name).
    assert proof_prompts(("account_last4",), False, False, chosen=False) == ("account_last4",)
    assert proof_prompts(("account_last4",), True, False, chosen=False) == ("full_name",)
    # The campaign chose its questions: they stay, even the reference's digits.
    assert proof_prompts(("account_last4",), False, True, chosen=True) == ("account_last4",)
    assert proof_prompts(("birth_date",), False, True, chosen=True) == ("birth_date",)


@pytest.mark.parametrize(("config", "chosen"), [
    ({}, False), ({"inbound": {}}, False), ({"inbound": None}, False),
    ({"inbound": {"verification": []}}, False),
    ({"inbound": {"verification": ["no_such_question"]}}, False),  # asked: the default
    ({"inbound": {"verification": "account_last4"}}, False),  # not a list: the default
    ({"inbound": {"verification": ["account_last4"]}}, True),
    ({"inbound": {"verification": ["birth_date", "full_name"]}}, True),
])  # fmt: skip
def test_given_a_campaigns_config_then_whether_it_chose_its_inbound_questions(
    config: dict[str, Any], chosen: bool
) -> None:
    assert chose_questions(config) is chosen


async def matched_call(client: TestClient, engine: Engine, seed: Seed, aredis: aioredis.Redis,
                       verification: tuple[str, ...] = ("account_last4",)) -> tuple[int, dict]:  # fmt: skip
    """A call from the number María and Juan share, popped to Ana: (attempt, pop)."""
    agent = seed.users["ana"]
    with transaction(engine) as s:
        s.add(Phone(account_id=seed.other_account_id, number_e164="+525512340001", position=2))
    attempt = inbound_row(engine, seed.campaign_id, agent, NOW, "+525512340001")
    pop = await inbound_pop(client, aredis, agent, attempt,
                            (seed.account_id, seed.other_account_id), verification=verification)  # fmt: skip
    return attempt, pop


async def test_given_a_caller_whose_number_matched_then_the_document_is_asked_not_the_reference(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    import_identities(engine, [(1, "MX-0002", "PEJU800101HDFRRN07")], KEY, "test", NOW)
    token = await login(client, "ana")
    attempt, pop = await matched_call(client, engine, seed, aredis)
    by_name = {c["name"]: c["prompts"] for c in pop["candidates"]}
    assert by_name["Juan Pérez"] == DOCUMENT
    # María's account has no document on file: the reference's digits, as before.
    assert [p["code"] for p in by_name["María López Hernández"]] == ["account_last4"]
    # A reload shows the same questions.
    current = (await (await client.get("/api/agent/current")).json())["pop"]
    assert current["candidates"] == pop["candidates"]

    async def answer(**fields: str) -> ClientResponse:
        return await client.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": token},
                                 json={"attempt_id": attempt, "account_id": seed.other_account_id,
                                       **{f"answer_{k}": v for k, v in fields.items()}})  # fmt: skip

    # The reference's digits, on every letter and SMS, no longer open Juan's account.
    assert (await answer(account_last4="0002")).status == 422
    right = await answer(document_last4="0107")
    assert right.status == 200, await right.text()
    assert right_pop_is_juans(await right.json())


async def test_given_a_campaign_that_chose_its_questions_then_they_are_asked_not_the_document(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    import_identities(engine, [(1, "MX-0002", "PEJU800101HDFRRN07")], KEY, "test", NOW)
    with transaction(engine) as s:
        campaign = s.get(Campaign, seed.campaign_id)
        assert campaign is not None
        campaign.config = {**campaign.config, "inbound": {"verification": ["account_last4"]}}
    token = await login(client, "ana")
    attempt, pop = await matched_call(client, engine, seed, aredis)
    assert all([p["code"] for p in c["prompts"]] == ["account_last4"] for c in pop["candidates"])
    right = await client.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": token},
                              json={"attempt_id": attempt, "account_id": seed.other_account_id,
                                    "answer_account_last4": "0002"})  # fmt: skip
    assert right.status == 200, await right.text()


async def test_given_no_identity_key_then_the_reference_is_asked_as_before(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Callable[[], datetime],
) -> None:  # fmt: skip
    import_identities(engine, [(1, "MX-0002", "PEJU800101HDFRRN07")], KEY, "test", NOW)
    unkeyed = await aiohttp_client(init_app(settings.with_overrides(portal_identity_key=""),
                                            engine, aredis, clock=clock))  # fmt: skip
    await login(unkeyed, "ana")
    _, pop = await matched_call(unkeyed, engine, seed, aredis)
    assert all([p["code"] for p in c["prompts"]] == ["account_last4"] for c in pop["candidates"])


async def test_given_an_unattached_chat_then_the_document_is_asked_and_proves_it(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    import_identities(engine, [(1, "MX-0002", "PEJU800101HDFRRN07")], KEY, "test", NOW)
    shared_number_chat(engine, (seed.account_id, seed.other_account_id), SHARED, NOW)
    token = await login(client, "ana")
    pop = await ready_then_pop(client, token, "inbound")
    by_name = {c["name"]: c["prompts"] for c in pop["candidates"]}
    assert by_name["Juan Pérez"] == DOCUMENT

    async def attach(**fields: str) -> ClientResponse:
        return await client.post("/api/agent/chat/attach", headers={"X-CSRF-Token": token},
                                 json={"attempt_id": pop["attempt_id"],
                                       "account_id": seed.other_account_id,
                                       **{f"answer_{k}": v for k, v in fields.items()}})  # fmt: skip

    assert (await attach(account_last4="0002")).status == 422
    right = await attach(document_last4="0107")
    assert right.status == 200, await right.text()
