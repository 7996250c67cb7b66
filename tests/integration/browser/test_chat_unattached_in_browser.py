"""A chat from a number that names no single account, on the agent page in Chromium:
each line's time named with the agent's zone, and its date when a new day starts;
the names-only pop (candidates by name and masked reference, nothing about a debt)
with the transcript and the reply box beside it; the debtor's answer typed by the
agent attaches the chat to the account and opens it; a chat from a number no
account has is closed without one, also after the agent reloaded the page. Screenshot: docs/screenshots/chat-agent-unattached.png."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from console_fixtures import PASSWORD, Seed
from sqlalchemy import Engine, select
from support.chat_standins import StandInActions, StandInAssistant
from support.screenshots import screenshot_path

from selfservice.chat_service import ChatService, Incoming
from store.db import transaction
from store.models import Conversation, ConversationMessage, Phone

SHARED = "+525512349999"  # María's and Juan's number
DESK = {"viewport": {"width": 1440, "height": 900}, "locale": "es-MX",
        "timezone_id": "America/Mexico_City"}  # fmt: skip
ASK = "¿Me confirma los últimos 4 dígitos de su número de cuenta?"


def ask_for_agent(engine: Engine, number: str) -> int:
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    now = datetime.now(UTC)
    chat.handle(Incoming("sms", number, "hola", now - timedelta(seconds=30)))
    return chat.handle(Incoming("sms", number, "quiero un asesor", now)).conversation_id


def log_in_ready(page: Any, console_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{console_url}/login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#ws-status")).to_have_text("Conectado")
    page.click("#btn-ready")
    expect(page.locator("#state-name")).to_have_text("Disponible")


def conversation(engine: Engine, cid: int) -> Conversation:
    with transaction(engine) as s:
        c = s.get(Conversation, cid)
        assert c is not None
        s.expunge(c)
        return c


def test_given_a_chat_from_a_shared_number_then_names_only_until_the_debtor_answers(
    browser: Any, console_url: str, seeded: Seed, engine: Engine
) -> None:
    from playwright.sync_api import expect

    with transaction(engine) as s:
        for account_id in (seeded.account_id, seeded.other_account_id):
            s.add(Phone(account_id=account_id, number_e164=SHARED, position=2))
    context = browser.new_context(**DESK)
    page = context.new_page()
    log_in_ready(page, console_url)
    cid = ask_for_agent(engine, SHARED)

    # Routed to Ana: names only, with the conversation beside them.
    expect(page.locator("#inbound")).to_be_visible()
    expect(page.locator("#inbound-title")).to_have_text("Conversación sin cuenta")
    expect(page.locator("#state-name")).to_have_text("En chat")
    candidates = page.locator("#inbound-candidates button")
    expect(candidates).to_have_text(["María López Hernández · MX•••••",
                                     "Juan Pérez · MX•••••"])  # fmt: skip
    expect(page.locator("#pop")).to_be_hidden()
    lines = page.locator("#chat-transcript li .chat-text")
    expect(lines).to_have_text(["hola", "¡Hola! ¿En qué le ayudo?", "quiero un asesor",
                                "Le comunico con un asesor."])  # fmt: skip
    expect(page.locator("#chat-channel")).to_have_text("SMS")
    # Each line's time carries the agent's zone named by its city, as "Mi día" names it
    # ("desde las 00:00 de Ciudad de México"), not the browser's "GMT-6".
    times = page.locator("#chat-transcript li > div:first-child")
    expect(times).to_have_text([re.compile(r"^\d{2}:\d{2} \(Ciudad de México\) · \S")] * 4)
    expect(page.locator("#chat-close")).to_be_visible()
    expect(page.locator("#inbound-recording")).to_be_hidden()
    assert "12,500" not in page.locator("body").inner_text()  # nothing about a debt
    # The agent asks in the chat; the reply waits for the chat sender (SMS).
    page.fill("#chat-text", ASK)
    page.get_by_role("button", name="Enviar", exact=True).click()
    expect(lines.last).to_have_text(ASK)
    expect(page.locator("#chat-transcript li").last).to_contain_text("Por enviar")
    page.screenshot(path=screenshot_path("chat-agent-unattached.png"))

    # The debtor's answer, typed by the agent: the chat is María's, her account opens.
    candidates.first.click()
    page.get_by_label("Últimos 4 dígitos de la cuenta").fill("0001")
    page.get_by_role("button", name="Verificar y abrir la cuenta").click()
    expect(page.locator("#pop")).to_be_visible()
    expect(page.locator("#inbound")).to_be_hidden()
    expect(page.locator("#pop-name")).to_have_text("María López Hernández")
    expect(page.locator("#pop-kind")).to_have_text("Conversación")
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#chat-close")).to_be_hidden()  # attached: the disposition ends it
    expect(lines.last).to_have_text(ASK)
    assert conversation(engine, cid).account_id == seeded.account_id
    context.close()


def test_given_a_chat_from_a_number_no_account_has_then_closed_without_one(
    browser: Any, console_url: str, seeded: Seed, engine: Engine
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**DESK)
    page = context.new_page()
    log_in_ready(page, console_url)
    cid = ask_for_agent(engine, "+525599990000")
    expect(page.locator("#inbound-title")).to_have_text("Conversación sin cuenta")
    expect(page.locator("#inbound-candidates")).to_have_text("Sin resultados")
    expect(page.locator("#chat-transcript li")).to_have_count(4)
    # The agent reloads the page: the names-only pop and the conversation come back.
    page.reload()
    expect(page.locator("#inbound-title")).to_have_text("Conversación sin cuenta")
    expect(page.locator("#state-name")).to_have_text("En chat")
    expect(page.locator("#chat-transcript li")).to_have_count(4)
    expect(page.locator("#chat-close")).to_be_visible()
    page.select_option("#chat-closing", "no_es_deudor")
    page.get_by_role("button", name="Cerrar conversación").click()
    expect(page.locator("#inbound")).to_be_hidden()
    expect(page.locator("#chat")).to_be_hidden()
    expect(page.locator("#waiting")).to_be_visible()
    expect(page.locator("#state-name")).to_have_text("Cierre")
    c = conversation(engine, cid)
    assert (c.state, c.account_id) == ("closed", None)
    with transaction(engine) as s:
        assert s.scalar(select(Conversation.close_reason).where(Conversation.id == cid)) == "agent"
    context.close()


def test_given_a_chat_that_spans_two_days_then_each_new_day_shows_its_date(
    browser: Any, console_url: str, seeded: Seed, engine: Engine
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**DESK)
    page = context.new_page()
    log_in_ready(page, console_url)
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    now = datetime.now(UTC)
    number = "+525599990001"
    cid = chat.handle(Incoming("sms", number, "hola", now - timedelta(seconds=30))).conversation_id
    # The greeting and its answer were yesterday (within the conversation's day).
    with transaction(engine) as s:
        for line in s.scalars(select(ConversationMessage)
                              .where(ConversationMessage.conversation_id == cid)):  # fmt: skip
            line.at = line.at - timedelta(days=1)
    chat.handle(Incoming("sms", number, "quiero un asesor", now))
    lines = page.locator("#chat-transcript li .chat-text")
    expect(lines).to_have_text(["hola", "¡Hola! ¿En qué le ayudo?", "quiero un asesor",
                                "Le comunico con un asesor."])  # fmt: skip
    # Yesterday's first line and today's first line carry their date; the others, on
    # the same day as the line before, the time alone. Every one names the zone.
    dated = re.compile(r"^\d{2}/\d{2}/\d{4},? \d{2}:\d{2} \(Ciudad de México\) · \S")
    timed = re.compile(r"^\d{2}:\d{2} \(Ciudad de México\) · \S")
    times = page.locator("#chat-transcript li > div:first-child")
    expect(times).to_have_text([dated, timed, dated, timed])
    context.close()
