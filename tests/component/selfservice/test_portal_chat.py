"""The portal's chat box through the console app, with the real assistant and debtor
actions (the console builds them at start-up): the verified session names the account,
never a form field; the transcript shows the debtor's, the assistant's and the agent's
lines with times in the debtor's zone; "quiero hablar con un asesor" hands over; an
agent's reply reaches the page (and its poll); every bad input is refused on the page
with a reason (400, 429, 503) and nothing is stored."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.selfservice_seed import DIGITS, IDENTITY_KEY, LINK_SECRET, NOW, PortalSeed, seed_portal

from cobrador.ground.settings import Settings
from console.app import init_app
from console.chat_queue import Waiting, assign, close_dispositioned
from console.chat_views import agent_reply
from console.keys import CHAT
from console.users import CurrentUser
from outreach.links import LinkSigner
from selfservice import conversations as conv
from selfservice.chat_sender import pending_ids
from store.db import transaction
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Conversation,
    ConversationMessage,
    Disposition,
    Role,
    User,
)

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
SIGNER = LinkSigner("https://pagos.example.mx/p", LINK_SECRET)
LINES = re.compile(r'<span class="chat-text">([^<]*)</span>')


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    return seed_portal(engine)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def web(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed, clock: Clock,
) -> TestClient:  # fmt: skip
    settings = settings.with_overrides(
        portal_link_secret=base64.b64encode(LINK_SECRET).decode(),
        portal_identity_key=base64.b64encode(IDENTITY_KEY).decode(),
    )
    return await aiohttp_client(init_app(settings, engine, aredis, clock=clock))


async def csrf(client: TestClient, path: str) -> str:
    match = CSRF.search(await (await client.get(path)).text())
    assert match, path
    return match.group(1)


async def enter(client: TestClient, account_id: int) -> None:
    tok = SIGNER.token(account_id, NOW)
    form = {"digits": DIGITS, "_csrf": await csrf(client, f"/p/{tok}")}
    resp = await client.post(f"/p/{tok}", data=form, allow_redirects=False)
    assert resp.status == 303


async def write(client: TestClient, text: str, **extra: str) -> Any:
    form = {"text": text, "_csrf": await csrf(client, "/p/cuenta/chat"), **extra}
    return await client.post("/p/cuenta/chat", data=form, allow_redirects=False)


async def lines(client: TestClient, path: str = "/p/cuenta/chat") -> list[str]:
    return LINES.findall(await (await client.get(path)).text())


def plain(text: str) -> str:
    """babel's narrow spaces (before "a.m.") read as spaces."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def conversations(engine: Engine) -> list[Conversation]:
    with Session(engine) as s:
        return list(s.scalars(select(Conversation).order_by(Conversation.id)))


def debtor_messages(engine: Engine) -> int:
    with Session(engine) as s:
        return len(s.scalars(select(ConversationMessage.id).where(
            ConversationMessage.sender == "debtor")).all())  # fmt: skip


def agent_takes(
    engine: Engine, seeded: PortalSeed, conversation_id: int
) -> tuple[CurrentUser, int]:
    """The chat queue gives the conversation to an agent (console/chat_queue.assign)."""
    with transaction(engine) as s:
        user = User(username="ana", display_name="Ana", role="agent", password_hash="x")
        s.add(user)
        s.flush()
        agent = CurrentUser(user.id, "ana", "Ana", Role.agent, None)
        queued = next(q for q in conv.queued(s) if q.conversation_id == conversation_id)
    attempt_id = assign(engine, Waiting(queued, seeded.account_id, seeded.campaign), agent.id, NOW)
    assert attempt_id is not None
    return agent, attempt_id


