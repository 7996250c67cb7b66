"""Screen-pops: one Redis subscriber per console process fans pops out to the
WebSockets of the agent they are for (the agent may be on any console process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from aiohttp import WSCloseCode, web
from sqlalchemy import Engine

from console.agent_service import build_pop, record_pii_view
from console.chat_unattached import build_chat_pop
from console.inbound_service import build_inbound_pop
from console.users import CurrentUser, load_user
from dialer import messages as msg
from metrics.definitions import POP_LATENCY, WEBSOCKETS_OPEN
from selfservice import conversations as conv
from store.db import transaction

log = logging.getLogger(__name__)
# How often a start still waiting for its Redis subscription says so.
READY_WARN_SECONDS = 10.0

PREVIEW_TTL_SECONDS = 3600
POLL_SECONDS = 0.25
# How long one socket may take to accept a message. A page that stops reading (a
# laptop asleep, a script) fills its buffers, and a send to it then waits: the state
# events are sent from the loop that reads every pop, so one such socket held back
# every agent's pops until its heartbeat gave up (about 40 s). Past this it is closed
# (the page reconnects and reads its state again).
SEND_SECONDS = 3.0
AGENT_CACHE_SECONDS = 60.0


VERIFIED_TTL_SECONDS = 24 * 3600
# A chat's pop (console/chat_queue.py CHAT_DIRECTION: it imports the app's keys, which
# import this module, so the name is repeated here).
CHAT_DIRECTION = "chat"
PORTAL_CHANNEL = "chat"  # the conversation's channel when it is the portal's chat box
PORTAL_VERIFIED_VIEW = "chat_portal_verified"  # the pii_view of a pop verified by the portal


def preview_key(agent_id: int) -> str:
    return f"cobrador:console:preview:{{{agent_id}}}"


def verified_key(attempt_id: int) -> str:
    """Who passed the identity questions on a call ("titular" or "aval"). A cache of
    what the screen may show: the evidence is the identity_check in the audit chain;
    a lost key only means the agent asks again (fails closed)."""
    return f"cobrador:console:verified:{{{attempt_id}}}"


def portal_verified(engine: Engine, attempt_id: int, account_id: int) -> str | None:
    """The party verified for the chat given on this attempt: "titular" when it comes
    from the portal's chat box for this account (only a session that passed the portal's identity check writes
    there, console/portal_chat_views.py, and the assistant has already told the debtor
    the balance in the transcript the agent reads). None for any other conversation (an
    SMS or WhatsApp number: whoever holds it), which the agent verifies as a call."""
    with transaction(engine) as session:
        chat = conv.of_attempt(session, attempt_id)
        if chat is None or chat.channel != PORTAL_CHANNEL or chat.account_id != account_id:
            return None
        return "titular"


def is_chat(engine: Engine, attempt_id: int) -> bool:
    """Whether the agent's attempt is a chat given to them (a page reloaded mid-chat)."""
    with transaction(engine) as session:
        return conv.of_attempt(session, attempt_id) is not None


