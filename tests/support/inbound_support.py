"""Helpers of the inbound component tests. The dialer's side (outside
test_inbound_calls.py: skill groups, metrics, recovery): the FastAGI routes wired as
dialer/service.py does, screen-pops seen on the pops channel. The agent page's side
(the console's tests of inbound calls and chats): a caller's row, the agent put on
it, its pop on the agent's socket, a chat handed over. Waits are bounded by
tests/support/polling.py."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.agent_state import AgentState, AgentStates
from dialer.inbound.calls import InboundCalls
from dialer.messages import POPS_CHANNEL, InboundPop, Notifier
from selfservice.chat_service import ChatService, Incoming
from store.db import transaction
from store.models import CallAttempt, Phone
from support.chat_standins import StandInActions, StandInAssistant
from support.polling import within

DID = "5215550001000"  # the test campaign's caller ID (conftest.seed_campaign)


def wire_inbound(floor: Any) -> InboundCalls:
    inbound = InboundCalls(sql=floor.engine, redis=floor.redis, clock=floor.clock,
                           poll_seconds=0.05)  # fmt: skip
    floor.agi.routes["inbound"] = inbound.handle
    floor.agi.routes["inbound_end"] = inbound.handle_end
    floor.agi.route_timeouts["inbound"] = 60.0
    return inbound


def inbound_attempts(engine: Any) -> list[CallAttempt]:
    with Session(engine) as s:
        # In the order they were written: PostgreSQL returns rows in no given order.
        rows = s.scalars(
            select(CallAttempt).where(CallAttempt.direction == "inbound").order_by(CallAttempt.id)
        )
        return list(rows.all())


class Pops:
    """Screen-pops published for agents (the console's PopHub reads the same channel)."""

    def __init__(self, redis: Any) -> None:
        self.pubsub = redis.pubsub()
        self.seen: list[dict[str, Any]] = []  # every pop read so far

    async def start(self) -> None:
        await self.pubsub.subscribe(POPS_CHANNEL)

    async def next(self) -> dict[str, Any]:
        """The next pop published. A pop that never comes fails the test after
        polling.WITHIN seconds: a bound for a hang, not a measure of the dialer (the
        20 s this allowed before are within reach of a loaded 2-core CI machine)."""
        return await within(self._next(), "a screen-pop published")

    async def _next(self) -> dict[str, Any]:
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message and message.get("type") == "message":
                pop: dict[str, Any] = json.loads(message["data"])
                self.seen.append(pop)
                return pop

    async def close(self) -> None:
        await self.pubsub.aclose()


# --- the agent page's side of an inbound call or chat (tests/component/console) ---

CAMPAIGN = "mx-demo"  # the console tests' seeded campaign (console_fixtures.seed_data)


def inbound_row(engine: Any, campaign_id: int, agent_id: int, now: datetime, number: str = "",
                account_id: int | None = None) -> int:  # fmt: skip
    """An inbound call's attempt row as the dialer writes it once bridged to the agent
    (`number` "": withheld; `account_id`: the one account the number names)."""
    with transaction(engine) as s:
        row = CallAttempt(account_id=account_id, phone_e164=number, campaign_id=campaign_id,
                          agent_id=agent_id, direction="inbound", source="inbound",
                          started_at=now, answered_at=now, bridged_at=now)  # fmt: skip
        s.add(row)
        s.flush()
        return int(row.id)


async def put_on_call(redis: Any, agent_id: int, attempt_id: int) -> None:
    """The agent's state as the dialer leaves it when it bridges the call: logged in if
    they were not, out of a call they were on, then reserved and talking on this one."""
    states = AgentStates(redis)
    snap = await states.get(agent_id)
    if snap.state is AgentState.logged_out:
        await states.login(agent_id, CAMPAIGN)
    elif snap.state in (AgentState.talking, AgentState.reserved):
        await states.wrap_up(agent_id)
    await states.set_ready(agent_id)
    assert await states.reserve(agent_id, attempt_id)
    await states.talking(agent_id, attempt_id)


async def withheld_call(engine: Any, redis: Any, campaign_id: int, agent_id: int,
                        now: datetime) -> int:  # fmt: skip
    """A call from a withheld number on the agent's line: the caller's row, the agent on it."""
    attempt = inbound_row(engine, campaign_id, agent_id, now)
    await put_on_call(redis, agent_id, attempt)
    return attempt


async def next_kind(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of `kind` on the agent's socket (state events skipped), bounded
    like every wait (support.polling.within)."""

    async def next_one() -> dict[str, Any]:
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind:
                return dict(msg)

    return await within(next_one(), f"a {kind!r} message on the agent's socket")


def _origin(client: TestClient) -> str:
    return str(client.make_url("/")).rstrip("/")


async def inbound_pop(client: TestClient, redis: Any, agent_id: int, attempt_id: int,
                      account_ids: Iterable[int], one_match: int | None = None,
                      verification: tuple[str, ...] = ("account_last4",)) -> dict[str, Any]:  # fmt: skip
    """The dialer puts the agent on the call and pops it (the accounts the caller's
    number names; `one_match`: the one it names): the pop on the agent's socket."""
    ws = await client.ws_connect("/ws/agent", headers={"Origin": _origin(client)})
    await next_kind(ws, "hello")
    await put_on_call(redis, agent_id, attempt_id)
    await Notifier(redis).send(InboundPop(
        attempt_id, agent_id, CAMPAIGN, "ok", tuple(account_ids), one_match,
        verification=verification, waited_seconds=0.0, published_at=1.5))  # fmt: skip
    pop = await next_kind(ws, "inbound")
    await ws.close()
    return pop


async def ready_then_pop(client: TestClient, token: str, kind: str) -> dict[str, Any]:
    """The agent goes ready on the page and gets the next pop of `kind` (a chat the
    console's routing loop gives: "pop" with its account, "inbound" names only)."""
    ws = await client.ws_connect("/ws/agent", headers={"Origin": _origin(client)})
    await next_kind(ws, "hello")
    resp = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert resp.status == 200, await resp.text()
    pop = await next_kind(ws, kind)
    await ws.close()
    return pop


def shared_number_chat(engine: Any, account_ids: Iterable[int], number: str,
                       now: datetime) -> None:  # fmt: skip
    """A number the accounts share (a chat from it names none) writes by SMS and asks for
    an agent: the chat waits in the queue for an agent's names-only pop."""
    with transaction(engine) as s:
        for account_id in account_ids:
            s.add(Phone(account_id=account_id, number_e164=number, position=2))
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    chat.handle(Incoming("sms", number, "hola", now - timedelta(minutes=1)))
    chat.handle(Incoming("sms", number, "quiero un asesor", now))
