"""Inbound e-mails whose sender the mail server did not prove act on no account; a
supervisor reads them on /supervisor/unproven-mail and marks them handled (audited)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine, select, update

from console import unproven_replies
from outreach.channels.delivery import DeliveryBook
from store.db import transaction
from store.models import AuditEntry, ContactChannel, UnprovenReplyHandled, User

PATH = "/supervisor/unproven-mail"


def keep(engine: Engine, address: str, subject: str, text: str, minutes: int = 0) -> None:
    """As the e-mail listener keeps a reply whose From: its server did not prove."""
    DeliveryBook(engine).unproven(ContactChannel.email, address, subject, text,
                                  NOW + timedelta(minutes=minutes), "dmarc=none")  # fmt: skip


def reply_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-reply="(\d+)"', page)]


async def test_given_an_unproven_stop_request_then_a_supervisor_reads_it_and_marks_it_handled(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    keep(engine, "maria@example.mx", "BAJA", "No me contacten más. <script>alert(1)</script>"
         + " relleno" * 200)  # fmt: skip
    token = await login(client, "sofia")
    page = await (await client.get(PATH + "?tz=America/Mexico_City")).text()
    [entry_id] = reply_ids(page)
    assert "maria@example.mx" in page and "BAJA" in page and "No me contacten más." in page
    assert "sin verificar" in page and "cualquiera puede escribir esa dirección" in page
    # Received 17:00 UTC, shown in the supervisor's zone, named once above the list.
    assert "24 nov 2026, 11:00" in page and "Horas en Ciudad de México." in page
    # What the sender wrote is escaped, and only an excerpt of it is shown.
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    excerpt = re.search(r'<td class="excerpt">([^<]*)</td>', page).group(1)  # type: ignore[union-attr]
    assert excerpt.endswith("…") and len(excerpt) < unproven_replies.EXCERPT_CHARS + 100
    english = await (await client.get(PATH + "?tz=America/Mexico_City&lang=en")).text()
    assert "Unverified e-mails" in english and "anyone can write that address" in english
    await client.get(PATH + "?lang=es")

    resp = await client.post(f"{PATH}/{entry_id}/done?tz=America/Mexico_City",
                             data={"_csrf": token, "note": "Llamé: confirma la baja"},
                             allow_redirects=False)  # fmt: skip
    assert resp.status == 303 and resp.headers["Location"] == PATH + "?tz=America/Mexico_City"
    page = await (await client.get(PATH)).text()
    assert reply_ids(page) == [] and "No hay correos sin verificar por atender." in page
    with transaction(engine) as s:
        handled = s.get(UnprovenReplyHandled, entry_id)
        assert handled is not None and handled.handled_by == seed.users["sofia"]
        [audit] = s.scalars(select(AuditEntry).where(AuditEntry.kind == "reply_unproven_handled"))
    assert json.loads(audit.payload) == {"entry_id": entry_id, "note": "Llamé: confirma la baja"}
    assert audit.subject == f"audit:{entry_id}" and audit.actor.endswith("sofia")
    # Handled once: a second mark (another supervisor's page left open) says so.
    again = await client.post(f"{PATH}/{entry_id}/done", data={"_csrf": token})
    assert again.status == 409 and "ya marcó este correo" in await again.text()


async def test_given_bad_inputs_then_refused_with_a_reason_and_nothing_handled(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    keep(engine, "maria@example.mx", "Disputa", "No reconozco esta deuda")
    token = await login(client, "sofia")
    [entry_id] = reply_ids(await (await client.get(PATH)).text())
    for bad in ("Mars/Olympus", "x" * 200):
        resp = await client.get(PATH, params={"tz": bad})
        assert resp.status == 400 and "Zona horaria desconocida." in await resp.text()
        resp = await client.post(f"{PATH}/{entry_id}/done", params={"tz": bad},
                                 data={"_csrf": token})  # fmt: skip
        assert resp.status == 400
    for bad in ("0", "-1", "abc", "9" * 30, "²"):
        resp = await client.get(PATH, params={"before": bad})
        assert resp.status == 400 and "Página inválida." in await resp.text(), bad
        resp = await client.post(f"{PATH}/{bad}/done", data={"_csrf": token})
        assert resp.status == 404, bad
    resp = await client.post(f"{PATH}/{entry_id}/done", data={"_csrf": token, "note": "n" * 501})
    assert resp.status == 400 and "como máximo 500 caracteres" in await resp.text()
    # Another kind of audit entry is no unproven mail to close.
    with transaction(engine) as s:
        other = s.scalar(select(AuditEntry.id).where(AuditEntry.kind != "reply_unproven"))
    assert other is not None  # the login's
    assert (await client.post(f"{PATH}/{other}/done", data={"_csrf": token})).status == 404
    assert (await client.post(f"{PATH}/{entry_id}/done", data={})).status == 403  # no CSRF
    with transaction(engine) as s:
        assert s.scalars(select(UnprovenReplyHandled)).all() == []


async def test_given_many_unproven_mails_then_pages_of_bounded_size_newest_first(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    total = unproven_replies.PAGE_SIZE + 3
    for i in range(total):
        keep(engine, f"d{i}@example.mx", f"Asunto {i}", "texto", minutes=i)
    await login(client, "sofia")
    first = await (await client.get(PATH)).text()
    assert f'id="unproven-count">{total}<' in first
    ids = reply_ids(first)
    assert len(ids) == unproven_replies.PAGE_SIZE and ids == sorted(ids, reverse=True)
    older = re.search(r'href="(/supervisor/unproven-mail\?[^"]+)" id="unproven-older"', first)
    assert older is not None
    second = await (await client.get(older.group(1).replace("&amp;", "&"))).text()
    assert len(reply_ids(second)) == 3 and max(reply_ids(second)) < min(ids)
    assert 'id="unproven-older"' not in second


async def test_given_a_supervisor_of_one_campaign_then_the_mails_are_not_shown_to_them(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """They name no account, so no campaign: a supervisor tied to one campaign could read
    another campaign's debtors' words."""
    keep(engine, "maria@example.mx", "BAJA", "No me contacten más")
    with transaction(engine) as s:
        s.execute(update(User).where(User.id == seed.users["sofia"]).values(
            campaign_id=seed.campaign_id))  # fmt: skip
        entry_id = s.scalar(select(AuditEntry.id).where(AuditEntry.kind == "reply_unproven"))
    token = await login(client, "sofia")
    page = await (await client.get(PATH)).text()
    assert "maria@example.mx" not in page and "solo los leen supervisores" in page
    assert (await client.post(f"{PATH}/{entry_id}/done", data={"_csrf": token})).status == 404
    await login(client, "root")  # an admin reads them
    assert "maria@example.mx" in await (await client.get(PATH)).text()


async def test_given_an_agent_then_the_page_is_refused(client: TestClient, seed: Seed) -> None:
    await login(client, "ana")
    assert (await client.get(PATH, allow_redirects=False)).status in (302, 403)