async def send_or_close(ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
    """Send to one socket; one that does not take it within SEND_SECONDS is closed."""
    if ws.closed:
        return
    try:
        async with asyncio.timeout(SEND_SECONDS):
            await ws.send_json(payload)
    except (ConnectionError, RuntimeError):
        return  # gone already
    except TimeoutError:
        log.warning("a console socket took no message in %.0f s: closed", SEND_SECONDS)
        # aiohttp closes the transport itself when the close is cut short.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER)


class PopHub:
    def __init__(
        self, redis: aioredis.Redis, engine: Engine, clock: Callable[[], datetime],
        document_key: bytes | None = None,
    ) -> None:  # fmt: skip
        self._redis = redis
        self._document_key = document_key  # the portal's identity key: the inbound questions
        self._engine = engine
        self._clock = clock
        self._sockets: dict[int, set[web.WebSocketResponse]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()
        self._stopping = False
        self._agents: dict[int, tuple[float, CurrentUser | None]] = {}

    def register(self, agent_id: int, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets[agent_id]
        if ws not in sockets:
            sockets.add(ws)
            # inc/dec, not a set from this hub's count: the gauge is the process's.
            WEBSOCKETS_OPEN.inc()

    def unregister(self, agent_id: int, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(agent_id)
        if sockets is not None and ws in sockets:
            sockets.discard(ws)
            WEBSOCKETS_OPEN.dec()
            if not sockets:
                del self._sockets[agent_id]

    @property
    def connected_agents(self) -> int:
        return len(self._sockets)

    async def start(self) -> None:
        """Return once subscribed, so no pop published after start is missed.

        Waits as long as it takes, saying so every READY_WARN_SECONDS: a Redis that
        is slow (a loaded host) or not up yet must not stop the console, which comes up
        doing its job once Redis answers. A fixed 10 s limit failed a test run on a
        loaded machine, and a console started just before its Redis crashed instead of
        waiting for it. A listener that dies raises here.
        """
        self._task = asyncio.create_task(self._listen(), name="console-pophub")
        ready = asyncio.create_task(self._ready.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {ready, self._task}, timeout=READY_WARN_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )  # fmt: skip
                if ready in done:
                    return
                if self._task in done:
                    self._task.result()  # raises what killed it
                    raise RuntimeError("the pop subscriber ended before subscribing")
                log.warning(
                    "agents' screen pops: still waiting to subscribe to Redis; "
                    "the console starts once it answers"
                )
        finally:
            ready.cancel()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), POLL_SECONDS * 4)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        for task in list(self._inflight):
            task.cancel()
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutdown")

    async def _listen(self) -> None:
        backoff = 0.5
        while not self._stopping:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(msg.POPS_CHANNEL, msg.AGENT_EVENTS_CHANNEL)
                self._ready.set()
                backoff = 0.5
                while not self._stopping:
                    # get_message with a timeout, not listen(): a cancelled listen()
                    # can stay blocked in redis-py, so we stop by flag instead.
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=POLL_SECONDS
                    )
                    if message is None or message.get("type") != "message":
                        continue
                    channel = message.get("channel")
                    if channel in (msg.AGENT_EVENTS_CHANNEL, msg.AGENT_EVENTS_CHANNEL.encode()):
                        await self._forward_state(message["data"])
                        continue
                    task = asyncio.create_task(self._deliver(message["data"]))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
            except asyncio.CancelledError:
                raise
            except (aioredis.ConnectionError, OSError) as exc:
                log.warning("pop subscriber lost Redis (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined]

    async def _forward_state(self, raw: bytes | str) -> None:
        """An agent's state changed (the dialer or another tab did it): tell their page."""
        try:
            event = json.loads(raw)
            agent_id = int(event["agent_id"])
        except (ValueError, TypeError, KeyError):
            return
        for ws in list(self._sockets.get(agent_id, ())):
            await send_or_close(ws, {"type": "state", "state": event})

    async def _deliver(self, raw: bytes | str) -> None:
        try:
            pop = msg.parse_pop(raw)
        except msg.MessageError as exc:
            log.warning("ignored a pop: %s", exc)
            return
        if isinstance(pop, msg.InboundPop):
            await self._deliver_inbound(pop)
            return
        kind, agent_id, account_id = pop.TYPE, pop.agent_id, pop.account_id
        attempt_id = pop.attempt_id if isinstance(pop, msg.Pop) else None
        if isinstance(pop, msg.PreviewOffer):
            await self._redis.set(preview_key(agent_id), account_id, ex=PREVIEW_TTL_SECONDS)
        sockets = self._sockets.get(agent_id)
        if not sockets:
            return  # the agent is attached to another console process (or none)
        verified = None
        if isinstance(pop, msg.Pop) and pop.direction == CHAT_DIRECTION:
            verified = await asyncio.to_thread(portal_verified, self._engine, pop.attempt_id,
                                               account_id)  # fmt: skip
            if verified is not None:
                # The disposition may then speak of the debt, as after the agent's check.
                await self._redis.set(verified_key(pop.attempt_id), verified,
                                      ex=VERIFIED_TTL_SECONDS)  # fmt: skip
        payload = await asyncio.to_thread(self._load, agent_id, account_id, attempt_id, kind,
                                          verified)  # fmt: skip
        if payload is None:
            log.warning("pop for unknown account %s", account_id)
            return
        payload["type"] = kind
        if isinstance(pop, msg.Pop):
            payload["direction"] = pop.direction  # a chat's pop: the page says "En chat"
        payload["published_at"] = pop.published_at
        payload["pop_id"] = pop.pop_id if isinstance(pop, msg.Pop) else None
        for ws in list(sockets):
            await send_or_close(ws, payload)
        POP_LATENCY.labels(str(payload.get("campaign") or "none")).observe(
            max(time.time() - pop.published_at, 0.0)
        )
        # The evidence of the view is written right after the send, off the
        # latency path (the agent is already talking to the debtor); a failure
        # to write it is logged loudly.
        try:
            await asyncio.to_thread(
                record_pii_view, self._engine, self._agent(agent_id), account_id, attempt_id,
                PORTAL_VERIFIED_VIEW if verified is not None else kind,
            )  # fmt: skip
        except Exception:
            log.exception("pii_view evidence for a pop to agent %s was not written", agent_id)

    async def _deliver_inbound(self, pop: msg.InboundPop) -> None:
        """An inbound caller reached an agent: names only until identity is verified
        (console/inbound_service.py writes the pii_view of those names)."""
        sockets = self._sockets.get(pop.agent_id)
        if not sockets:
            return
        # A chat that names no single account pops the same way (console/chat_unattached.py).
        build = build_chat_pop if pop.direction == "chat" else build_inbound_pop
        payload = await asyncio.to_thread(
            build, self._engine, pop.to_dict(), self._agent(pop.agent_id), self._clock(),
            key=self._document_key,
        )  # fmt: skip
        payload["published_at"] = pop.published_at
        for ws in list(sockets):
            await send_or_close(ws, payload)

    def _agent(self, agent_id: int) -> CurrentUser | None:
        """The agent's name for the script; cached a minute (the hot path is SQL)."""
        cached = self._agents.get(agent_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        agent = load_user(self._engine, agent_id)
        self._agents[agent_id] = (time.monotonic() + AGENT_CACHE_SECONDS, agent)
        return agent

    def _load(
        self, agent_id: int, account_id: int, attempt_id: int | None, kind: str,
        verified: str | None = None,
    ) -> dict[str, Any] | None:  # fmt: skip
        agent = self._agent(agent_id)
        return build_pop(
            self._engine, account_id, attempt_id, agent, self._clock(), kind, audit=False,
            verified_party=verified, key=self._document_key,
        )  # fmt: skip