async def test_given_a_verified_session_when_the_debtor_asks_the_balance_then_the_assistant_answers_from_the_account(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    account_page = await (await web.get("/p/cuenta")).text()
    assert 'href="/p/cuenta/chat"' in account_page and "Pronto podrá" not in account_page
    empty = await web.get("/p/cuenta/chat")
    assert empty.status == 200 and "Aún no hay mensajes" in await empty.text()
    assert empty.headers["Cache-Control"] == "no-store"

    resp = await write(web, "cuanto debo")
    assert resp.status == 303 and resp.headers["Location"].startswith("/p/cuenta/chat")
    page = plain(await (await web.get("/p/cuenta/chat")).text())
    said = LINES.findall(page)
    assert said[0] == "cuanto debo" and "$6,000.00" in said[1]
    # Each line says who wrote it and when, in the debtor's zone, in Spanish.
    assert "Usted · mar 24 de nov, 11:00 (Ciudad de México)" in page
    assert "Asistente · mar 24 de nov, 11:00 (Ciudad de México)" in page
    [c] = conversations(engine)
    assert (c.channel, c.account_id, c.campaign_id, c.state) == (
        "chat", seeded.account_id, seeded.campaign_id, "bot")  # fmt: skip
    assert c.address.startswith("portal:")
    with Session(engine) as s:  # a debtor-initiated contact in the ledger, PII views audited
        kinds = [(a.details or {}).get("debtor_action") for a in s.scalars(select(CallAttempt))]
        views = s.scalars(select(AuditEntry.payload).where(AuditEntry.kind == "pii_view")).all()
    assert "message" in kinds
    assert any("portal_chat" in str(v) for v in views)


async def test_given_an_account_zoned_by_its_region_only_then_the_lines_are_on_its_clock(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    with transaction(engine) as s:
        account = s.get(Account, seeded.account_id)
        assert account is not None
        account.region, account.timezone = "ROO", None  # Quintana Roo: Cancún, by region
    await enter(web, seeded.account_id)
    await write(web, "cuanto debo")
    page = plain(await (await web.get("/p/cuenta/chat")).text())
    # 17:00 UTC is 12:00 in Cancún; the chat read no region and showed UTC's 17:00,
    # where the account page showed Cancún's clock.
    assert "Usted · mar 24 de nov, 12:00 (Cancún)" in page
    assert "(UTC)" not in page


async def test_given_the_debtor_asks_for_an_agent_when_one_replies_then_the_reply_shows_on_the_page_and_its_poll(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    await write(web, "quiero hablar con un asesor")
    [c] = conversations(engine)
    assert (c.state, c.handover_reason) == ("queued", "agent")
    page = await (await web.get("/p/cuenta/chat")).text()
    assert "Un asesor le atenderá en cuanto esté libre" in page
    last = int(re.findall(r'data-id="(\d+)"', page)[-1])

    agent, attempt_id = agent_takes(engine, seeded, c.id)
    agent_reply(engine, agent, attempt_id, "Hola María, soy Ana. ¿En qué le ayudo?", NOW)

    poll = await web.get(f"/p/cuenta/chat/mensajes?c={c.id}&after={last}")
    body = await poll.json()
    assert poll.status == 200 and body["reload"] is False and body["state"] == "agent"
    assert [(m["sender"], m["who"], m["text"]) for m in body["messages"]] == [
        ("agent", "Asesor", "Hola María, soy Ana. ¿En qué le ayudo?")]  # fmt: skip
    assert plain(body["messages"][0]["when"]) == "mar 24 de nov, 11:00 (Ciudad de México)"
    assert body["note"] == "Le atiende un asesor."
    assert (await lines(web))[-1] == "Hola María, soy Ana. ¿En qué le ayudo?"
    assert pending_ids(engine) == []  # nothing of the portal's waits for the SMS/WhatsApp sender
    # The account page quotes the reply with its time, not only a link to the chat.
    account = await (await web.get("/p/cuenta")).text()
    assert 'id="chat-reply"' in account
    assert "Un asesor le respondió" in account
    assert "Hola María, soy Ana. ¿En qué le ayudo?" in account
    assert "11:00 (Ciudad de México)" in plain(account)

    # The debtor writes on: the agent has it (the assistant stays quiet).
    await write(web, "gracias, quiero pagar en dos partes")
    account = await (await web.get("/p/cuenta")).text()
    assert 'id="chat-reply"' not in account  # answered: nothing waits for the debtor
    with Session(engine) as s:
        tail = s.scalars(select(ConversationMessage).where(
            ConversationMessage.conversation_id == c.id).order_by(ConversationMessage.id)).all()  # fmt: skip
    assert (tail[-1].sender, tail[-1].text) == ("debtor", "gracias, quiero pagar en dos partes")
    assert len(conversations(engine)) == 1


async def test_given_the_agent_recorded_the_outcome_when_the_page_is_read_then_over_and_the_next_message_starts_anew(
    web: TestClient, seeded: PortalSeed, engine: Engine, clock: Clock
) -> None:
    await enter(web, seeded.account_id)
    await write(web, "quiero hablar con un asesor")
    [first] = conversations(engine)
    agent, attempt_id = agent_takes(engine, seeded, first.id)
    agent_reply(engine, agent, attempt_id, "Listo, quedó registrado.", NOW)
    with transaction(engine) as s:  # the agent's disposition; the console then closes it
        s.add(Disposition(attempt_id=attempt_id, account_id=seeded.account_id,
                          agent_id=agent.id, party="titular", outcome="promise"))  # fmt: skip
    assert close_dispositioned(engine, NOW) == 1
    clock.now = NOW + timedelta(minutes=5)
    page = await (await web.get("/p/cuenta/chat")).text()
    assert "Esta conversación terminó" in page and "Listo, quedó registrado." in page
    poll = await (await web.get(f"/p/cuenta/chat/mensajes?c={first.id}&after=0")).json()
    assert poll["state"] == "closed" and poll["reload"] is False

    await write(web, "cuanto debo")  # a new conversation, with the assistant again
    second = conversations(engine)[-1]
    assert second.id != first.id and second.state == "bot"
    said = await lines(web)
    assert said[0] == "cuanto debo" and "Listo, quedó registrado." not in said


async def test_given_a_new_portal_session_when_the_chat_is_open_then_the_same_conversation_goes_on(
    web: TestClient, seeded: PortalSeed, engine: Engine, clock: Clock
) -> None:
    await enter(web, seeded.account_id)
    await write(web, "quiero hablar con un asesor")
    clock.now = NOW + timedelta(minutes=25)  # the first session is over
    await enter(web, seeded.account_id)
    assert (await lines(web))[0] == "quiero hablar con un asesor"
    await write(web, "sigo esperando")
    assert len(conversations(engine)) == 1


async def test_given_a_form_naming_another_account_when_posted_then_the_sessions_account_is_used(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    await write(web, "hola", account_id=str(seeded.other_account_id))
    assert [c.account_id for c in conversations(engine)] == [seeded.account_id]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Escriba su mensaje antes de enviarlo."),
        ("   \n\t ", "Escriba su mensaje antes de enviarlo."),
        ("a" * 1001, "Su mensaje es demasiado largo: escriba hasta 1000 caracteres."),
        ("a" * 50_000, "Su mensaje es demasiado largo: escriba hasta 1000 caracteres."),
    ],
)
async def test_given_an_empty_or_too_long_message_when_sent_then_400_with_the_reason_and_nothing_stored(
    web: TestClient, seeded: PortalSeed, engine: Engine, text: str, reason: str
) -> None:
    await enter(web, seeded.account_id)
    resp = await write(web, text)
    page = await resp.text()
    assert resp.status == 400 and reason in page and 'id="chat-form"' in page
    assert debtor_messages(engine) == 0


async def test_given_a_too_long_message_in_english_then_the_reason_in_english(
    web: TestClient, seeded: PortalSeed
) -> None:
    await enter(web, seeded.account_id)
    await web.get("/p/cuenta/chat?lang=en")
    resp = await write(web, "a" * 1001)
    assert resp.status == 400 and "write up to 1000 characters" in await resp.text()


async def test_given_thirty_messages_this_hour_when_one_more_then_429_with_the_reason(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    with transaction(engine) as s:  # an open conversation of the account, its hour full
        c = conv.open_conversation(s, "chat", "portal:earlier", NOW, account_id=seeded.account_id)
        for i in range(conv.MAX_DEBTOR_PER_HOUR):
            conv.add_message(s, c, "debtor", f"mensaje {i}", NOW - timedelta(minutes=30),
                             status="received")  # fmt: skip
    resp = await write(web, "uno más")
    page = await resp.text()
    assert resp.status == 429 and "Ha enviado muchos mensajes en la última hora" in page
    assert "uno más" in page  # kept in the box to send later
    assert debtor_messages(engine) == conv.MAX_DEBTOR_PER_HOUR


async def test_given_no_csrf_or_no_session_when_posted_then_refused_and_nothing_stored(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    resp = await web.post("/p/cuenta/chat", data={"text": "hola"}, allow_redirects=False)
    assert resp.status == 403
    form = {"text": "hola", "_csrf": await csrf(web, "/p")}
    resp = await web.post("/p/cuenta/chat", data=form, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/p?ended=1"
    poll = await web.get("/p/cuenta/chat/mensajes?c=0&after=0")
    assert poll.status == 401 and (await poll.json())["ended"] is True
    assert conversations(engine) == []


async def test_given_the_page_shows_another_conversation_when_polled_then_reload(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    await write(web, "hola")
    [c] = conversations(engine)
    body = await (await web.get("/p/cuenta/chat/mensajes?c=0&after=0")).json()
    assert body["reload"] is True and body["messages"] == [] and body["conversation_id"] == c.id
    bad = await (await web.get("/p/cuenta/chat/mensajes?c=x&after=-1")).json()
    assert bad["reload"] is True  # malformed numbers read as none, never a 500


async def test_given_an_english_page_when_the_debtor_writes_then_the_assistant_and_labels_in_english(
    web: TestClient, seeded: PortalSeed
) -> None:
    await enter(web, seeded.account_id)
    await web.get("/p/cuenta/chat?lang=en")
    await write(web, "quiero hablar con un asesor")
    page = plain(await (await web.get("/p/cuenta/chat")).text())
    assert "You · Tue, Nov 24, 11:00 (Mexico City)" in page
    assert "I am putting you through to an agent" in page
    assert "An agent will be with you as soon as one is free" in page


async def test_given_the_chat_service_not_built_when_the_debtor_writes_then_503_on_the_page(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    web.server.app[CHAT].service = None  # type: ignore[union-attr]
    resp = await write(web, "hola")
    assert resp.status == 503 and "El chat no está disponible" in await resp.text()
    assert debtor_messages(engine) == 0
