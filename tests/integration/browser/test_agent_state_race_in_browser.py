"""The agent page never shows an older state over a newer one it has shown: a state
read sent before a change, and landing after the page showed it, is read again rather
than shown (an agent shown "En pausa" while ready gets calls it does not expect). The
change may come as the answer to the agent's own click or pushed over the socket (the
dialer's, another tab's; the push of the agent's own change often arrives before the
answer, which is why these tests once timed out on a loaded machine: the stale read
landed after the push and before the answer, and was shown)."""

from __future__ import annotations

import json
from typing import Any

from console_fixtures import PASSWORD, Seed
from support.screenshots import FLOOR_BROWSER

VIEWPORT = {"width": 1440, "height": 900}
STATE_API = "**/api/agent/state"


class HeldReads:
    """Every state read the page sends while it loads, held unanswered until `land`."""

    def __init__(self, page: Any) -> None:
        self.routes: list[Any] = []
        self.holding = True
        page.route(STATE_API, self._hold)

    def _hold(self, route: Any) -> None:
        if self.holding:
            self.routes.append(route)
        else:
            route.continue_()

    def land(self, page: Any, agent_id: int) -> None:
        """The held reads land, saying what the server held when they were sent
        (paused); the page must read again, and the server says ready."""
        self.holding = False
        stale = {"ok": True, "state": {"agent_id": agent_id, "state": "paused", "since": 1.0,
                           "reason": "", "campaign": "mx-demo", "attempt_id": None},
                 "server_time": 2.0, "pending_attempt": None}  # fmt: skip

        def server_says_ready(response: Any) -> bool:
            return (
                "/api/agent/state" in response.url and response.json()["state"]["state"] == "ready"
            )

        with page.expect_response(server_says_ready):
            for route in self.routes:
                route.fulfill(status=200, content_type="application/json", body=json.dumps(stale))


def agent_page(context: Any, console_url: str) -> tuple[Any, HeldReads]:
    from playwright.sync_api import expect

    page = context.new_page()
    held = HeldReads(page)
    page.goto(f"{console_url}/login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#ws-status")).to_have_text("Conectado")
    assert held.routes, "the page read its state when it loaded"
    return page, held


def test_given_a_state_read_answered_after_the_ready_answer_then_the_page_stays_ready(
    browser: Any, console_url: str, seeded: Seed
) -> None:
    from playwright.sync_api import expect

    page, held = agent_page(browser.new_context(viewport=VIEWPORT, **FLOOR_BROWSER), console_url)
    page.click("#btn-ready")
    # Shown by the click's answer or by the socket's push of the change, whichever
    # came first: either way the reads held since the page loaded are older.
    expect(page.locator("#state-name")).to_have_text("Disponible")

    held.land(page, seeded.users["ana"])
    # The page read its state again, and shows what the server says: ready.
    expect(page.locator("#state-name")).to_have_text("Disponible")
    assert page.evaluate("document.body.dataset.agentState") == "ready"


def test_given_a_state_read_answered_after_a_pushed_change_then_the_page_shows_the_change(
    browser: Any, console_url: str, seeded: Seed
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, **FLOOR_BROWSER)
    page, held = agent_page(context, console_url)
    # The agent goes ready in another tab: this page learns it only from its socket.
    other = context.new_page()
    other.goto(f"{console_url}/agent")
    expect(other.locator("#ws-status")).to_have_text("Conectado")
    other.click("#btn-ready")
    expect(other.locator("#state-name")).to_have_text("Disponible")
    expect(page.locator("#state-name")).to_have_text("Disponible")

    held.land(page, seeded.users["ana"])
    expect(page.locator("#state-name")).to_have_text("Disponible")
    assert page.evaluate("document.body.dataset.agentState") == "ready"
