"""A user holds a bounded number of console WebSockets (each wallboard keeps a Redis
connection of its own): one more is answered 429 and a closed one frees its slot;
a socket refuses a message bigger than a ping needs."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import login, origin
from support.polling import until

from console.keys import SOCKET_SLOTS
from console.socket_slots import MAX_MESSAGE_BYTES, PER_USER, SocketSlots

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
