"""The console's error pages say the reason a handler gave (an unknown break, an
unknown agent, a page number that is none), in the reader's language, as a page or as
JSON for the APIs; a route that does not exist gets the generic page, never aiohttp's
"404: Not Found"."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login
from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from console.app import init_app
from console.error_reason import own_reason
from console.i18n import gettext_


async def test_given_a_break_not_in_the_plan_when_deleted_then_the_page_says_so(
    client: TestClient, seed: Seed
) -> None:
    token = await login(client, "sofia")
    ana = seed.users["ana"]
    resp = await client.post(f"/supervisor/breaks/{ana}/999/delete", data={"_csrf": token},
                             allow_redirects=False)  # fmt: skip
    page = await resp.text()
    assert resp.status == 404 and resp.content_type == "text/html"
    assert "No encontrado" in page and "Esa pausa no está en el plan del agente." in page
    resp = await client.post(f"/supervisor/breaks/{ana}/999/delete?lang=en",
                             data={"_csrf": token}, allow_redirects=False)  # fmt: skip
    assert "That break is not in the agent&#39;s plan." in await resp.text()


@pytest.mark.parametrize(("path", "status", "reason"), [
    ("/supervisor/breaks/999999", 404, "Agente desconocido."),
    ("/supervisor/unproven-mail?before=x", 400, "Página inválida."),
    ("/supervisor/unproven-mail?tz=Mars/Olympus", 400, "Zona horaria desconocida."),
])  # fmt: skip
async def test_given_a_page_refused_with_a_reason_then_the_error_page_shows_it(
    client: TestClient, path: str, status: int, reason: str
) -> None:
    await login(client, "sofia")
    resp = await client.get(path)
    page = await resp.text()
    assert resp.status == status and resp.content_type == "text/html", page
    assert f"<p>{reason}</p>" in page


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/no/such/page", 404),
    ("GET", "/supervisor/breaks/1/2/delete", 405),  # a form's path, not a page
])  # fmt: skip
async def test_given_no_such_route_then_the_generic_page_without_aiohttps_words(
    client: TestClient, method: str, path: str, status: int
) -> None:
    await login(client, "sofia")
    resp = await client.request(method, path)
    page = await resp.text()
    assert resp.status == status and resp.content_type == "text/html"
    assert f"{status}: " not in page and "Not Found" not in page and "Method Not" not in page
    assert "Volver al inicio" in page


async def test_given_an_api_that_raises_a_reason_then_it_is_json_with_it(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Callable[[], datetime],
) -> None:  # fmt: skip
    """A JSON API handler that raises its refusal as text (as the pages do) answers JSON
    with the reason, which the pages' script shows; one already JSON is left as is."""

    async def plain(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPConflict(text=gettext_("Otra persona ya marcó este correo como atendido."))

    async def as_json(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPBadRequest(text=json.dumps({"ok": False, "reason": "r", "field": "f"}),
                                 content_type="application/json")  # fmt: skip

    app = init_app(settings, engine, aredis, clock=clock)
    app.router.add_get("/api/test/plain", plain)
    app.router.add_get("/api/test/json", as_json)
    client = await aiohttp_client(app)
    resp = await client.get("/api/test/plain")
    assert resp.status == 409
    assert await resp.json() == {"ok": False,
                                 "reason": "Otra persona ya marcó este correo como atendido."}  # fmt: skip
    resp = await client.get("/api/test/json")
    assert resp.status == 400 and await resp.json() == {"ok": False, "reason": "r", "field": "f"}
    resp = await client.get("/api/no/such/thing")
    assert resp.status == 404


@pytest.mark.parametrize(("exc", "reason"), [
    (web.HTTPNotFound(), None),
    (web.HTTPMethodNotAllowed("POST", ["GET"]), None),
    (web.HTTPNotFound(text="Agente desconocido."), "Agente desconocido."),
    (web.HTTPNotFound(text="   "), None),
    (web.HTTPBadRequest(text='{"ok": false, "reason": "día"}', content_type="application/json"),
     "día"),
    (web.HTTPBadRequest(text='{"ok": false}', content_type="application/json"), None),
    (web.HTTPBadRequest(text="[1, 2]", content_type="application/json"), None),
    (web.HTTPBadRequest(text="{not json", content_type="application/json"), None),
    (web.HTTPBadRequest(text="x" * 5000), "x" * 500),
])  # fmt: skip
def test_given_an_http_error_then_its_own_reason_or_none(
    exc: web.HTTPException, reason: str | None
) -> None:
    assert own_reason(exc) == reason
