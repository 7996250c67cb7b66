"""A disposition saved while the debtor is still on the line: the agent stays on the
call until the dialer ends it, and Disponible is refused while the call is up. Before,
the save moved the agent to wrap-up and Disponible (or the page's timer) made them
ready: reservable by the dialer with the first debtor still in their bridge."""

from __future__ import annotations

from datetime import timedelta

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine, update

from console.agent_service import CHAT_LEDGER_SOURCE
from dialer.agent_state import AgentState, AgentStates
from store.db import transaction
from store.models import CallAttempt

ENDED = NOW - timedelta(seconds=40)
CALL_UP = "La llamada sigue en curso: cuelgue con «Colgar» antes de quedar disponible."


async def on_the_call(states: AgentStates, agent: int, attempt: int) -> None:
    await states.login(agent, "mx-demo")
    await states.set_ready(agent)
    assert await states.reserve(agent, attempt)
    await states.talking(agent, attempt)


async def dispose(client: TestClient, token: str, attempt: int) -> dict:  # type: ignore[type-arg]
    resp = await client.post(
        "/api/agent/disposition",
        json={"attempt_id": attempt, "party": "tercero", "outcome": "numero_equivocado"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def ready(client: TestClient, token: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    resp = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    return resp.status, await resp.json()


def ends(engine: Engine, attempt: int) -> None:
    """The dialer writes the call's end (before it releases the agent)."""
    with transaction(engine) as session:
        session.execute(update(CallAttempt).where(CallAttempt.id == attempt)
                        .values(result="contact", ended_at=ENDED))  # fmt: skip


async def test_given_a_call_up_when_its_disposition_is_saved_then_the_agent_stays_on_it_until_it_ends(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    ana = seed.users["ana"]
    token = await login(client, "ana")
    states = AgentStates(aredis)
    call = make_attempt(engine, seed.account_id, ana, result=None)
    await on_the_call(states, ana, call)
    saved = await dispose(client, token, call)
    assert saved["call_live"] is True
    assert saved["message"] == (
        "Tipificación guardada. La llamada sigue en curso: al colgar empieza el cierre."
    )
    snap = await states.get(ana)
    assert (snap.state, snap.attempt_id) == (AgentState.talking, call)
    # Disponible (the page's timer, another tab) is refused; no dialer can take them.
    assert await ready(client, token) == (409, {"ok": False, "reason": CALL_UP})
    assert (await states.get(ana)).state is AgentState.talking
    assert await states.reserve(ana, call + 1) is False
    # A pause asked now is kept for after the call, as in any call.
    paused = await client.post("/api/agent/pause", json={"reason": "break"},
                               headers={"X-CSRF-Token": token})  # fmt: skip
    assert (await paused.json())["state"]["state"] == "talking"
    await client.post("/api/agent/pause/cancel", headers={"X-CSRF-Token": token})
    # The debtor hangs up: the dialer writes the end and releases the agent.
    ends(engine, call)
    assert await states.release(ana, call)
    status, body = await ready(client, token)
    assert (status, body["state"]["state"]) == (200, "ready")


async def test_given_an_open_call_when_the_agent_is_in_wrap_up_or_paused_then_disponible_is_refused(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """A wrap-up left by an older console at the save, or a pause after the phone's leg
    came back during the call: the row is still open, the debtor still in the bridge."""
    ana = seed.users["ana"]
    token = await login(client, "ana")
    states = AgentStates(aredis)
    call = make_attempt(engine, seed.account_id, ana, result=None)
    await on_the_call(states, ana, call)
    await dispose(client, token, call)
    await states.wrap_up(ana)
    assert await ready(client, token) == (409, {"ok": False, "reason": CALL_UP})
    await states.no_audio(ana)
    await states.out_of_no_audio(ana, AgentState.paused, "reconexión")
    assert (await states.get(ana)).attempt_id == call
    assert await ready(client, token) == (409, {"ok": False, "reason": CALL_UP})
    ends(engine, call)
    status, body = await ready(client, token)
    assert (status, body["state"]["state"]) == (200, "ready")


async def test_given_a_transferred_call_when_the_first_agent_goes_ready_then_allowed(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The row names the agent who took the transfer: the first one is off the call."""
    ana, beto = seed.users["ana"], seed.users["beto"]
    token = await login(client, "ana")
    states = AgentStates(aredis)
    call = make_attempt(engine, seed.account_id, ana, result=None)
    await on_the_call(states, ana, call)
    await dispose(client, token, call)
    with transaction(engine) as session:
        session.execute(update(CallAttempt).where(CallAttempt.id == call).values(agent_id=beto))
    await states.wrap_up(ana)  # the dialer's move at the transfer
    status, body = await ready(client, token)
    assert (status, body["state"]["state"]) == (200, "ready")


async def test_given_a_chat_when_its_disposition_is_saved_then_wrap_up_at_once(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """A chat ends with its disposition (the chat queue closes it)."""
    ana = seed.users["ana"]
    token = await login(client, "ana")
    states = AgentStates(aredis)
    chat = make_attempt(engine, seed.account_id, ana, result=None, source=CHAT_LEDGER_SOURCE,
                        channel="chat", direction="inbound")  # fmt: skip
    await on_the_call(states, ana, chat)
    assert await ready(client, token) == (409, {"ok": False, "reason": (
        "Tipifique la llamada anterior antes de continuar.")})  # fmt: skip
    saved = await dispose(client, token, chat)
    assert (saved["call_live"], saved["message"]) == (False, "Tipificación guardada.")
    assert (await states.get(ana)).state is AgentState.wrap_up
    status, body = await ready(client, token)
    assert (status, body["state"]["state"]) == (200, "ready")


async def test_given_a_talking_agent_when_an_older_call_is_disposed_then_still_on_the_new_one(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """Before, any disposition moved a talking agent to wrap-up, whatever call it named."""
    ana = seed.users["ana"]
    token = await login(client, "ana")
    states = AgentStates(aredis)
    older = make_attempt(engine, seed.account_id, ana)  # ended, not disposed
    ends(engine, older)
    call = make_attempt(engine, seed.other_account_id, ana, result=None)
    await on_the_call(states, ana, call)
    assert (await dispose(client, token, older))["call_live"] is False
    snap = await states.get(ana)
    assert (snap.state, snap.attempt_id) == (AgentState.talking, call)
