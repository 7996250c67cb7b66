"""Feeds the agents' legs and the monitoring sessions: agent-state events and
console commands from Redis pub/sub, channel events from AMI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dialer import messages as msg
from dialer.agent_legs import AgentLegs
from dialer.ami import AMIClient, Message
from dialer.ami.errors import AMIError
from dialer.monitoring import CHECK_SECONDS, Monitoring, MonitorRefused

log = logging.getLogger(__name__)


class PhoneService:
    def __init__(
        self, *, redis: aioredis.Redis, ami: AMIClient, legs: AgentLegs, monitoring: Monitoring
    ) -> None:
        self.redis = redis
        self.ami = ami
        self.legs = legs
        self.monitoring = monitoring
        self._events = ami.events()  # subscribed now: no event is missed before run()
        self._stopping = asyncio.Event()
        # Set once the legs were first read against Asterisk: AMI events wait for it.
        self._first_pass = asyncio.Event()

    async def handle_command(self, command: msg.Command) -> None:
        """The phone commands (dialer/messages.py); the dial loops' are not ours."""
        match command:
            case msg.AgentLegReconnect():
                await self.legs.reconnect(command.agent_id)
            case msg.MonitorStart():
                with contextlib.suppress(MonitorRefused):
                    await self.monitoring.start(command.to_dict())
            case msg.MonitorStop():
                await self.monitoring.stop(command.to_dict())

    async def handle_ami_event(self, event: Message) -> None:
        await self.legs.on_ami_event(event)
        await self.monitoring.on_ami_event(event)

    async def reconcile(self, channels: list[Message]) -> None:
        await self.legs.reconcile(channels)
        await self.monitoring.reconcile(channels)

    async def start(self) -> None:
        if self.ami.connected:
            with contextlib.suppress(AMIError):
                _, channels = await self.ami.send_list_action({"Action": "CoreShowChannels"})
                await self.reconcile(channels)

    async def _legs_again(self) -> None:
        """The legs only, after a Redis outage: a monitoring session just asked for
        may have no channel yet, and AMI stayed up (its events ended the others)."""
        if self.ami.connected:
            with contextlib.suppress(AMIError):
                _, channels = await self.ami.send_list_action({"Action": "CoreShowChannels"})
                await self.legs.reconcile(channels)

    async def run(self) -> None:
        await asyncio.gather(self._ami_loop(), self._redis_loop(), self._check_loop())

    def request_stop(self) -> None:
        self._stopping.set()
        self._first_pass.set()
        self._events.close()

    async def _ami_loop(self) -> None:
        await self._first_pass.wait()  # in the order they came, after the first reading
        async for event in self._events:
            try:
                await self.handle_ami_event(event)
            except (RedisError, SQLAlchemyError, OSError):
                log.exception("phones: AMI event %s not handled", event.get("Event"))

    async def _check_loop(self) -> None:
        """Monitoring sessions read against their agents' states every CHECK_SECONDS,
        not only on the agents' pub/sub events, which a Redis blip loses; the legs
        left ringing by a dialer that died since, called again."""
        await self._first_pass.wait()
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), CHECK_SECONDS)
            if self._stopping.is_set():
                return
            try:
                await self.monitoring.check_calls(self.monitoring.clock())
            except (RedisError, OSError):
                log.warning("phones: monitoring sessions not checked (Redis unavailable)")
            try:
                await self.legs.sweep()
            except (RedisError, OSError, AMIError) as exc:
                log.warning("phones: legs of dead dialers not checked (%s)", exc)

    async def _redis_loop(self) -> None:
        """Subscribes, then reads the legs against Asterisk's channels (`start`; after
        a Redis outage the legs only): agent events are pub/sub, and
        one published before the subscription (an agent logging in as the dialer
        starts, or while Redis was away) reached nobody; the reading does what it
        would have (a logged-in agent without a leg is called). Polls (never blocks
        forever) and resubscribes after a Redis outage."""
        while not self._stopping.is_set():
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(msg.AGENT_EVENTS_CHANNEL, msg.COMMANDS_CHANNEL)
                if self._first_pass.is_set():
                    await self._legs_again()
                else:
                    await self.start()
                    self._first_pass.set()
                while not self._stopping.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is None or message.get("type") != "message":
                        continue
                    await self._dispatch(message)
            except (RedisError, OSError):
                log.warning("phones: Redis channels unavailable; retrying")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined]

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        channel = channel.decode() if isinstance(channel, bytes) else channel
        try:
            if channel == msg.AGENT_EVENTS_CHANNEL:
                data = json.loads(message["data"])
                if not isinstance(data, dict):
                    raise TypeError("not an object")
                await self.legs.on_agent_event(data)
                await self.monitoring.on_agent_event(data)
            else:
                await self.handle_command(msg.parse_command(message["data"]))
        except (ValueError, KeyError, TypeError, AMIError, SQLAlchemyError):
            log.warning("phones: bad or failed message on %s: %r", channel, message.get("data"))
