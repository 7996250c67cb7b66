"""The chat queue in Chromium: a debtor writes "quiero hablar con un asesor" in the
portal's chat, the assistant hands the conversation over, and it lands in the ready
agent's console with the account and the transcript; the agent's reply joins it.

The debtor's side is the chat service itself (the portal's chat box calls it), with
stand-ins of the assistant and the debtor actions (tests/support/chat_standins.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from console_fixtures import PASSWORD, Seed
from sqlalchemy import Engine, select
from support.chat_standins import StandInActions, StandInAssistant

from selfservice.chat_service import ChatService, Incoming
from store.db import transaction
from store.models import Conversation, ConversationMessage


def log_in_ready(page: Any, console_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{console_url}/login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#ws-status")).to_have_text("Conectado")
    page.click("#btn-ready")
    expect(page.locator("#state-name")).to_have_text("Disponible")


def test_given_a_debtor_asking_for_an_agent_in_the_portal_chat_then_the_chat_pops_in_the_agents_console(
    browser: Any, console_url: str, seeded: Seed, engine: Engine
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="es-MX")
    page = context.new_page()
    log_in_ready(page, console_url)
    expect(page.locator("#chat")).to_be_hidden()

    chat = ChatService(engine, StandInAssistant(), StandInActions())
    now = datetime.now(UTC)
    said = chat.handle(Incoming("chat", "portal:browser", "hola", now,
                                account_id=seeded.account_id))  # fmt: skip
    assert said.state == "bot"
    handed = chat.handle(Incoming("chat", "portal:browser", "quiero hablar con un asesor", now,
                                  account_id=seeded.account_id))  # fmt: skip
    assert handed.handed_over == "agent"

    panel = page.locator("#chat")
    expect(panel).to_be_visible()  # routed by the console to the ready agent
    expect(page.locator("#pop-name")).to_have_text("María López Hernández")
    expect(page.locator("#state-name")).to_have_text("En llamada")
    expect(page.locator("#chat-channel")).to_have_text("Chat del portal")
    expect(page.locator("#chat-reason")).to_have_text("El deudor pidió un asesor")
    lines = page.locator("#chat-transcript li .chat-text")
    expect(lines).to_have_text(["hola", "¡Hola! ¿En qué le ayudo?", "quiero hablar con un asesor",
                                "Le comunico con un asesor."])  # fmt: skip
    expect(page.locator("#chat-transcript li").nth(2)).to_contain_text("Deudor")
    expect(page.locator("#call-actions")).to_be_hidden()  # nothing to hang up

    # The agent answers; the debtor writes again and the agent sees it without reloading.
    page.fill("#chat-text", "Buenas tardes, soy Ana. ¿Cómo le ayudo?")
    page.get_by_role("button", name="Enviar").click()
    expect(lines.last).to_have_text("Buenas tardes, soy Ana. ¿Cómo le ayudo?")
    chat.handle(Incoming("chat", "portal:browser", "quiero pagar en dos partes", datetime.now(UTC),
                         account_id=seeded.account_id))  # fmt: skip
    expect(lines.last).to_have_text("quiero pagar en dos partes")

    with transaction(engine) as s:
        c = s.scalars(select(Conversation)).one()
        assert c.state == "agent" and c.attempt_id is not None
        agent_lines = s.scalars(select(ConversationMessage).where(
            ConversationMessage.sender == "agent")).all()  # fmt: skip
        assert [(m.text, m.status) for m in agent_lines] == [
            ("Buenas tardes, soy Ana. ¿Cómo le ayudo?", "shown")]  # fmt: skip
    context.close()
