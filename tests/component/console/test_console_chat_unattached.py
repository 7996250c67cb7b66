"""A chat from a number that names no single account, once handed over: routed to a
ready agent (the candidates' campaign when they share one, else anyone ready), popped
with the transcript and the candidate accounts by name only; the agent attaches it to
the account the debtor's answers match (audited), or closes it without an account."""

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

from console.chat_queue import route_chats, waiting_chats
from dialer.agent_state import AgentState, AgentStates
from dialer.messages import Notifier
from selfservice.chat_service import ChatService, Handled, Incoming
from store.db import transaction
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Campaign,
    Conversation,
    Phone,
    SkillGroup,
)
from store.models import SkillGroupMember as Member

SHARED = "+525512349999"  # María's and Juan's number


def share_number(engine: Engine, seed: Seed, number: str = SHARED) -> None:
    with transaction(engine) as s:
        for account_id in (seed.account_id, seed.other_account_id):
            s.add(Phone(account_id=account_id, number_e164=number, position=2))


def ask_for_agent(engine: Engine, number: str = SHARED) -> Handled:
    """An SMS from the number: it names no single account (reply_handler's sole_account)."""
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    chat.handle(Incoming("sms", number, "hola", NOW - timedelta(minutes=1)))
    return chat.handle(Incoming("sms", number, "quiero un asesor", NOW))


def post(client: TestClient, token: str, url: str, **body: Any) -> Any:
    return client.post(url, json=body, headers={"X-CSRF-Token": token})


