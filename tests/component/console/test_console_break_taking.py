"""At a scheduled break's start the console asks the agent's pause with the plan's
reason, as the Pausa button does: ready, paused (or pausing per the pause rule); in a
call or its wrap-up, kept for after it. Once per break and day, whatever restarts or
other consoles (the claim is in SQL); never after the break's end. The agent page says
the next break and, during one, why the agent is paused."""

from __future__ import annotations

import asyncio
import html
import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine, select

from console.break_taker import Taking, take_due_breaks
from console.keys import STATES
from dialer.agent_state import AgentState
from store.db import transaction
from store.models import AgentBreak, AgentBreakTaken

MX = ZoneInfo("America/Mexico_City")
TUESDAY = NOW.astimezone(MX).date()  # 2026-11-24, 11:00 in Mexico City


class MovableClock:
    """The console's clock, moved by a test (the agent page's words read it)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


def at(clock: str) -> float:
    hour, minute = (int(p) for p in clock.split(":"))
    return datetime(TUESDAY.year, TUESDAY.month, TUESDAY.day, hour, minute, tzinfo=MX).timestamp()


def plan_lunch(engine: Engine, agent_id: int, start: str = "14:00", minutes: int = 60) -> int:
    hour, minute = (int(p) for p in start.split(":"))
    with transaction(engine) as s:
        row = AgentBreak(agent_id=agent_id, start_minute=hour * 60 + minute, minutes=minutes,
                         weekdays="mon,tue,wed,thu,fri", reason="comida",
                         zone="America/Mexico_City")  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


def takings(engine: Engine) -> list[tuple[int, str]]:
    with transaction(engine) as s:
        return [(t.break_id, t.outcome) for t in s.scalars(select(AgentBreakTaken))]


async def test_given_a_ready_agent_at_lunch_time_then_paused_once_even_after_a_restart(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    app, ana = client.server.app, seed.users["ana"]
    states = app[STATES]
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)
    lunch = plan_lunch(engine, ana)
    assert await take_due_breaks(app, at("13:59")) == []  # not begun yet
    assert await states.get(ana) and (await states.get(ana)).state is AgentState.ready
    assert await take_due_breaks(app, at("14:00")) == [Taking(ana, lunch, TUESDAY, "paused")]
    snap = await states.get(ana)
    assert (snap.state, snap.reason) == (AgentState.paused, "comida")
    assert takings(engine) == [(lunch, "paused")]
    # Back early: she goes ready; a later check (a restarted console holds nothing in
    # memory: SQL says it was taken) leaves her ready.
    await states.set_ready(ana)
    assert await take_due_breaks(app, at("14:20")) == []
    assert (await states.get(ana)).state is AgentState.ready
    # Tomorrow's is another taking.
    tomorrow = at("14:01") + 86400
    assert await take_due_breaks(app, tomorrow) == [
        Taking(ana, lunch, TUESDAY.replace(day=25), "paused")]  # fmt: skip


@pytest.mark.parametrize("state", ["talking", "wrap_up"])
async def test_given_an_agent_in_a_call_or_wrap_up_then_the_break_waits_for_its_end(
    client: TestClient, seed: Seed, engine: Engine, state: str
) -> None:
    app, ana = client.server.app, seed.users["ana"]
    states = app[STATES]
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)
    assert await states.reserve(ana, 77)
    await states.talking(ana)
    if state == "wrap_up":
        await states.wrap_up(ana)
    lunch = plan_lunch(engine, ana)
    assert await take_due_breaks(app, at("14:00")) == [Taking(ana, lunch, TUESDAY, "after_call")]
    snap = await states.get(ana)
    assert snap.state.value == state and snap.pause_after == "comida"
    if state == "talking":
        await states.wrap_up(ana)
    after = await states.set_ready(ana)  # the end of the wrap-up
    assert (after.state, after.reason) == (AgentState.paused, "comida")


async def test_given_a_break_passed_while_down_then_taken_within_its_length_never_after(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    app, ana, beto = client.server.app, seed.users["ana"], seed.users["beto"]
    states = app[STATES]
    for agent in (ana, beto):
        await states.login(agent, "mx-demo")
        await states.set_ready(agent)
    plan_lunch(engine, ana)  # 14:00-15:00
    late = plan_lunch(engine, beto, start="14:30", minutes=60)  # 14:30-15:30
    # Checked again at 15:00 (no console ran meanwhile): hers is over, his goes on.
    assert await take_due_breaks(app, at("15:00")) == [Taking(beto, late, TUESDAY, "paused")]
    assert (await states.get(ana)).state is AgentState.ready
    assert takings(engine) == [(late, "paused")]


async def test_given_an_agent_not_logged_in_then_nothing_is_taken_until_they_log_in(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    app, ana = client.server.app, seed.users["ana"]
    lunch = plan_lunch(engine, ana)
    assert await take_due_breaks(app, at("14:05")) == []
    assert takings(engine) == []
    await app[STATES].login(ana, "mx-demo")  # paused, 'login'
    assert await take_due_breaks(app, at("14:20")) == [Taking(ana, lunch, TUESDAY, "paused")]
    assert (await app[STATES].get(ana)).reason == "comida"


async def test_given_two_consoles_checking_at_once_then_the_break_is_taken_once(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    app, ana = client.server.app, seed.users["ana"]
    await app[STATES].login(ana, "mx-demo")
    await app[STATES].set_ready(ana)
    plan_lunch(engine, ana)
    first, second = await asyncio.gather(take_due_breaks(app, at("14:00")),
                                         take_due_breaks(app, at("14:00")))  # fmt: skip
    assert len(first + second) == 1 and len(takings(engine)) == 1


async def test_given_a_plan_then_the_agent_page_says_the_next_break_and_why_paused(
    client: TestClient, seed: Seed, engine: Engine, clock: MovableClock
) -> None:
    app, ana = client.server.app, seed.users["ana"]
    await login(client, "ana")
    assert (await (await client.get("/api/agent/breaks")).json())["next"] is None
    plan_lunch(engine, ana)
    shown = await (await client.get("/api/agent/breaks")).json()  # 11:00 in Mexico City
    assert shown == {"ok": True, "now": None,
                     "next": "Próxima pausa: comida hoy a las 14:00 (hora de Ciudad de México), 60 min"}  # fmt: skip
    english = await (await client.get("/api/agent/breaks?lang=en")).json()
    assert english["next"] == "Next break: lunch today at 14:00 (Mexico City time), 60 min"
    page = await (await client.get("/agent?lang=es")).text()
    assert 'id="break-next"' in page
    # Taken (the console's check at 14:00): the page says why she is paused, till when.
    await app[STATES].login(ana, "mx-demo")
    await app[STATES].set_ready(ana)
    await take_due_breaks(app, at("14:00"))
    clock.now = datetime.fromtimestamp(at("14:10"), UTC)
    words = await (await client.get("/api/agent/breaks")).json()
    assert words["now"] == "Pausa programada: comida, hasta las 15:00 (hora de Ciudad de México)"
    assert (
        words["next"]
        == "Próxima pausa: comida mañana a las 14:00 (hora de Ciudad de México), 60 min"
    )
    await app[STATES].set_ready(ana)  # back early: no longer paused for it
    assert (await (await client.get("/api/agent/breaks")).json())["now"] is None


def claimed_unasked(engine: Engine, break_id: int, claimed_at: str) -> None:
    """What a console that stopped right after claiming the break leaves in SQL."""
    with transaction(engine) as s:
        s.add(AgentBreakTaken(break_id=break_id, day=TUESDAY, outcome="asked",
                              taken_at=datetime.fromtimestamp(at(claimed_at), UTC)))  # fmt: skip


async def test_given_a_console_stopped_between_claim_and_ask_then_a_later_check_asks_it(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """Before, the claim alone was kept and the break was lost for the day."""
    app, ana = client.server.app, seed.users["ana"]
    states = app[STATES]
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)
    lunch = plan_lunch(engine, ana)
    claimed_unasked(engine, lunch, "14:00")
    # A minute on, the claiming console may still be asking: left to it.
    assert await take_due_breaks(app, at("14:01")) == []
    assert (await states.get(ana)).state is AgentState.ready
    # Past the claim's lease, of two consoles checking at once one takes it over.
    first, second = await asyncio.gather(take_due_breaks(app, at("14:03")),
                                         take_due_breaks(app, at("14:03")))  # fmt: skip
    assert first + second == [Taking(ana, lunch, TUESDAY, "paused")]
    snap = await states.get(ana)
    assert (snap.state, snap.reason) == (AgentState.paused, "comida")
    assert takings(engine) == [(lunch, "paused")]
    assert await take_due_breaks(app, at("14:10")) == []


async def test_given_a_console_stopped_after_the_ask_then_the_agent_back_early_is_not_paused_again(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    app, ana = client.server.app, seed.users["ana"]
    states = app[STATES]
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)
    lunch = plan_lunch(engine, ana)
    assert await take_due_breaks(app, at("14:00")) == [Taking(ana, lunch, TUESDAY, "paused")]
    # The console stopped before recording what the ask did: the row still says claimed.
    with transaction(engine) as s:
        row = s.get(AgentBreakTaken, (lunch, TUESDAY))
        assert row is not None
        row.outcome = "asked"
    await states.set_ready(ana)  # back early
    assert await take_due_breaks(app, at("14:05")) == [Taking(ana, lunch, TUESDAY, "recovered")]
    assert (await states.get(ana)).state is AgentState.ready
    assert takings(engine) == [(lunch, "recovered")]


async def test_given_an_unfinished_claim_in_a_call_then_taken_over_for_after_the_call(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    app, ana = client.server.app, seed.users["ana"]
    states = app[STATES]
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)
    assert await states.reserve(ana, 77)
    await states.talking(ana)
    lunch = plan_lunch(engine, ana)
    claimed_unasked(engine, lunch, "14:00")
    assert await take_due_breaks(app, at("14:04")) == [Taking(ana, lunch, TUESDAY, "after_call")]
    snap = await states.get(ana)
    assert (snap.pause_after, snap.break_mark) == ("comida", f"{lunch}:{TUESDAY.isoformat()}")


AGENT_CONFIG = re.compile(r'<script id="agent-config" type="application/json">(.*?)</script>', re.S)


@pytest.mark.parametrize(("lang", "label", "sentence"), [
    ("es", "Comida", "Pausa programada: comida, hasta las 15:00 (hora de Ciudad de México)"),
    ("en", "Lunch", "Scheduled break: lunch, until 15:00 (Mexico City time)"),
])  # fmt: skip
async def test_given_an_agent_paused_for_lunch_then_the_agent_and_the_supervisor_read_one_word_in_one_case(
    client: TestClient, seed: Seed, engine: Engine, clock: MovableClock,
    lang: str, label: str, sentence: str,
) -> None:  # fmt: skip
    """The agent's status line said "comida" and the break plan "Comida" (and the other
    way round elsewhere): a reason shown on its own is a label, capitalised; inside a
    sentence it is lower case, as Spanish and English write it."""
    app, ana = client.server.app, seed.users["ana"]
    plan_lunch(engine, ana)
    await app[STATES].login(ana, "mx-demo")
    await app[STATES].set_ready(ana)
    await take_due_breaks(app, at("14:00"))
    clock.now = datetime.fromtimestamp(at("14:10"), UTC)
    await login(client, "ana")
    page = await (await client.get(f"/agent?lang={lang}")).text()
    found = AGENT_CONFIG.search(page)
    assert found, "no agent-config on the agent page"
    config = json.loads(html.unescape(found.group(1)))
    # The status line under "En pausa", and the pause menu's choice.
    assert config["pause_labels"]["comida"] == label
    assert re.search(rf'<option value="comida">{label}</option>', page)
    assert (await (await client.get(f"/api/agent/breaks?lang={lang}")).json())["now"] == sentence
    await login(client, "sofia")
    board = await (await client.get(f"/api/wallboard?campaign=mx-demo&lang={lang}")).json()
    [row] = [a for a in board["agents"] if a["agent_id"] == ana]
    assert (row["state"], row["reason_label"]) == ("paused", label)
    plans = await (await client.get(f"/supervisor/breaks?lang={lang}")).text()
    assert re.search(rf'<div class="break-line">{label} 14:00 \(60 min, ', plans)
    mine = await (await client.get(f"/supervisor/breaks/{ana}?lang={lang}")).text()
    assert f"<td>{label}</td>" in mine
    assert re.search(rf'<option value="comida"\s*>{label}</option>', mine)
