"""The chat queue on the agent page: a conversation the assistant hands over reaches a
ready agent like an inbound call (reserved atomically, popped with the account), the
agent reads the transcript and replies, and the disposition closes the chat."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, origin
from sqlalchemy import Engine, select
from support.chat_standins import StandInActions, StandInAssistant
from support.polling import until, within

from console.chat_queue import route_chats
from console.timeline import timeline_for
from dialer.agent_state import AgentState, AgentStates
from dialer.messages import Notifier
from selfservice import conversations as conv
from selfservice.chat_service import ChatService, Incoming
from store.db import transaction
from store.models import AuditEntry, CallAttempt, Campaign, Conversation, SkillGroup
from store.models import SkillGroupMember as Member


def service(engine: Engine) -> ChatService:
    return ChatService(engine, StandInAssistant(), StandInActions())


def write(engine: Engine, seed: Seed, text: str, channel: str = "chat",
          address: str = "portal:abc", minutes: int = 0) -> Any:  # fmt: skip
    return service(engine).handle(
        Incoming(channel, address, text, NOW + timedelta(minutes=minutes), account_id=seed.account_id,
                 campaign_id=seed.campaign_id)
    )  # fmt: skip


async def next_kind(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of `kind` on the agent's socket, bounded like every wait (10 s
    of wall time, its bound before, is a deadline a loaded machine can miss)."""

    async def next_one() -> dict[str, Any]:
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind:
                return dict(msg)

    return await within(next_one(), f"a {kind!r} message on the agent's socket")


async def ready(client: TestClient, token: str) -> None:
    resp = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert resp.status == 200, await resp.text()


def post(client: TestClient, token: str, url: str, **body: Any) -> Any:
    return client.post(url, json=body, headers={"X-CSRF-Token": token})


