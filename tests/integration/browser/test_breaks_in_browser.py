"""The break plan in a real console process and Chromium: the console's own check
pauses the agent at a lunch already begun with the plan's reason, and the agent page
says why, till when, and the next break, each time with its zone named."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from browser_harness import console_process
from console_fixtures import PASSWORD, Seed
from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from store.db import transaction
from store.models import AgentBreak

# Tuesday 2026-11-24, 11:00:30 in Mexico City: the lunch began 30 s ago.
AT = datetime(2026, 11, 24, 17, 0, 30, tzinfo=UTC)


def plan(engine: Engine, agent_id: int, start_minute: int, minutes: int, reason: str) -> None:
    with transaction(engine) as s:
        s.add(AgentBreak(agent_id=agent_id, start_minute=start_minute, minutes=minutes,
                         weekdays="mon,tue,wed,thu,fri", reason=reason,
                         zone="America/Mexico_City"))  # fmt: skip


def test_given_a_lunch_begun_when_the_agent_logs_in_then_paused_for_it_and_told_why(
    browser: Any, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    ana = seeded.users["ana"]
    plan(engine, ana, 11 * 60, 60, "comida")
    plan(engine, ana, 14 * 60, 15, "break")
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "COBRADOR_DATA_DIR": str(settings.data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(b"p" * 32).decode(),
    }
    with console_process(env, at=AT) as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}/login")
        page.fill("#username", "ana")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#ws-status")).to_have_text("Conectado")
        expect(page.locator("#break-next")).to_have_text(
            "Próxima pausa: descanso hoy a las 14:00 (hora de Ciudad de México), 15 min"
        )
        # Logged in (paused, 'login'); the console's next check (every 15 s) pauses her
        # for the lunch under way, and the page says so.
        expect(page.locator("#break-now")).to_have_text(
            "Pausa programada: comida, hasta las 12:00 (hora de Ciudad de México)",
            timeout=40_000)  # fmt: skip
        expect(page.locator("#state-reason")).to_have_text("Comida")  # a label: capitalised
        # Back early: Disponible ends it and the line goes.
        page.click("#btn-ready")
        expect(page.locator("#state-name")).to_have_text("Disponible")
        expect(page.locator("#break-now")).to_be_hidden()
        context.close()
