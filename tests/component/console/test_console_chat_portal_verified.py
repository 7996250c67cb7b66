"""A chat from the portal's chat box reaches the agent verified: only a session that
passed the portal's identity check writes there, and the assistant already told the
debtor the balance. Its pop carries the account's debt (an audited PII view, as the
call pop after the agent's check) and says it is a chat; a conversation from a number
(WhatsApp, SMS) is verified by the agent as a call is."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, origin
from sqlalchemy import Engine, select
from support.chat_standins import StandInActions, StandInAssistant
from support.polling import until, within

from console.pophub import verified_key
from selfservice.chat_service import ChatService, Incoming
from store.db import transaction
from store.models import AuditEntry


def hand_over(engine: Engine, seed: Seed, channel: str, address: str) -> None:
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    for minutes, text in ((0, "hola"), (1, "quiero hablar con un asesor")):
        chat.handle(Incoming(channel, address, text, NOW + timedelta(minutes=minutes),
                             account_id=seed.account_id, campaign_id=seed.campaign_id))  # fmt: skip


async def popped(client: TestClient) -> dict[str, Any]:
    token = await login(client, "ana")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})

    async def ready_then_pop() -> dict[str, Any]:
        while (await ws.receive_json())["type"] != "hello":
            pass
        resp = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
        assert resp.status == 200, await resp.text()
        while True:
            msg = await ws.receive_json()
            if msg["type"] == "pop":
                await ws.close()
                return dict(msg)

    return await within(ready_then_pop(), "the chat's pop on the agent's socket")


def pii_pages(engine: Engine) -> list[str]:
    with transaction(engine) as s:
        payloads = s.scalars(
            select(AuditEntry.payload).where(AuditEntry.kind == "pii_view").order_by(AuditEntry.id)
        )
        return [json.loads(p).get("page", "") for p in payloads]


async def test_given_a_portal_chat_when_popped_then_verified_with_the_balance_and_audited(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    hand_over(engine, seed, "chat", "portal:abc")

    pop = await popped(client)

    assert pop["direction"] == "chat" and pop["verified"] == "titular"
    assert pop["account"]["balance_display"] and "script" in pop
    assert await aredis.get(verified_key(pop["attempt_id"])) in (b"titular", "titular")
    # The view's evidence is written just after the send.
    await until(lambda: "chat_portal_verified" in pii_pages(engine), "the verified view audited")
    # A page reloaded mid-chat finds the same: a chat, verified.
    again = (await (await client.get("/api/agent/current")).json())["pop"]
    assert (again["direction"], again["verified"]) == ("chat", "titular")
    assert again["account"]["balance_display"] == pop["account"]["balance_display"]


@pytest.mark.parametrize("channel", ["whatsapp", "sms"])
async def test_given_a_chat_from_a_number_when_popped_then_the_agent_verifies_it(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, channel: str
) -> None:
    hand_over(engine, seed, channel, "+525512345678")

    pop = await popped(client)

    assert pop["direction"] == "chat" and pop["verified"] is None
    assert "balance_display" not in pop["account"]
    assert await aredis.get(verified_key(pop["attempt_id"])) is None
    again = (await (await client.get("/api/agent/current")).json())["pop"]
    assert (again["direction"], again["verified"]) == ("chat", None)
