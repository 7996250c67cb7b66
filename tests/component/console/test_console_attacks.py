"""The console as an attacker sees it: what a crafted link, a forged form or a
stranger without a session can and cannot make the console do."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine

PHISH = "Su sesión venció: llame al 55 0000 0000 y dicte su contraseña"


async def test_given_a_crafted_link_with_a_message_then_the_console_never_says_it(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """A link sent to a supervisor or an auditor cannot put the attacker's words in the
    console's own confirmation box (only the console's confirmations by code)."""
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], started_at=NOW)
    await login(client, "root")
    for path in ("/supervisor", f"/attempts/{attempt}"):
        page = await (await client.get(f"{path}?msg={quote(PHISH)}")).text()
        assert PHISH not in page and "llame al 55" not in page, path
    # The console's own confirmations still show, named by code.
    saved = await (await client.get("/supervisor?done=saved")).text()
    assert "Cambio guardado." in saved
    held = await (await client.get(f"/attempts/{attempt}?done=hold")).text()
    assert "La grabación quedó bajo retención legal." in held
