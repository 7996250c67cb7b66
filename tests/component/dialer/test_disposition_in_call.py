"""An agent who saves the disposition while the debtor is still on the line stays on
that call until it ends: the dialer gives them no other debtor meanwhile. Before, the
console moved them to wrap-up at the save, the page's timer (here the agent bots, who
end every wrap-up at once) made them ready, and the dial loop could bridge a second
debtor into the agent's bridge while the first was still in it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import update
from sqlalchemy.orm import Session
from support.polling import until

from cobrador.ground.settings import Settings
from console.app import init_app
from dialer import channel_vars as cv
from dialer.agent_state import AgentState
from pbxsim.scenario import Dist
from store.models import CallAttempt, User

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


async def csrf_of(client: TestClient, path: str) -> str:
    match = CSRF_RE.search(await (await client.get(path)).text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: TestClient, username: str) -> str:
    token = await csrf_of(client, "/login")
    resp = await client.post("/login", data={"username": username, "password": PASSWORD,
                                             "_csrf": token}, allow_redirects=False)  # fmt: skip
    assert resp.status == 302, await resp.text()
    return await csrf_of(client, resp.headers["Location"])


async def test_given_a_bridged_call_when_its_disposition_is_saved_then_the_agent_is_not_reservable_until_it_ends(
    make_floor, aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    floor.pbx.scenario = floor.pbx.scenario.__class__(**{
        **floor.pbx.scenario.__dict__, "p_human": 1.0, "p_machine": 0.0, "p_busy": 0.0,
        "p_congestion": 0.0, "talk_seconds": Dist("constant", 2000.0)})  # fmt: skip
    agent = floor.agent_ids[0]
    with Session(floor.engine) as s, s.begin():
        s.execute(update(User).where(User.id == agent).values(
            password_hash=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)))  # fmt: skip
    dialer = floor.dialer
    await floor.run_until(lambda: any(c.state.value == "bridged" for c in dialer.calls.values()))
    ((attempt_id, call),) = dialer.calls.items()
    assert call.agent_id == agent
    await until(lambda: _talking(floor, agent, attempt_id), "the agent talking on the call")

    now = lambda: datetime.fromtimestamp(floor.clock(), UTC)  # noqa: E731
    console = await aiohttp_client(init_app(settings, floor.engine, floor.redis, clock=now))
    token = await login(console, "agente1")
    saved = await console.post("/api/agent/disposition", headers={"X-CSRF-Token": token},
                               json={"attempt_id": attempt_id, "party": "tercero",
                                     "outcome": "numero_equivocado"})  # fmt: skip
    assert saved.status == 200, await saved.text()

    # The debtor is still on the line: the agent stays on the call (the bots, who end a
    # wrap-up at once, find none to end), Disponible is refused, no call can take them.
    for _ in range(5):
        await dialer.tick()
    snap = await floor.agents.get(agent)
    assert (snap.state, snap.attempt_id) == (AgentState.talking, attempt_id)
    assert (await saved.json())["call_live"] is True  # the page keeps the pop, no timer
    ready = await console.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert ready.status == 409
    assert "sigue en curso" in (await ready.json())["reason"]
    assert await floor.agents.reserve(agent, attempt_id + 1000) is False
    assert dialer.calls[attempt_id].agent_id == agent

    # The debtor hangs up: the dialer ends the call, the wrap-up follows, then ready.
    channel = floor.pbx.find_channel(cv.originate_channel_id(attempt_id))
    assert channel is not None
    floor.pbx.hangup(channel)
    await floor.run_until(lambda: attempt_id not in dialer.calls and not dialer.finisher.owed)
    await until(lambda: _in_state(floor, agent, AgentState.ready), "ready after the call's end")
    with Session(floor.engine) as s:
        row = s.get_one(CallAttempt, attempt_id)
        assert row.ended_at is not None and row.agent_id == agent


async def _talking(floor, agent: int, attempt_id: int) -> bool:  # type: ignore[no-untyped-def]
    snap = await floor.agents.get(agent)
    return snap.state is AgentState.talking and snap.attempt_id == attempt_id


async def _in_state(floor, agent: int, state: AgentState) -> bool:  # type: ignore[no-untyped-def]
    return (await floor.agents.get(agent)).state is state
