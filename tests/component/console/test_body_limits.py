"""A body over the console's limit (aiohttp's 1 MiB) is refused with a 413 that says
why in the person's language, on pages, forms and the API alike; never aiohttp's
English line about bytes, never a 500."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from console_fixtures import csrf_of, login

BIG = "a" * (1024 * 1024 + 10)
SPANISH = "demasiado grande"


async def test_given_a_huge_login_form_then_413_in_spanish(client: TestClient) -> None:
    token = await csrf_of(client)
    resp = await client.post("/login", data={"username": BIG, "password": "x", "_csrf": token})
    assert resp.status == 413
    text = await resp.text()
    assert SPANISH in text and "Maximum request body size" not in text
    assert "text/html" in resp.headers["Content-Type"]


async def test_given_a_huge_portal_form_then_413_in_spanish(client: TestClient) -> None:
    resp = await client.post("/p", data={"ref": BIG, "digits": "1234", "_csrf": "x"})
    assert resp.status == 413
    assert SPANISH in await resp.text()


async def test_given_a_huge_multipart_upload_then_413_in_spanish(client: TestClient) -> None:
    token = await csrf_of(client)
    resp = await client.post("/login", data={"_csrf": token, "file": BIG.encode()})
    assert resp.status == 413
    assert SPANISH in await resp.text()


async def test_given_a_huge_json_body_to_the_api_then_a_json_413(client: TestClient) -> None:
    token = await login(client, "ana")
    resp = await client.post("/api/agent/notes", data='{"text": "' + BIG + '"}',
                             headers={"Content-Type": "application/json", "X-CSRF-Token": token})  # fmt: skip
    assert resp.status == 413
    body = await resp.json()
    assert body["ok"] is False and SPANISH in body["reason"]


async def test_given_english_then_the_refusal_is_in_english(client: TestClient) -> None:
    await client.get("/login?lang=en")
    token = await csrf_of(client)
    resp = await client.post("/login", data={"username": BIG, "password": "x", "_csrf": token})
    assert resp.status == 413
    assert "too large" in (await resp.text()).lower()
