"""Supervisors plan agents' breaks on /supervisor/breaks: listed with their zone named,
added and removed (audited), every bad input refused with the reason."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login
from sqlalchemy import Engine, select, update

from console import break_admin
from store.db import transaction
from store.models import AgentBreak, AuditEntry, Campaign, User

PATH = "/supervisor/breaks"
LUNCH = {"start": "14:00", "minutes": "60", "reason": "comida", "zone": "America/Mexico_City",
         "days": ["mon", "tue", "wed", "thu", "fri"]}  # fmt: skip


async def post(client: TestClient, path: str, token: str, fields: dict[str, object]):  # type: ignore[no-untyped-def]
    data: list[tuple[str, str]] = [("_csrf", token)]
    for key, value in fields.items():
        values = value if isinstance(value, list) else [value]
        data += [(key, str(v)) for v in values]
    return await client.post(path, data=data, allow_redirects=False)


def breaks_of(engine: Engine, agent_id: int) -> list[AgentBreak]:
    with transaction(engine) as s:
        return list(s.scalars(select(AgentBreak).where(AgentBreak.agent_id == agent_id)))


async def test_given_a_lunch_then_it_is_listed_in_its_zone_and_audited(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    ana = seed.users["ana"]
    token = await login(client, "sofia")
    index = await (await client.get(PATH)).text()
    assert f'data-agent="{ana}"' in index and f'data-agent="{seed.users["sofia"]}"' not in index
    page = await (await client.get(f"{PATH}/{ana}")).text()
    assert "no tiene pausas programadas" in page
    # The floor's zone first: the campaign is in Mexico.
    assert re.search(r'<option value="America/Mexico_City"\s*>Ciudad de México', page)
    resp = await post(client, f"{PATH}/{ana}", token, LUNCH)
    assert resp.status == 303 and resp.headers["Location"] == f"{PATH}/{ana}?done=added"
    page = await (await client.get(f"{PATH}/{ana}?done=added")).text()
    assert "Pausa programada." in page
    assert "14:00–15:00" in page and "hora de Ciudad de México" in page
    # The reason is the table's label, capitalised as the agent's status line says it.
    assert "<td>Comida</td>" in page and "de lunes a viernes" in page
    english = await (await client.get(f"{PATH}/{ana}?lang=en")).text()
    assert (
        "Scheduled breaks" in english
        and "Mexico City time" in english
        and "<td>Lunch</td>" in english
    )
    assert "Monday to Friday" in english
    await client.get(f"{PATH}?lang=es")
    [row] = breaks_of(engine, ana)
    assert (row.start_minute, row.minutes, row.weekdays, row.reason, row.zone) == (
        840, 60, "mon,tue,wed,thu,fri", "comida", "America/Mexico_City")  # fmt: skip
    with transaction(engine) as s:
        [audit] = s.scalars(select(AuditEntry).where(AuditEntry.kind == break_admin.AUDIT_KIND))
    assert json.loads(audit.payload) == {
        "action": "add", "agent": "ana", "break_id": row.id, "start": "14:00", "minutes": 60,
        "days": "mon,tue,wed,thu,fri", "reason": "comida", "zone": "America/Mexico_City"}  # fmt: skip
    assert audit.subject == f"user:{ana}" and audit.actor.endswith("sofia")

    resp = await post(client, f"{PATH}/{ana}/{row.id}/delete", token, {})
    assert resp.status == 303 and resp.headers["Location"] == f"{PATH}/{ana}?done=removed"
    assert breaks_of(engine, ana) == []
    with transaction(engine) as s:
        kinds = [json.loads(a.payload)["action"] for a in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == break_admin.AUDIT_KIND).order_by(AuditEntry.id))]  # fmt: skip
    assert kinds == ["add", "remove"]
    again = await post(client, f"{PATH}/{ana}/{row.id}/delete", token, {})
    assert again.status == 404


BAD = [
    ({"start": "24:00"}, 400, "Hora inválida"),
    ({"start": "7:00"}, 400, "Hora inválida"),
    ({"start": "14:00:00"}, 400, "Hora inválida"),
    ({"start": "١٤:٠٠"}, 400, "Hora inválida"),
    ({"start": ""}, 400, "Hora inválida"),
    ({"minutes": "4"}, 400, "entre 5 y 180 minutos"),
    ({"minutes": "181"}, 400, "entre 5 y 180 minutos"),
    ({"minutes": "-5"}, 400, "duración en minutos"),
    ({"minutes": "9" * 30}, 400, "duración en minutos"),
    ({"minutes": "²"}, 400, "duración en minutos"),
    ({"days": []}, 400, "al menos un día"),
    ({"days": ["mon", "funday"]}, 400, "Día de la semana desconocido"),
    ({"zone": "Mars/Olympus"}, 400, "Zona horaria desconocida"),
    ({"zone": "America"}, 400, "Zona horaria desconocida"),
    ({"zone": "../etc/passwd"}, 400, "Zona horaria desconocida"),
    ({"zone": ""}, 400, "Zona horaria desconocida"),
    ({"reason": "siesta"}, 400, "Elija un motivo de pausa"),
    ({"reason": "login"}, 400, "Elija un motivo de pausa"),  # the system's own, not a plan's
]


@pytest.mark.parametrize(("change", "status", "words"), BAD)
async def test_given_a_bad_break_then_refused_with_the_reason_and_nothing_planned(
    client: TestClient,
    seed: Seed,
    engine: Engine,
    change: dict[str, object],
    status: int,
    words: str,
) -> None:
    ana = seed.users["ana"]
    token = await login(client, "sofia")
    resp = await post(client, f"{PATH}/{ana}", token, {**LUNCH, **change})
    assert resp.status == status and words in await resp.text()
    assert breaks_of(engine, ana) == []


async def test_given_a_planned_lunch_then_overlaps_other_zones_and_too_many_are_refused(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    ana = seed.users["ana"]
    token = await login(client, "sofia")
    assert (await post(client, f"{PATH}/{ana}", token, LUNCH)).status == 303
    overlapping = await post(client, f"{PATH}/{ana}", token,
                             {**LUNCH, "start": "14:50", "minutes": "15", "days": ["fri"],
                              "reason": "break"})  # fmt: skip
    page = await overlapping.text()
    assert overlapping.status == 409 and "Se cruza con la pausa de las 14:00 (60 min)" in page
    assert 'value="14:50"' in page  # the form keeps what was typed
    elsewhere = await post(client, f"{PATH}/{ana}", token,
                           {**LUNCH, "start": "17:00", "zone": "America/Bogota"})  # fmt: skip
    assert elsewhere.status == 409 and "una sola zona horaria" in await elsewhere.text()
    for start in ("09:00", "10:00", "11:00", "12:00", "16:00"):
        ok = await post(client, f"{PATH}/{ana}", token,
                        {**LUNCH, "start": start, "minutes": "10", "reason": "break"})  # fmt: skip
        assert ok.status == 303
    seventh = await post(
        client, f"{PATH}/{ana}", token, {**LUNCH, "start": "18:00", "minutes": "10"}
    )
    assert seventh.status == 409 and "como máximo 6 pausas" in await seventh.text()
    # Back to back with the lunch is no overlap.
    assert len(breaks_of(engine, ana)) == 6


async def test_given_unknown_agents_then_not_found(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "sofia")
    for who in ("999999", str(seed.users["sofia"]), str(seed.users["raul"]), "0", "abc", "9" * 30):
        resp = await post(client, f"{PATH}/{who}", token, LUNCH)
        assert resp.status == 404, who
        assert (await client.get(f"{PATH}/{who}")).status == 404, who
    with transaction(engine) as s:
        s.execute(update(User).where(User.id == seed.users["beto"]).values(active=False))
    assert (await post(client, f"{PATH}/{seed.users['beto']}", token, LUNCH)).status == 404
    assert (await post(client, f"{PATH}/{seed.users['ana']}/abc/delete", token, {})).status == 404


async def test_given_a_supervisor_of_another_campaign_then_its_agents_are_not_theirs(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    with transaction(engine) as s:
        other = Campaign(name="co-demo", country="CO", profile="CO")
        s.add(other)
        s.flush()
        s.execute(update(User).where(User.id == seed.users["sofia"]).values(campaign_id=other.id))
        s.execute(update(User).where(User.id == seed.users["ana"]).values(
            campaign_id=seed.campaign_id))  # fmt: skip
    token = await login(client, "sofia")
    assert f'data-agent="{seed.users["ana"]}"' not in await (await client.get(PATH)).text()
    assert (await post(client, f"{PATH}/{seed.users['ana']}", token, LUNCH)).status == 404
    assert breaks_of(engine, seed.users["ana"]) == []


async def test_given_an_agent_or_no_csrf_then_refused(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    ana = seed.users["ana"]
    await login(client, "ana")
    assert (await client.get(PATH, allow_redirects=False)).status in (302, 403)
    token = await login(client, "sofia")
    assert token
    resp = await client.post(f"{PATH}/{ana}", data={k: v for k, v in LUNCH.items() if k != "days"})
    assert resp.status == 403
    assert breaks_of(engine, ana) == []
