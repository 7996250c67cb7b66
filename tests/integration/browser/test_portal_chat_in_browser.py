"""Issue 25's acceptance through the portal, in Chromium: a debtor on a phone-sized
screen opens a signed link, passes the identity check, opens the chat box and writes
"quiero hablar con un asesor"; the real assistant (no stand-ins for it or for the
debtor actions) hands the conversation over; an agent logged into the console in
another browser, ready in another campaign but in the skill group the debtor's
campaign names, gets the chat popped with the transcript and replies; the reply shows
in the debtor's chat box without a reload. Screenshots: docs/screenshots/portal-7-*,
portal-8-*, chat-agent-portal.png."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from browser_harness import console_process
from console_fixtures import PASSWORD, Seed
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.screenshots import screenshot_path
from support.selfservice_seed import DIGITS, IDENTITY_KEY, LINK_SECRET, NOW, PortalSeed, seed_portal

from cobrador.ground.settings import Settings
from outreach.links import LinkSigner
from store.db import transaction
from store.models import (
    CallAttempt,
    Campaign,
    Conversation,
    ConversationMessage,
    SkillGroup,
    SkillGroupMember,
    User,
)

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "es-MX"}  # fmt: skip
DESK = {"viewport": {"width": 1440, "height": 900}, "locale": "es-MX",
        "timezone_id": "America/Mexico_City"}  # fmt: skip
SIGNER = LinkSigner("https://pagos.example.mx/p", LINK_SECRET)
GROUP = "chat-mx"
REPLY = "Buenas tardes, María. Soy Ana, con gusto le ayudo con su cuenta."


@pytest.fixture
def portal(engine: Engine, seeded: Seed) -> PortalSeed:
    """The debtor's campaign sends its chats to the skill group GROUP; the agent Ana is
    logged in to another campaign (the console's seed) and is in that group."""
    portal = seed_portal(engine)
    with transaction(engine) as s:
        campaign = s.get(Campaign, portal.campaign_id)
        assert campaign is not None
        campaign.config = {**(campaign.config or {}), "inbound": {"skill_group": GROUP},
                           "creditor": "Financiera Ejemplo", "agency": "Despacho Ejemplo",
                           "agency_phone": "55 5000 1000"}  # fmt: skip
        group = SkillGroup(name=GROUP, description="Chats del portal, México")
        s.add(group)
        s.flush()
        s.add(SkillGroupMember(group_id=group.id, user_id=seeded.users["ana"]))
        ana = s.get(User, seeded.users["ana"])
        assert ana is not None
        ana.campaign_id = seeded.campaign_id
    return portal


@pytest.fixture
def portal_url(settings: Settings, portal: PortalSeed) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "COBRADOR_DATA_DIR": str(settings.data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(b"b" * 32).decode(),
        "COBRADOR_PORTAL_LINK_SECRET": base64.b64encode(LINK_SECRET).decode(),
        "COBRADOR_PORTAL_IDENTITY_KEY": base64.b64encode(IDENTITY_KEY).decode(),
    }
    with console_process(env, at=NOW) as url:
        yield url


def shot(page: Any, name: str) -> None:
    page.screenshot(path=screenshot_path(f"{name}.png"))


def agent_ready(page: Any, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#ws-status")).to_have_text("Conectado")
    page.click("#btn-ready")
    # No reload: a state read that lands after the ready answer is read again by the
    # page (agent.js), never shown as "En pausa" to an agent who is ready.
    expect(page.locator("#state-name")).to_have_text("Disponible")


def test_given_a_debtor_asking_for_an_agent_in_the_portal_chat_then_an_agent_gets_it_and_the_reply_reaches_the_portal(
    browser: Any, portal_url: str, portal: PortalSeed, engine: Engine
) -> None:
    from playwright.sync_api import expect

    desk_context = browser.new_context(**DESK)
    desk = desk_context.new_page()
    agent_ready(desk, portal_url)
    expect(desk.locator("#chat")).to_be_hidden()

    phone_context = browser.new_context(**PHONE)
    phone = phone_context.new_page()
    phone.goto(f"{portal_url}/p/{SIGNER.token(portal.account_id, NOW)}")
    phone.get_by_label("Últimos 4 dígitos de su documento").fill(DIGITS)
    phone.get_by_role("button", name="Continuar").click()
    expect(phone.locator("#balance")).to_have_text("$6,000.00 MXN")
    phone.locator("#open-chat").click()
    expect(phone.get_by_role("heading", name="Chat")).to_be_visible()

    # The real assistant answers from the account, then hands over when asked.
    box = phone.get_by_label("Su mensaje")
    box.fill("cuanto debo")
    phone.get_by_role("button", name="Enviar mensaje").click()
    lines = phone.locator("#chat-transcript li .chat-text")
    expect(lines).to_have_count(3)  # the balance, then what else it can do
    expect(lines.nth(1)).to_have_text("Su saldo es de $6,000.00 MXN.")
    box.fill("quiero hablar con un asesor")
    phone.get_by_role("button", name="Enviar mensaje").click()
    expect(lines).to_have_count(5)
    expect(lines.nth(3)).to_have_text("quiero hablar con un asesor")
    expect(lines.nth(4)).to_contain_text("Le comunico con un asesor")
    expect(phone.locator("#chat-transcript li .chat-meta").first).to_have_text(
        "Usted · mar 24 de nov, 11:00 (Ciudad de México)"
    )
    expect(phone.locator("#chat-state")).to_contain_text("Un asesor le atenderá")
    expect(phone.locator("#chat-error")).to_have_count(0)
    shot(phone, "portal-7-chat-handover")

    # The console routes it to Ana (the skill group), with the account and the transcript.
    expect(desk.locator("#chat")).to_be_visible()
    expect(desk.locator("#pop-name")).to_have_text("María López Hernández")
    expect(desk.locator("#state-name")).to_have_text("En chat")
    # Verified by the portal's identity check: the debt shows without asking again.
    expect(desk.locator("#pop-balance")).to_have_text("$6,000.00 MXN")
    # Verified by the portal: the disposition's "who" is the account holder already,
    # and the opening is a chat's (who writes, from where), not a call's.
    expect(desk.locator('input[name="party"][value="titular"]')).to_be_checked()
    expect(desk.locator("#pop-opening")).to_contain_text("Le escribo de")
    expect(desk.locator("#pop-opening")).not_to_contain_text("llamada")
    expect(desk.locator("#chat-channel")).to_have_text("Chat del portal")
    expect(desk.locator("#chat-reason")).to_have_text("El deudor pidió un asesor")
    desk_lines = desk.locator("#chat-transcript li .chat-text")
    expect(desk_lines).to_have_count(5)
    expect(desk_lines.nth(3)).to_have_text("quiero hablar con un asesor")
    desk.fill("#chat-text", REPLY)
    desk.get_by_role("button", name="Enviar").click()
    expect(desk_lines.last).to_have_text(REPLY)
    shot(desk, "chat-agent-portal")

    # The reply reaches the debtor's open page by itself (its poll), then a reload.
    expect(lines.last).to_have_text(REPLY)
    expect(phone.locator("#chat-transcript li.chat-agent .chat-meta")).to_contain_text(
        "Asesor · mar 24 de nov"
    )
    expect(phone.locator("#chat-state")).to_have_text("Le atiende un asesor.")
    phone.locator("#chat-form").scroll_into_view_if_needed()
    shot(phone, "portal-8-chat-agent-reply")

    # The debtor writes on: the agent sees it without reloading.
    box.fill("gracias, quiero pagar en dos partes")
    phone.get_by_role("button", name="Enviar mensaje").click()
    expect(desk_lines.last).to_have_text("gracias, quiero pagar en dos partes")

    with Session(engine) as s:
        c = s.scalars(select(Conversation)).one()
        assert (c.channel, c.account_id, c.state, c.handover_reason) == (
            "chat", portal.account_id, "agent", "agent")  # fmt: skip
        agent_row = s.get(CallAttempt, c.attempt_id)
        said = s.scalars(select(ConversationMessage).where(
            ConversationMessage.sender == "agent")).all()  # fmt: skip
    assert agent_row is not None and agent_row.agent_id is not None
    assert [(m.text, m.status) for m in said] == [(REPLY, "shown")]
    phone_context.close()
    desk_context.close()
