"""An inbound caller whose number names one account: the dialer ties the call to it
from the start, and the account opens only through the inbound identity check (its
questions, the account's lock over calls and chats), never through the outbound
party check nor a page reload."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine
from support.inbound_support import inbound_pop, inbound_row

NUMBER = "+525512340001"  # María's


async def one_match_call(client: TestClient, engine: Engine, seed: Seed,
                         aredis: aioredis.Redis) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """María calls from her number: the dialer wrote her account on the attempt (one
    match) and popped it to Ana as an inbound call."""
    agent = seed.users["ana"]
    attempt = inbound_row(engine, seed.campaign_id, agent, NOW, NUMBER, seed.account_id)
    pop = await inbound_pop(client, aredis, agent, attempt, [seed.account_id], seed.account_id)
    return attempt, pop


async def test_given_a_one_match_inbound_call_then_the_outbound_party_check_does_not_open_it(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    headers = {"X-CSRF-Token": token}
    attempt, pop = await one_match_call(client, engine, seed, aredis)
    assert [c["account_id"] for c in pop["candidates"]] == [seed.account_id]
    # Nor does the account itself open (its numbers, last attempts, the party questions).
    early = await client.get(f"/api/agent/accounts/{seed.account_id}")
    assert early.status == 403
    assert (await early.json())["reason"] == (
        "Verifique la identidad de quien llama antes de abrir la cuenta.")  # fmt: skip
    # The outbound check's questions (name and the reference's digits, both on every
    # letter) are not the inbound caller's: refused with a reason, no try spent.
    for party in ("titular", "aval"):
        resp = await client.post("/api/agent/verify", headers=headers, json={
            "attempt_id": attempt, "party": party,
            "answer_full_name": "María López Hernández", "answer_account_last4": "0001"})  # fmt: skip
        body = await resp.json()
        assert resp.status == 409, body
        assert "entrante" in body["reason"] and "balance" not in str(body)
    assert await aredis.get(f"cobrador:console:verified:{{{attempt}}}") is None
    # The inbound check still has its three tries and opens it.
    right = await client.post("/api/agent/inbound/verify", headers=headers, json={
        "attempt_id": attempt, "account_id": seed.account_id, "answer_account_last4": "0001"})  # fmt: skip
    assert right.status == 200, await right.text()
    assert (await right.json())["pop"]["account"]["balance"]
    opened = await client.get(f"/api/agent/accounts/{seed.account_id}")
    assert opened.status == 200 and (await opened.json())["account"]["account"]["balance"]


async def test_given_a_one_match_inbound_call_when_the_page_reloads_then_names_only_again(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    attempt, first = await one_match_call(client, engine, seed, aredis)
    current = (await (await client.get("/api/agent/current")).json())["pop"]
    # Not the outbound pop with its party questions (and the account's last attempts,
    # numbers and clock): the names-only inbound pop, as before the reload.
    assert current["type"] == "inbound" and current["attempt_id"] == attempt
    assert current["candidates"] == first["candidates"]
    assert "verification" not in current and "attempts" not in current
    right = await client.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": token},
                              json={"attempt_id": attempt, "account_id": seed.account_id,
                                    "answer_account_last4": "0001"})  # fmt: skip
    assert right.status == 200, await right.text()
    # Verified: the reload shows the account.
    after = (await (await client.get("/api/agent/current")).json())["pop"]
    assert after["type"] == "pop" and after["account"]["balance"]