async def test_given_a_debtor_asking_for_an_agent_when_ana_is_ready_then_she_gets_the_chat_with_its_transcript(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    first = write(engine, seed, "hola")
    assert first.state == "bot" and [r.text for r in first.replies] == ["¡Hola! ¿En qué le ayudo?"]
    handed = write(engine, seed, "quiero hablar con un asesor", minutes=1)
    assert handed.state == "queued" and handed.handed_over == "agent"
    assert [r.status for r in handed.replies] == ["shown"]  # the portal shows it at once

    token = await login(client, "ana")
    agent = seed.users["ana"]
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await next_kind(ws, "hello")
    await ready(client, token)
    pop = await next_kind(ws, "pop")  # the console's routing loop gives it
    await ws.close()
    attempt = pop["attempt_id"]
    assert pop["account"]["name"] == "María López Hernández"
    # A chat's opening: who writes and from where; nothing said of a call or recording.
    assert (
        "Le escribo de" in pop["opening"]
        and "Esta conversación queda registrada." in pop["opening"]
    )
    assert "llamada" not in pop["opening"] and "Le llamo" not in pop["opening"]
    assert pop["chat"] is True  # the page shows and polls its transcript
    snap = await AgentStates(aredis).get(agent)
    assert (snap.state, snap.attempt_id) == (AgentState.talking, attempt)  # no call meanwhile

    chat = (await (await client.get(f"/api/agent/chat?attempt_id={attempt}")).json())["chat"]
    assert chat["channel_label"] == "Chat del portal"
    assert chat["reason_label"] == "El deudor pidió un asesor"
    assert [(m["sender"], m["text"]) for m in chat["messages"]] == [
        ("debtor", "hola"), ("assistant", "¡Hola! ¿En qué le ayudo?"),
        ("debtor", "quiero hablar con un asesor"), ("assistant", "Le comunico con un asesor."),
    ]  # fmt: skip

    resp = await post(client, token, "/api/agent/chat/reply", attempt_id=attempt,
                      text="Buenas tardes, soy Ana. ¿En qué le ayudo?")  # fmt: skip
    assert resp.status == 200
    last = chat["messages"][-1]["id"]
    newer = await (await client.get(f"/api/agent/chat?attempt_id={attempt}&after={last}")).json()
    assert [(m["sender"], m["status"]) for m in newer["chat"]["messages"]] == [("agent", "shown")]
    # The debtor writes while the agent has it: no assistant, the agent sees it.
    again = write(engine, seed, "quiero pagar en dos partes", minutes=3)
    assert again.state == "agent" and again.replies == ()

    with transaction(engine) as s:
        row = s.get(CallAttempt, attempt)
        assert row is not None
        assert (row.direction, row.channel, row.agent_id, row.account_id) == (
            "inbound", "chat", agent, seed.account_id)  # fmt: skip
        kinds = set(s.scalars(select(AuditEntry.kind)))
    whats = [e["what"] for e in timeline_for(engine, seed.account_id)]
    assert "Conversación con un agente" in whats and "Escribió un mensaje" in whats
    with transaction(engine) as s:
        assert {"chat_handover", "chat_assigned", "pii_view"} <= kinds
        # Every debtor message is a debtor-initiated contact in the ledger.
        ledger = s.scalars(select(CallAttempt).where(CallAttempt.source == "selfservice")).all()
        assert len(ledger) == 3 and all(r.direction == "inbound" for r in ledger)

    # The same identity questions and dispositions as a call.
    resp = await post(client, token, "/api/agent/verify", attempt_id=attempt, party="titular",
                      answer_full_name="maría lópez hernández", answer_account_last4="0001")  # fmt: skip
    assert resp.status == 200, await resp.text()
    resp = await post(client, token, "/api/agent/disposition", attempt_id=attempt,
                      party="titular", outcome="rehusa")  # fmt: skip
    assert resp.status == 200, await resp.text()

    def closed() -> bool:
        with transaction(engine) as s:
            c = s.scalar(select(Conversation).where(Conversation.attempt_id == attempt))
            return c is not None and c.state == "closed"

    await until(closed)
    refused = await post(client, token, "/api/agent/chat/reply", attempt_id=attempt, text="hola")
    assert refused.status == 409
    # The next message opens a new conversation with the assistant.
    assert write(engine, seed, "hola", minutes=5).state == "bot"


async def given_to_ana(engine: Engine, aredis: aioredis.Redis) -> int:
    """The chat routed (by this call or the console's own loop, whichever is first)."""
    await route_chats(engine, AgentStates(aredis), Notifier(aredis), NOW)

    def attempt() -> int | None:
        with transaction(engine) as s:
            return s.scalar(select(Conversation.attempt_id))

    await until(attempt)
    found = attempt()
    assert found is not None
    return found


async def test_given_a_chat_of_another_agent_then_neither_transcript_nor_reply(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    write(engine, seed, "asesor por favor")
    ana = seed.users["ana"]
    await AgentStates(aredis).login(ana, "mx-demo")
    await AgentStates(aredis).set_ready(ana)
    attempt = await given_to_ana(engine, aredis)
    token = await login(client, "beto")
    # Ana's chat answers Beto exactly as an id that does not exist: no probing of ids.
    answers = []
    for probe in (attempt, 99999999):
        read = await client.get(f"/api/agent/chat?attempt_id={probe}")
        resp = await post(client, token, "/api/agent/chat/reply", attempt_id=probe, text="hola")
        answers.append((read.status, await read.json(), resp.status, await resp.json()))
    refusal = {"ok": False, "reason": "Esa conversación no existe o no es suya."}
    assert answers == [(404, refusal, 404, refusal)] * 2
    with transaction(engine) as s:
        assert "hola" not in [
            m["text"] for m in conv.transcript(s, s.scalar(select(Conversation.id)) or 0)
        ]


async def test_given_bad_replies_then_4xx_with_a_reason_and_nothing_stored(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    write(engine, seed, "asesor")
    ana = seed.users["ana"]
    await AgentStates(aredis).login(ana, "mx-demo")
    await AgentStates(aredis).set_ready(ana)
    attempt = await given_to_ana(engine, aredis)
    token = await login(client, "ana")
    for body, status, reason in [
        ({"attempt_id": attempt, "text": "   "}, 400, "Escriba un mensaje."),
        ({"attempt_id": attempt, "text": "x" * 1001}, 400,
         "El mensaje es demasiado largo (máximo 1000 caracteres)."),
        ({"attempt_id": attempt, "text": "\x00\x1b\u200b"}, 400, "Escriba un mensaje."),
        ({"attempt_id": "1 OR 1=1", "text": "hola"}, 400, None),
        ({"attempt_id": 99999999, "text": "hola"}, 404, "Esa conversación no existe o no es suya."),
    ]:  # fmt: skip
        resp = await post(client, token, "/api/agent/chat/reply", **body)
        assert resp.status == status, (body, await resp.text())
        if reason:
            assert (await resp.json())["reason"] == reason
    for query in ("attempt_id=abc", "attempt_id=", "attempt_id=1&after=-5"):
        assert (await client.get(f"/api/agent/chat?{query}")).status in (400, 404)
    # "²" is a digit to str.isdigit() and none to int(): it was a 500.
    assert (await client.get(f"/api/agent/chat?attempt_id={attempt}&after=²")).status == 200
    with transaction(engine) as s:
        assert (
            conv.transcript(s, s.scalar(select(Conversation.id)) or 0)[-1]["sender"] == "assistant"
        )


async def test_given_a_skill_group_then_its_agent_gets_the_chat_before_the_campaigns(
    seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    with transaction(engine) as s:
        group = SkillGroup(name="chat-es")
        s.add(group)
        s.flush()
        s.add(Member(group_id=group.id, user_id=seed.users["beto"]))
        campaign = s.get(Campaign, seed.campaign_id)
        assert campaign is not None
        campaign.config = {**campaign.config, "inbound": {"skill_group": "chat-es"}}
    handed = write(engine, seed, "asesor", channel="sms", address="+525512340001")
    with transaction(engine) as s:
        assert [q.skill_group for q in conv.queued(s)] == ["chat-es"]
    states = AgentStates(aredis)
    for name in ("ana", "beto"):
        await states.login(seed.users[name], "mx-demo")
    await states.set_ready(seed.users["ana"])  # ana has waited longest
    await states.set_ready(seed.users["beto"])
    assert await route_chats(engine, states, Notifier(aredis), NOW) == 1
    with transaction(engine) as s:
        c = s.get(Conversation, handed.conversation_id)
        assert c is not None and c.agent_id == seed.users["beto"]
        row = s.get(CallAttempt, c.attempt_id)
        assert row is not None and (row.channel, row.phone_e164) == ("sms", "+525512340001")
    assert (await states.get(seed.users["ana"])).state is AgentState.ready


async def test_given_no_ready_agent_then_the_chat_waits_and_a_paused_agent_gets_nothing(
    seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    write(engine, seed, "asesor")
    states = AgentStates(aredis)
    await states.login(seed.users["ana"], "mx-demo")  # logged in paused
    assert await route_chats(engine, states, Notifier(aredis), NOW) == 0
    with transaction(engine) as s:
        assert len(conv.queued(s)) == 1
        assert s.scalars(select(CallAttempt).where(CallAttempt.source == "chat")).all() == []


async def test_given_an_agent_reserved_by_a_call_meanwhile_then_the_chat_goes_back_to_the_queue(
    seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    write(engine, seed, "asesor")
    states = AgentStates(aredis)
    ana = seed.users["ana"]
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)

    class CallFirst(AgentStates):
        async def reserve(self, agent_id: int, attempt_id: int) -> bool:
            await super().reserve(agent_id, 424242)  # the dialer's call wins the race
            return await super().reserve(agent_id, attempt_id)

    assert await route_chats(engine, CallFirst(aredis), Notifier(aredis), NOW) == 0
    with transaction(engine) as s:
        assert len(conv.queued(s)) == 1
        row = s.scalars(select(CallAttempt).where(CallAttempt.source == "chat")).one()
        assert (row.result, row.agent_id) == ("not_placed", None)  # no contact, no attempt
    assert json.loads(json.dumps((await states.get(ana)).as_dict()))["attempt_id"] == 424242


async def test_given_an_agent_in_a_chat_then_the_wallboard_says_so_and_nobody_can_listen_in(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    write(engine, seed, "asesor por favor")
    ana = seed.users["ana"]
    await AgentStates(aredis).login(ana, "mx-demo")
    await AgentStates(aredis).set_ready(ana)
    await given_to_ana(engine, aredis)
    token = await login(client, "sofia")
    board = await (await client.get("/api/wallboard?campaign=mx-demo")).json()
    (row,) = [a for a in board["agents"] if a["agent_id"] == ana]
    assert row["state"] == "talking" and row["on_chat"] is True
    # Listening needs a call: the supervisor is told why, and no command is sent.
    resp = await post(client, token, "/api/supervisor/monitor", agent_id=ana, mode="listen")
    assert resp.status == 409
    assert "chat" in (await resp.json())["reason"]


async def test_given_an_agent_on_a_call_then_the_wallboard_does_not_call_it_a_chat(
    client: TestClient, seed: Seed, aredis: aioredis.Redis
) -> None:
    ana = seed.users["ana"]
    states = AgentStates(aredis)
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)
    assert await states.reserve(ana, 424242)
    await states.talking(ana, 424242)
    await login(client, "sofia")
    board = await (await client.get("/api/wallboard?campaign=mx-demo")).json()
    (row,) = [a for a in board["agents"] if a["agent_id"] == ana]
    assert row["state"] == "talking" and row["on_chat"] is False
