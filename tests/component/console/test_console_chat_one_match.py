"""A chat (WhatsApp, SMS) from a number that names one account reaches the agent with
that account, and its person is verified as an inbound caller is: the document's last
4 digits where on file, not the name and the reference's last 4 digits printed on every
letter; its wrong answers count toward the account's lock over every call and chat."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine, select
from support.chat_standins import StandInActions, StandInAssistant
from support.inbound_support import ready_then_pop, withheld_call

from cobrador.ground.settings import Settings
from console import verify_lock
from console.app import init_app
from console.identity import chat_prompts
from selfservice.chat_service import ChatService, Incoming
from selfservice.identity import import_identities, reference_gate
from store.db import transaction
from store.models import Account, AuditEntry, Campaign, PortalGate

KEY = b"k" * 32
JUANS_NUMBER = "+525512340002"  # Juan's only, in the seed
DOCUMENT = "document_last4"
LOCKED = "Verificación bloqueada"


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Callable[[], datetime],
) -> TestClient:  # fmt: skip
    keyed = settings.with_overrides(portal_identity_key=base64.b64encode(KEY).decode())
    return await aiohttp_client(init_app(keyed, engine, aredis, clock=clock))


def juans_document_on_file(engine: Engine) -> None:
    assert import_identities(engine, [(1, "MX-0002", "PEJU800101HDFRRN07")], KEY, "test",
                             NOW).stored == 1  # fmt: skip


def hand_over(engine: Engine, seed: Seed, channel: str) -> None:
    """Juan writes from his number and asks for an agent: the chat names his account."""
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    for minutes, text in ((0, "hola"), (1, "quiero hablar con un asesor")):
        chat.handle(Incoming(channel, JUANS_NUMBER, text, NOW + timedelta(minutes=minutes),
                             account_id=seed.other_account_id, campaign_id=seed.campaign_id))  # fmt: skip


def codes(pop: dict[str, Any], party: str) -> list[str]:
    return [p["code"] for p in pop["verification"][party]]


async def answer(client: TestClient, token: str, attempt: int, party: str,
                 **fields: str) -> ClientResponse:  # fmt: skip
    return await client.post("/api/agent/verify", headers={"X-CSRF-Token": token}, json={
        "attempt_id": attempt, "party": party,
        **{f"answer_{k}": v for k, v in fields.items()}})  # fmt: skip


def wrong_answers(engine: Engine, account_id: int) -> tuple[int, int]:
    """The wrong answers counted on the account's document (verify_lock: the portal's row)."""
    with transaction(engine) as s:
        row = s.get(PortalGate, reference_gate(account_id))
        return (row.failures, row.total_failures) if row is not None else (0, 0)


@pytest.mark.parametrize("channel", ["whatsapp", "sms"])
async def test_given_a_chat_from_a_one_match_number_then_the_document_is_asked_not_the_letters_data(
    client: TestClient, seed: Seed, engine: Engine, channel: str
) -> None:
    juans_document_on_file(engine)
    hand_over(engine, seed, channel)
    token = await login(client, "ana")

    pop = await ready_then_pop(client, token, "pop")

    assert pop["direction"] == "chat" and pop["verified"] is None
    assert codes(pop, "titular") == codes(pop, "aval") == [DOCUMENT]
    assert pop["verification"]["titular"][0]["label"] == (
        "Últimos 4 dígitos del documento (INE, cédula, DNI)")  # fmt: skip
    assert pop["verification"]["aval"][0]["label"] == (
        "Últimos 4 dígitos del documento del titular (INE, cédula, DNI)")  # fmt: skip
    # A page reloaded during the chat asks the same.
    again = (await (await client.get("/api/agent/current")).json())["pop"]
    assert codes(again, "titular") == codes(again, "aval") == [DOCUMENT]
    attempt = pop["attempt_id"]
    # The name and the reference's last 4 digits, printed on every letter, open nothing.
    for party in ("titular", "aval"):
        refused = await answer(client, token, attempt, party, full_name="Juan Pérez",
                               account_last4="0002")  # fmt: skip
        assert refused.status == 422, await refused.text()
        assert "no coinciden" in (await refused.json())["reason"]
    # ...and count toward the account's lock over every call and chat.
    assert wrong_answers(engine, seed.other_account_id) == (2, 2)
    right = await answer(client, token, attempt, "titular", document_last4="01-07")
    assert right.status == 200, await right.text()
    opened = (await right.json())["pop"]
    assert opened["verified"] == "titular" and opened["account"]["balance_display"]
    assert wrong_answers(engine, seed.other_account_id) == (0, 0)  # a right answer clears them
    with transaction(engine) as s:
        entries = [json.loads(p) for p in s.scalars(select(AuditEntry.payload).where(
            AuditEntry.kind == "identity_check").order_by(AuditEntry.id))]  # fmt: skip
    assert [(e["party"], e["prompts"], e["passed"]) for e in entries] == [
        ("titular", [DOCUMENT], False), ("aval", [DOCUMENT], False), ("titular", [DOCUMENT], True)]  # fmt: skip


async def test_given_a_chat_and_a_call_on_one_account_then_their_wrong_answers_lock_it_together(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    juans_document_on_file(engine)
    hand_over(engine, seed, "whatsapp")
    token = await login(client, "ana")
    attempt = (await ready_then_pop(client, token, "pop"))["attempt_id"]
    for guess in ("1111", "2222"):
        assert (await answer(client, token, attempt, "titular", document_last4=guess)).status == 422
    # Beto, on a call from a withheld number, finds Juan's account by his number and
    # hears one more wrong answer: the third on the account, which locks it.
    beto = TestClient(client.server)
    await beto.start_server()  # the running server: nothing started
    try:
        beto_token = await login(beto, "beto")
        call = await withheld_call(engine, aredis, seed.campaign_id, seed.users["beto"], NOW)
        found = await beto.get(f"/api/agent/inbound/search?attempt_id={call}&q=5512340002")
        assert found.status == 200, await found.text()
        wrong = await beto.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": beto_token},
                                json={"attempt_id": call, "account_id": seed.other_account_id,
                                      "answer_document_last4": "3333"})  # fmt: skip
        assert wrong.status == 422, await wrong.text()
    finally:
        await beto._session.close()  # not beto.close(): that would stop the shared server
    # The chat's right answer is no longer compared: locked, with the reason.
    locked = await answer(client, token, attempt, "titular", document_last4="0107")
    assert locked.status == 423
    assert LOCKED in (await locked.json())["reason"]
    with transaction(engine) as s:
        last = json.loads(s.scalars(select(AuditEntry.payload).where(
            AuditEntry.kind == "identity_check").order_by(AuditEntry.id.desc()).limit(1)).one())  # fmt: skip
    assert (last["refused"], last["passed"], last["failed"]) == ("account_locked", False, [])


async def test_given_a_chat_whose_account_has_no_document_then_its_party_questions_as_before(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    hand_over(engine, seed, "sms")
    token = await login(client, "ana")
    pop = await ready_then_pop(client, token, "pop")
    assert codes(pop, "titular") == ["full_name", "account_last4"]
    right = await answer(client, token, pop["attempt_id"], "titular", full_name="juan pérez",
                         account_last4="0002")  # fmt: skip
    assert right.status == 200, await right.text()


async def test_given_a_pass_on_the_letters_data_then_the_accounts_wrong_answers_stay(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """A right answer to what a letter prints (the reference's last 4 digits, the
    inbound call's default question for an account without a document) cleared the
    account's wrong answers over every call and chat: a guesser at the birth date (the
    campaign's party question, asked in a chat from the debtor's number) guessed twice,
    called in and passed with a letter, and guessed twice again, for ever (never
    locked, never held for a supervisor). Such a pass proves nothing to clear them
    with: the third wrong birth date still locks the account."""
    with transaction(engine) as s:
        campaign = s.get(Campaign, seed.campaign_id)
        juan = s.get(Account, seed.other_account_id)
        assert campaign is not None and juan is not None
        campaign.config = {**campaign.config, "verification": ["birth_date"]}
        juan.custom_fields = {"birth_date": "1980-01-01"}
    hand_over(engine, seed, "sms")
    token = await login(client, "ana")
    pop = await ready_then_pop(client, token, "pop")
    assert codes(pop, "titular") == ["birth_date"]
    chat = pop["attempt_id"]
    for born in ("1970-01-01", "1971-01-01"):
        assert (await answer(client, token, chat, "titular", birth_date=born)).status == 422
    beto = TestClient(client.server)
    await beto.start_server()  # the running server: nothing started
    try:
        beto_token = await login(beto, "beto")
        call = await withheld_call(engine, aredis, seed.campaign_id, seed.users["beto"], NOW)
        found = await beto.get(f"/api/agent/inbound/search?attempt_id={call}&q=5512340002")
        assert found.status == 200, await found.text()
        letter = await beto.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": beto_token},
                                 json={"attempt_id": call, "account_id": seed.other_account_id,
                                       "answer_account_last4": "0002"})  # fmt: skip
        assert letter.status == 200, await letter.text()  # the call is the titular's
    finally:
        await beto._session.close()  # not beto.close(): that would stop the shared server
    with transaction(engine) as s:
        row = s.get(PortalGate, verify_lock.account_gate(seed.other_account_id))
        assert row is not None and (row.failures, row.total_failures) == (2, 2)
    assert (await answer(client, token, chat, "titular", birth_date="1972-01-01")).status == 422
    with transaction(engine) as s:  # the third wrong answer locked the account
        assert verify_lock.locked_in(s, seed.other_account_id, NOW)


async def test_given_a_campaign_that_chose_its_inbound_questions_then_a_one_match_chat_is_asked_them(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """A chat from a number is an inbound contact: a campaign that chose the birth date
    for its callers had its one-match chats asked the outbound party questions instead
    (the name and the reference's digits, printed on every letter), which a letter
    passed. They are asked the inbound questions now."""
    with transaction(engine) as s:
        campaign = s.get(Campaign, seed.campaign_id)
        juan = s.get(Account, seed.other_account_id)
        assert campaign is not None and juan is not None
        campaign.config = {**campaign.config, "inbound": {"verification": ["birth_date"]}}
        juan.custom_fields = {"birth_date": "1980-01-01"}
    hand_over(engine, seed, "whatsapp")
    token = await login(client, "ana")
    pop = await ready_then_pop(client, token, "pop")
    assert codes(pop, "titular") == codes(pop, "aval") == ["birth_date"]
    chat = pop["attempt_id"]
    letter = await answer(client, token, chat, "titular", full_name="Juan Pérez",
                          account_last4="0002")  # fmt: skip
    assert letter.status == 422
    right = await answer(client, token, chat, "titular", birth_date="1980-01-01")
    assert right.status == 200, await right.text()


def test_given_a_chats_config_then_the_document_unless_the_campaign_chose_its_questions():
    assert chat_prompts({}, "titular", True) == (DOCUMENT,)
    assert chat_prompts({}, "aval", True) == (DOCUMENT,)
    assert chat_prompts({}, "titular", False) == ("full_name", "account_last4")
    chosen = {"inbound": {"verification": ["birth_date"]}, "verification": ["postal_code"]}
    # A chat is an inbound contact: the campaign's inbound questions, document or not.
    assert chat_prompts(chosen, "titular", True) == ("birth_date",)
    assert chat_prompts(chosen, "aval", False) == ("birth_date",)
    # Neither chosen nor a document: the party's questions.
    assert chat_prompts({"verification": ["postal_code"]}, "titular", False) == ("postal_code",)