async def next_kind(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of `kind` on the agent's socket, bounded like every wait (10 s
    of wall time, its bound before, is a deadline a loaded machine can miss)."""

    async def next_one() -> dict[str, Any]:
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind:
                return dict(msg)

    return await within(next_one(), f"a {kind!r} message on the agent's socket")


async def popped_to_ana(client: TestClient, seed: Seed) -> tuple[str, dict[str, Any]]:
    token = await login(client, "ana")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await next_kind(ws, "hello")
    resp = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert resp.status == 200, await resp.text()
    pop = await next_kind(ws, "inbound")  # the console's routing loop gives it
    await ws.close()
    return token, pop


def audit_kinds(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    with transaction(engine) as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.kind, json.loads(e.payload)) for e in rows]


async def test_given_a_shared_number_then_a_names_only_pop_and_a_verified_answer_attaches_it(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    share_number(engine, seed)
    handed = ask_for_agent(engine)
    assert handed.state == "queued"
    token, pop = await popped_to_ana(client, seed)
    attempt = pop["attempt_id"]
    assert (pop["direction"], pop["label"]) == ("chat", "Conversación sin cuenta")
    # Names and masked references only: nothing about the debt before the agent verifies.
    assert [c["name"] for c in pop["candidates"]] == ["María López Hernández", "Juan Pérez"]
    assert all(set(c) == {"account_id", "name", "ref", "prompts"} for c in pop["candidates"])
    assert "12500" not in str(pop) and "12,500" not in str(pop)
    assert pop["verify_url"] == "/api/agent/chat/attach"
    assert [c["code"] for c in pop["closings"]][0] == "no_identificado"
    assert ("pii_view", "chat_pop") in [(k, p.get("page")) for k, p in audit_kinds(engine)]
    snap = await AgentStates(aredis).get(seed.users["ana"])
    assert (snap.state, snap.attempt_id) == (AgentState.talking, attempt)

    # The transcript is there while the agent asks the verification questions.
    chat = (await (await client.get(f"/api/agent/chat?attempt_id={attempt}")).json())["chat"]
    assert [m["text"] for m in chat["messages"] if m["sender"] == "debtor"] == [
        "hola", "quiero un asesor"]  # fmt: skip
    assert chat["reason_label"] == "El deudor pidió un asesor"

    # A wrong answer opens nothing; the check is evidence.
    resp = await post(client, token, "/api/agent/chat/attach", attempt_id=attempt,
                      account_id=seed.account_id, answer_account_last4="9999")  # fmt: skip
    assert resp.status == 422
    with transaction(engine) as s:
        c = s.get(Conversation, handed.conversation_id)
        assert c is not None and c.account_id is None
    # The right one attaches the chat to María's account and opens it.
    resp = await post(client, token, "/api/agent/chat/attach", attempt_id=attempt,
                      account_id=seed.account_id, answer_account_last4="0001")  # fmt: skip
    assert resp.status == 200, await resp.text()
    opened = (await resp.json())["pop"]
    assert opened["account"]["name"] == "María López Hernández"
    assert opened["direction"] == "chat" and opened["attempt_id"] == attempt
    with transaction(engine) as s:
        c = s.get(Conversation, handed.conversation_id)
        row = s.get(CallAttempt, attempt)
        assert c is not None and row is not None
        assert (c.account_id, c.campaign_id, row.account_id) == (
            seed.account_id, seed.campaign_id, seed.account_id)  # fmt: skip
    kinds = audit_kinds(engine)
    assert ("identity_check", False) in [(k, p.get("passed")) for k, p in kinds]
    assert ("identity_check", True) in [(k, p.get("passed")) for k, p in kinds]
    [attached] = [p for k, p in kinds if k == "chat_attached"]
    assert (attached["account_id"], attached["attempt_id"]) == (seed.account_id, attempt)
    # Attached: no second attachment, no closing without an account; the disposition.
    again = await post(client, token, "/api/agent/chat/attach", attempt_id=attempt,
                       account_id=seed.other_account_id, answer_account_last4="0002")  # fmt: skip
    assert again.status == 409
    closing = await post(client, token, "/api/agent/chat/close", attempt_id=attempt,
                         closing="no_identificado")  # fmt: skip
    assert closing.status == 409
    resp = await post(client, token, "/api/agent/disposition", attempt_id=attempt,
                      party="titular", outcome="rehusa")  # fmt: skip
    assert resp.status == 200, await resp.text()

    def closed() -> bool:
        with transaction(engine) as s:
            c = s.get(Conversation, handed.conversation_id)
            return c is not None and c.state == "closed"

    await until(closed)


async def test_given_an_unattached_chat_then_it_is_closed_without_an_account(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    handed = ask_for_agent(engine, "+525599990000")  # a number no account has
    token, pop = await popped_to_ana(client, seed)
    attempt = pop["attempt_id"]
    assert pop["candidates"] == [] and pop["search"] is True
    for body, status in [
        ({"attempt_id": attempt, "closing": "pago"}, 400),  # a disposition that needs an account
        ({"attempt_id": attempt}, 400),
        ({"attempt_id": "x", "closing": "no_es_deudor"}, 400),
        ({"attempt_id": 99999999, "closing": "no_es_deudor"}, 404),
    ]:
        resp = await post(client, token, "/api/agent/chat/close", **body)
        assert resp.status == status, (body, await resp.text())
        assert (await resp.json())["reason"]
    # Beto cannot close nor attach Ana's chat, and hears what a missing id gets.
    beto = await login(client, "beto")
    answers = []
    for probe in (attempt, 99999999):
        closing = await post(client, beto, "/api/agent/chat/close", attempt_id=probe,
                             closing="no_es_deudor")  # fmt: skip
        attach = await post(client, beto, "/api/agent/chat/attach", attempt_id=probe,
                            account_id=seed.account_id, answer_account_last4="0001")  # fmt: skip
        answers.append((closing.status, await closing.json(), attach.status, await attach.json()))
    refusal = {"ok": False, "reason": "Esa conversación no existe o no es suya."}
    assert answers == [(404, refusal, 404, refusal)] * 2
    assert not [k for k, _ in audit_kinds(engine) if k in ("identity_check", "chat_attached")]
    token = await login(client, "ana")
    resp = await post(client, token, "/api/agent/chat/close", attempt_id=attempt,
                      closing="no_es_deudor")  # fmt: skip
    assert resp.status == 200, await resp.text()
    with transaction(engine) as s:
        c = s.get(Conversation, handed.conversation_id)
        row = s.get(CallAttempt, attempt)
        assert c is not None and row is not None
        assert (c.state, c.close_reason, c.account_id) == ("closed", "agent", None)
        assert row.details["closing"] == "no_es_deudor" and row.ended_at is not None
    [closed] = [p for k, p in audit_kinds(engine) if k == "chat_closed"]
    assert closed["closing"] == "no_es_deudor"
    assert (await AgentStates(aredis).get(seed.users["ana"])).state is AgentState.wrap_up
    resp = await post(client, token, "/api/agent/chat/close", attempt_id=attempt,
                      closing="no_es_deudor")  # fmt: skip
    assert resp.status == 409  # over already


async def test_given_three_wrong_answers_in_a_chat_then_the_right_one_does_not_attach(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """Whoever writes from a shared number cannot have the agent try the digits until
    one fits: the same cap per conversation as on a call."""
    share_number(engine, seed)
    ask_for_agent(engine)
    token, pop = await popped_to_ana(client, seed)
    statuses = []
    for guess in ("1111", "2222", "3333", "0001"):
        resp = await post(client, token, "/api/agent/chat/attach", attempt_id=pop["attempt_id"],
                          account_id=seed.account_id, answer_account_last4=guess)  # fmt: skip
        statuses.append(resp.status)
    assert statuses == [422, 422, 422, 429]
    assert "chat_attached" not in [k for k, _ in audit_kinds(engine)]


async def test_given_an_account_not_among_the_candidates_then_not_attached(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    with transaction(engine) as s:
        s.add(Phone(account_id=seed.account_id, number_e164=SHARED, position=2))
        stranger = Account(external_ref="MX-0003", debtor_name="Otro Deudor", country="MX",
                           balance=1, currency="MXN", campaign_id=seed.campaign_id)  # fmt: skip
        stranger.phones.append(Phone(number_e164=SHARED, position=1))
        s.add(stranger)
    ask_for_agent(engine)
    token, pop = await popped_to_ana(client, seed)
    resp = await post(client, token, "/api/agent/chat/attach", attempt_id=pop["attempt_id"],
                      account_id=seed.other_account_id, answer_account_last4="0002")  # fmt: skip
    assert resp.status == 403
    assert "chat_attached" not in [k for k, _ in audit_kinds(engine)]


@pytest.mark.parametrize("same_campaign", [True, False])
async def test_given_candidates_then_routed_by_their_campaign_or_to_anyone_ready(
    seed: Seed, engine: Engine, aredis: aioredis.Redis, same_campaign: bool
) -> None:
    with transaction(engine) as s:
        group = SkillGroup(name="chat-es")
        s.add(group)
        s.flush()
        s.add(Member(group_id=group.id, user_id=seed.users["beto"]))
        campaign = s.get(Campaign, seed.campaign_id)
        assert campaign is not None
        campaign.config = {**campaign.config, "inbound": {"skill_group": "chat-es"}}
        other = Campaign(name="co-demo", country="CO", profile="CO")
        s.add(other)
        s.flush()
        if not same_campaign:
            juan = s.get(Account, seed.other_account_id)
            assert juan is not None
            juan.campaign_id = other.id
    share_number(engine, seed)
    ask_for_agent(engine)
    [waiting] = waiting_chats(engine)
    assert waiting.account_id is None
    assert set(waiting.candidates) == {seed.account_id, seed.other_account_id}
    states = AgentStates(aredis)
    await states.login(seed.users["ana"], "co-demo" if same_campaign else "mx-demo")
    await states.login(seed.users["beto"], "co-demo")
    await states.set_ready(seed.users["ana"])  # ana has waited longest
    await states.set_ready(seed.users["beto"])
    assert await route_chats(engine, states, Notifier(aredis), NOW) == 1
    with transaction(engine) as s:
        c = s.scalars(select(Conversation)).one()
        row = s.get(CallAttempt, c.attempt_id)
        assert row is not None and row.account_id is None
        if same_campaign:
            # The campaign's skill group first (beto), its verification prompts.
            assert (waiting.campaign, waiting.skill_group) == ("mx-demo", "chat-es")
            assert c.agent_id == seed.users["beto"] and row.campaign_id == seed.campaign_id
        else:
            # No campaign routes it: any ready agent at once, longest idle first.
            assert (waiting.campaign, waiting.skill_group) == ("", None)
            assert c.agent_id == seed.users["ana"] and row.campaign_id is None


async def test_given_an_account_found_by_search_then_the_chat_may_be_attached_to_it(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    handed = ask_for_agent(engine, "+525599990000")  # a number no account has
    token, pop = await popped_to_ana(client, seed)
    attempt = pop["attempt_id"]
    token = await login(client, "ana")
    found = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0002")
    assert found.status == 200, await found.text()
    assert [a["name"] for a in (await found.json())["accounts"]] == ["Juan Pérez"]
    # Found by the reference the debtor typed: its last digits prove nothing, the
    # debtor's full name is asked instead (console/inbound_service.proof_prompts).
    echoed = await post(client, token, "/api/agent/chat/attach", attempt_id=attempt,
                        account_id=seed.other_account_id, answer_account_last4="0002")  # fmt: skip
    assert echoed.status == 422, await echoed.text()
    resp = await post(client, token, "/api/agent/chat/attach", attempt_id=attempt,
                      account_id=seed.other_account_id, answer_full_name="Juan Pérez")  # fmt: skip
    assert resp.status == 200, await resp.text()
    with transaction(engine) as s:
        c = s.get(Conversation, handed.conversation_id)
        assert c is not None and c.account_id == seed.other_account_id


async def test_given_a_page_reloaded_during_an_unattached_chat_then_its_names_only_pop_comes_back(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    share_number(engine, seed)
    ask_for_agent(engine)
    token, pop = await popped_to_ana(client, seed)
    attempt = pop["attempt_id"]
    # What the page reads on load (agent.js): the same pop, names only, audited again.
    current = (await (await client.get("/api/agent/current")).json())["pop"]
    assert (current["type"], current["direction"], current["attempt_id"]) == (
        "inbound", "chat", attempt)  # fmt: skip
    assert current["candidates"] == pop["candidates"]
    assert (current["verify_url"], current["closings"]) == (pop["verify_url"], pop["closings"])
    assert "12500" not in str(current) and "12,500" not in str(current)
    views = [p for k, p in audit_kinds(engine) if k == "pii_view" and p.get("page") == "chat_pop"]
    assert len(views) == 2
    # Another agent's reload shows nothing of it.
    await login(client, "beto")
    assert (await (await client.get("/api/agent/current")).json())["pop"] is None
    # Ana again: attached, her reload shows the account's pop; closed, nothing.
    token = await login(client, "ana")
    resp = await post(client, token, "/api/agent/chat/attach", attempt_id=attempt,
                      account_id=seed.account_id, answer_account_last4="0001")  # fmt: skip
    assert resp.status == 200, await resp.text()
    current = (await (await client.get("/api/agent/current")).json())["pop"]
    assert (current["attempt_id"], current["account"]["name"]) == (attempt, "María López Hernández")


async def test_given_an_unattached_chat_closed_then_a_reload_shows_no_pop(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    share_number(engine, seed)
    ask_for_agent(engine)
    token, pop = await popped_to_ana(client, seed)
    resp = await post(client, token, "/api/agent/chat/close", attempt_id=pop["attempt_id"],
                      closing="no_identificado")  # fmt: skip
    assert resp.status == 200, await resp.text()
    assert (await (await client.get("/api/agent/current")).json())["pop"] is None
