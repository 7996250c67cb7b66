"""The agent page never shows an older state over the answer to the agent's own
change: a state read sent before "Disponible" was answered, and landing after it,
is read again rather than shown (an agent shown "En pausa" while ready gets calls
it does not expect)."""

from __future__ import annotations

import json
from typing import Any

from console_fixtures import PASSWORD, Seed
from support.screenshots import FLOOR_BROWSER

VIEWPORT = {"width": 1440, "height": 900}
STATE_API = "**/api/agent/state"


def test_given_a_state_read_answered_after_the_ready_answer_then_the_page_stays_ready(
    browser: Any, console_url: str, seeded: Seed
) -> None:
    from playwright.sync_api import expect

    page = browser.new_context(viewport=VIEWPORT, **FLOOR_BROWSER).new_page()
    held: list[Any] = []
    holding = [True]

    def hold(route: Any) -> None:
        # Every state read the page sends while it loads is held, unanswered.
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route(STATE_API, hold)
    page.goto(f"{console_url}/login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#ws-status")).to_have_text("Conectado")
    assert held, "the page read its state when it loaded"

    page.click("#btn-ready")
    expect(page.locator("#state-name")).to_have_text("Disponible")

    # The held reads now land, saying what the server held when they were sent.
    holding[0] = False
    stale = {"ok": True, "state": {"agent_id": seeded.users["ana"], "state": "paused", "since": 1.0,
                       "reason": "", "campaign": "mx-demo", "attempt_id": None},
             "server_time": 2.0, "pending_attempt": None}  # fmt: skip

    def server_says_ready(response: Any) -> bool:
        return "/api/agent/state" in response.url and response.json()["state"]["state"] == "ready"

    with page.expect_response(server_says_ready):
        for route in held:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(stale))
    # The page read its state again, and shows what the server says: ready.
    expect(page.locator("#state-name")).to_have_text("Disponible")
    assert page.evaluate("document.body.dataset.agentState") == "ready"
