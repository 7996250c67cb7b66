"""GET /api/zone: the reader's own zone named as every page names a zone (its city),
for the times the pages word in the browser (common.js Cobrador.when / Cobrador.hour)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import login


@pytest.mark.parametrize("username", ["ana", "sofia", "raul", "root"])
async def test_given_any_role_when_naming_its_zone_then_the_city_never_the_iana_id(
    client: TestClient, username: str
) -> None:
    await login(client, username)
    resp = await client.get("/api/zone?tz=America/Mexico_City")
    assert resp.status == 200
    assert await resp.json() == {"ok": True, "zone": "America/Mexico_City",
                                 "zone_label": "Ciudad de México"}  # fmt: skip


async def test_given_english_or_a_fixed_offset_when_naming_the_zone_then_as_zone_label_says(
    client: TestClient,
) -> None:
    await login(client, "ana")
    english = await (await client.get("/api/zone?tz=America/Mexico_City&lang=en")).json()
    assert english["zone_label"] == "Mexico City"
    lima = await (await client.get("/api/zone?tz=America/Lima")).json()
    assert lima["zone_label"] == "Lima"
    utc = await (await client.get("/api/zone?tz=UTC")).json()
    assert utc["zone_label"] == "UTC"


@pytest.mark.parametrize(
    "query",
    ["", "?tz=", "?tz=Mars/Olympus", "?tz=../../etc/passwd", "?tz=/etc/localtime",
     "?tz=" + "A" * 200, "?tz=America/Mexico_City%00"],
)  # fmt: skip
async def test_given_no_or_a_bad_zone_when_naming_it_then_400_with_the_reason(
    client: TestClient, query: str
) -> None:
    await login(client, "ana")
    resp = await client.get("/api/zone" + query)
    assert resp.status == 400
    body = await resp.json()
    assert body["field"] == "tz" and body["reason"] == "Zona horaria desconocida."


async def test_given_no_session_when_naming_a_zone_then_401(client: TestClient) -> None:
    resp = await client.get("/api/zone?tz=America/Mexico_City", allow_redirects=False)
    assert resp.status == 401
