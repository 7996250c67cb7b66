"""A user holds a bounded number of console WebSockets (each wallboard keeps a Redis
connection of its own): one more is answered 429 and a closed one frees its slot;
a socket refuses a message bigger than a ping needs; a socket whose page stopped
reading is closed instead of holding back the other agents' pops."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, login, origin
from sqlalchemy import Engine
from support.polling import until

from console import pophub
from console.keys import SOCKET_SLOTS
from console.pophub import PopHub
from console.socket_slots import MAX_MESSAGE_BYTES, PER_USER, SocketSlots
from dialer.messages import AGENT_EVENTS_CHANNEL

WALLBOARD = "/ws/wallboard?campaign=mx-demo"


async def test_given_a_supervisor_with_every_slot_open_when_one_more_then_429_and_room_after(
    client: TestClient,
) -> None:
    await login(client, "sofia")
    slots = client.server.app[SOCKET_SLOTS]
    sockets = [await client.ws_connect(WALLBOARD, headers={"Origin": origin(client)})
               for _ in range(PER_USER)]  # fmt: skip
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await client.ws_connect(WALLBOARD, headers={"Origin": origin(client)})
    assert exc.value.status == 429
    assert slots.open == PER_USER
    await sockets[0].close()
    await until(lambda: slots.open == PER_USER - 1)
    again = await client.ws_connect(WALLBOARD, headers={"Origin": origin(client)})
    for ws in [again, *sockets[1:]]:
        await ws.close()
    await until(lambda: slots.open == 0)


async def test_given_an_agent_socket_when_a_big_message_comes_then_closed(
    client: TestClient,
) -> None:
    await login(client, "ana")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await ws.send_str("x" * (MAX_MESSAGE_BYTES + 1))
    while (msg := await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
        pass  # the hello and state events
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    await until(lambda: client.server.app[SOCKET_SLOTS].open == 0)


def test_given_the_process_bound_when_reached_then_any_user_is_refused() -> None:
    slots = SocketSlots(per_user=2, total=3)
    with slots.take(1) as a, slots.take(1) as b, slots.take(1) as c:
        assert (a, b, c) == (True, True, False)
        with slots.take(2) as d, slots.take(3) as e:
            assert (d, e) == (True, False)
    assert slots.open == 0


class StuckSocket:
    """A page that stopped reading: every send waits for ever."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[Any] = []

    async def send_json(self, payload: Any) -> None:
        await asyncio.Event().wait()

    async def close(self, **_: Any) -> None:
        self.closed = True


class ReadingSocket(StuckSocket):
    async def send_json(self, payload: Any) -> None:
        self.sent.append(payload)


async def test_given_a_socket_that_stopped_reading_then_closed_and_the_other_agents_go_on(
    aredis: aioredis.Redis, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """State events are sent from the loop that reads every pop: one socket whose page
    stopped reading held back every agent's pops until its heartbeat gave up."""
    monkeypatch.setattr(pophub, "SEND_SECONDS", 0.2)
    hub = PopHub(aredis, engine, clock=lambda: NOW)
    stuck, reading = StuckSocket(), ReadingSocket()
    hub.register(1, stuck)  # type: ignore[arg-type]
    hub.register(2, reading)  # type: ignore[arg-type]
    await hub.start()
    try:
        for agent in (1, 2):
            event = {"agent_id": agent, "state": "ready"}
            await aredis.publish(AGENT_EVENTS_CHANNEL, json.dumps(event))
        await until(lambda: reading.sent, within=20)
        assert stuck.closed and reading.sent[0]["state"]["agent_id"] == 2
    finally:
        await hub.stop()


@pytest.mark.parametrize(("user", "path"), [("ana", "/ws/agent"), ("sofia", WALLBOARD)])
async def test_given_an_open_socket_when_the_console_shuts_down_then_closed_going_away(
    client: TestClient, user: str, path: str
) -> None:
    # SIGTERM (docker stop) shuts the app down: its open sockets are closed then, not
    # left to the server's shutdown timeout (60 s, past docker's 10 s before SIGKILL).
    await login(client, user)
    ws = await client.ws_connect(path, headers={"Origin": origin(client)})
    assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT  # hello / snapshot
    await client.server.app.shutdown()

    async def closing() -> aiohttp.WSMessage:
        while (msg := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
            pass  # what was on its way (a wallboard pushes on and on while open)
        return msg

    msg = await asyncio.wait_for(closing(), 10)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.GOING_AWAY)
    await until(lambda: client.server.app[SOCKET_SLOTS].open == 0)
