"""Asyncio AMI client: login, actions matched by ActionID, EventLists, event stream,
keepalive and reconnect.

Never re-sends: an action in flight when the link drops fails with
AMIDisconnected, and actions sent while disconnected fail at once (nothing is
queued), because a re-sent Originate dials a debtor twice. After a reconnect
the client runs CoreShowChannels and hands the live channels to
`on_reconnect` so the dialer can reconcile the calls it lost sight of.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dialer.ami.codec import (
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_MESSAGE_SIZE,
    AMIParser,
    Message,
    encode_action,
)
from dialer.ami.errors import (
    AMIActionError,
    AMIActionTimeout,
    AMIAuthError,
    AMIConnectionError,
    AMIDisconnected,
    AMIError,
    AMIListTooLong,
    AMIProtocolError,
)
from dialer.ami.eventlist import EventListCollector
from metrics.definitions import AMI_RECONNECTS, AMI_UP

log = logging.getLogger(__name__)

ReconnectCallback = Callable[[list[Message]], Awaitable[None] | None]
Action = Mapping[str, object]
_READ_SIZE = 65536


@dataclass(eq=False)
class _Link:
    """One TCP connection; a reconnect makes a new one."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    parser: AMIParser
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    dead: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@dataclass(eq=False)
class _Pending:
    action: str
    future: asyncio.Future[Message]
    collector: EventListCollector | None = None


class EventSubscription:
    """Async iterator over every event, across reconnects; ends when the client closes.

    Subscribes on creation (not on first iteration) so no event is missed in between.
    A consumer that falls `maxsize` events behind loses the oldest ones (`dropped`)
    rather than stalling the reader, which would make keepalives time out.
    """

    def __init__(self, client: AMIClient, maxsize: int) -> None:
        self._client = client
        self._queue: collections.deque[Message | None] = collections.deque()
        self._maxsize = maxsize
        self._wakeup = asyncio.Event()
        self.dropped = 0
        client._subscribers.add(self)
        if client._closed:
            self._put(None)

    def _put(self, item: Message | None) -> None:
        if item is not None and len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("AMI event consumer too slow: %d events dropped", self.dropped)
        self._queue.append(item)
        self._wakeup.set()

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> Message:
        while not self._queue:
            self._wakeup.clear()
            await self._wakeup.wait()
        item = self._queue.popleft()
        if item is None:
            self._queue.append(None)  # stay ended for later calls too
            self._client._subscribers.discard(self)
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        """Stop receiving; an `async for` waiting on this subscription ends."""
        self._client._subscribers.discard(self)
        if not self._queue or self._queue[-1] is not None:
            self._queue.append(None)
        self._wakeup.set()


class AMIClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        keepalive_interval: float | None = 20.0,
        reconnect_backoff: tuple[float, float] = (0.5, 10.0),
        on_reconnect: ReconnectCallback | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        event_buffer: int = 100_000,
        event_filter: Sequence[str] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.keepalive_interval = keepalive_interval
        self.reconnect_backoff = reconnect_backoff
        self.on_reconnect = on_reconnect
        self.max_message_size = max_message_size
        self.max_headers = max_headers
        self.event_buffer = event_buffer
        # Event names Asterisk should send this session (AMI `Filter`, Asterisk 22's
        # name() match); empty: every event. Filters die with the session, so they
        # are added again after every login.
        self.event_filter = tuple(event_filter)
        self.banner: str | None = None
        self.reconnects = 0
        self._link: _Link | None = None
        self._logged_in = False
        self._closing = False
        self._closed = False
        self._pending: dict[str, _Pending] = {}
        self._subscribers: set[EventSubscription] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._id_prefix = f"cobrador-{uuid.uuid4().hex[:8]}"
        self._ids = itertools.count(1)

    # -- public API -------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._logged_in and self._link is not None and not self._link.dead

    async def connect(self) -> None:
        """Connect and log in; raises AMIAuthError or AMIConnectionError."""
        self._closing = self._closed = False
        await self._establish()
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def close(self) -> None:
        self._closing = True
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
            self._supervisor = None
        link = self._link
        if link is not None:
            self._drop(link, "client closed")
            await asyncio.gather(*link.tasks, return_exceptions=True)
        for subscription in list(self._subscribers):
            subscription._put(None)

    def events(self) -> EventSubscription:
        """Every event from now on, across reconnects: `async for event in client.events()`."""
        return EventSubscription(self, self.event_buffer)

    async def send_action(self, action: Action, timeout: float | None = None) -> Message:  # noqa: ASYNC109
        """Send one action and return its response (raises AMIActionError on `Response: Error`)."""
        if not self.connected:
            raise AMIDisconnected(f"AMI not connected: {_action_name(action)} not sent")
        assert self._link is not None
        return await self._send(self._link, action, timeout, collect=False)

    async def send_list_action(
        self,
        action: Action,
        timeout: float | None = None,  # noqa: ASYNC109 (the contract's name)
    ) -> tuple[Message, list[Message]]:
        """Send a list action; return its response and the events up to `EventList: Complete`."""
        if not self.connected:
            raise AMIDisconnected(f"AMI not connected: {_action_name(action)} not sent")
        assert self._link is not None
        pending = await self._send_pending(self._link, action, timeout, collect=True)
        assert pending.collector is not None
        return pending.future.result(), pending.collector.items

    # -- sending ------------------------------------------------------------

    async def _send(
        self, link: _Link, action: Action, wait: float | None, *, collect: bool
    ) -> Message:
        pending = await self._send_pending(link, action, wait, collect=collect)
        return pending.future.result()

    async def _send_pending(
        self, link: _Link, action: Action, wait: float | None, *, collect: bool
    ) -> _Pending:
        fields = dict(action)
        name = _action_name(fields)
        action_id = str(fields.get("ActionID") or f"{self._id_prefix}-{next(self._ids)}")
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id} is already in flight")
        fields["ActionID"] = action_id
        data = encode_action(fields)  # type: ignore[arg-type]
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        pending = _Pending(name, future, EventListCollector() if collect else None)
        self._pending[action_id] = pending
        limit = self.action_timeout if wait is None else wait
        try:
            try:
                link.writer.write(data)
                await link.writer.drain()
            except (OSError, RuntimeError) as exc:
                # We cannot know whether Asterisk got it: report, never retry.
                self._drop(link, f"write failed: {exc}")
            try:
                await asyncio.wait_for(asyncio.shield(future), limit)
            except TimeoutError:
                raise AMIActionTimeout(
                    f"AMI action {name} (ActionID {action_id}) got no complete response "
                    f"within {limit:g} s"
                ) from None
        finally:
            self._pending.pop(action_id, None)
            if not future.done():
                future.cancel()
        response = future.result()
        if response.name.lower() == "error":
            raise AMIActionError(name, response.get("Message") or "", response)
        if pending.collector is not None and pending.collector.overflowed:
            raise AMIListTooLong(f"AMI action {name} (ActionID {action_id}) listed more than "
                                 f"{pending.collector.max_items} events; none kept")  # fmt: skip
        return pending

    # -- receiving ------------------------------------------------------------

    async def _read_loop(self, link: _Link) -> None:
        reason = "connection closed by peer"
        try:
            while True:
                data = await link.reader.read(_READ_SIZE)
                if not data:
                    break
                try:
                    messages = link.parser.feed(data)
                except AMIProtocolError as exc:
                    # A message was dropped, and it may have been the Hangup or the
                    # response of a live call: deliver what arrived intact, then
                    # drop the link so the reconnect fails what is in flight (never
                    # re-sent) and reconciles from CoreShowChannels.
                    for message in getattr(exc, "messages", []):
                        self._dispatch(message)
                    reason = f"protocol error: {exc}"
                    break
                if link.parser.banner and self.banner != link.parser.banner:
                    self.banner = link.parser.banner
                for message in messages:
                    self._dispatch(message)
        except OSError as exc:
            reason = f"read failed: {exc}"
        finally:
            self._drop(link, reason)

    def _dispatch(self, message: Message) -> None:
        action_id = message.action_id
        pending = self._pending.get(action_id) if action_id else None
        if message.is_response:
            if pending is None:
                log.debug("AMI response for unknown ActionID %s dropped (late?)", action_id)
                return
            if pending.collector is None:
                _resolve(pending.future, message)
            elif pending.collector.add(message):
                _resolve(pending.future, pending.collector.response or message)
            return
        if pending is not None and pending.collector is not None:
            if pending.collector.add(message):
                _resolve(pending.future, pending.collector.response or message)
            return
        if message.is_event:
            for subscription in list(self._subscribers):
                subscription._put(message)

    # -- connection lifecycle -------------------------------------------------

    async def _establish(self) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise AMIConnectionError(
                f"cannot connect to AMI at {self.host}:{self.port}: {exc or 'timeout'}"
            ) from exc
        link = _Link(reader, writer, AMIParser(self.max_message_size, self.max_headers))
        self._link = link
        self._logged_in = False
        link.tasks.append(asyncio.create_task(self._read_loop(link), name="ami-reader"))
        login = {"Action": "Login", "Username": self.username, "Secret": self._secret}
        try:
            await self._send(link, login, self.connect_timeout, collect=False)
        except AMIActionError as exc:
            self._drop(link, "login refused")
            raise AMIAuthError(
                f"AMI login as {self.username!r} refused: {exc.message} "
                "(check the user and secret in manager.conf)"
            ) from None
        except (AMIDisconnected, AMIActionTimeout) as exc:
            self._drop(link, "login failed")
            raise AMIConnectionError(f"AMI login at {self.host}:{self.port} failed: {exc}") from exc
        await self._add_filters(link)
        self._logged_in = True
        AMI_UP.set(1)
        if self.keepalive_interval:
            link.tasks.append(asyncio.create_task(self._keepalive(link), name="ami-keepalive"))
        log.info("AMI connected to %s:%s (%s)", self.host, self.port, self.banner or "no banner")

    async def _add_filters(self, link: _Link) -> None:
        for name in self.event_filter:
            action = {"Action": "Filter", "Operation": "Add", "MatchCriteria": f"name({name})"}
            try:
                await self._send(link, action, self.connect_timeout, collect=False)
            except AMIActionError as exc:
                # Only an optimisation: without it every event still arrives.
                log.warning("AMI event filter for %s refused: %s", name, exc.message)
            except (AMIDisconnected, AMIActionTimeout) as exc:
                self._drop(link, "event filter setup failed")
                raise AMIConnectionError(f"AMI session setup failed: {exc}") from exc

    def _drop(self, link: _Link, reason: str) -> None:
        """Forget a link: fail what was in flight on it (never re-sent) and wake the supervisor."""
        if link.dead:
            return
        link.dead = True
        if link is self._link:
            self._logged_in = False
            AMI_UP.set(0)
        if not self._closing:
            log.warning("AMI link to %s:%s lost: %s", self.host, self.port, reason)
        link.writer.close()
        current = asyncio.current_task()
        for task in link.tasks:
            if task is not current:
                task.cancel()
        for action_id, pending in list(self._pending.items()):
            if not pending.future.done():
                pending.future.set_exception(
                    AMIDisconnected(
                        f"AMI link lost while {pending.action} (ActionID {action_id}) was in "
                        "flight; it was NOT re-sent"
                    )
                )
        link.lost.set()

    async def _keepalive(self, link: _Link) -> None:
        assert self.keepalive_interval
        while not link.dead:
            await asyncio.sleep(self.keepalive_interval)
            try:
                await self._send(link, {"Action": "Ping"}, None, collect=False)
            except AMIActionTimeout:
                self._drop(link, "keepalive Ping timed out")
                return
            except AMIError:
                return

    async def _supervise(self) -> None:
        while not self._closing:
            link = self._link
            assert link is not None
            await link.lost.wait()
            if self._closing:
                return
            await self._reconnect()
            try:
                _, channels = await self.send_list_action({"Action": "CoreShowChannels"})
            except AMIError as exc:
                log.warning("CoreShowChannels after reconnect failed: %s", exc)
                continue
            log.info("AMI reconnected; %d live channels", len(channels))
            if self.on_reconnect is not None:
                try:
                    result = self.on_reconnect(channels)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("on_reconnect callback failed")

    async def _reconnect(self) -> None:
        delay, ceiling = self.reconnect_backoff
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self._establish()
            except AMIConnectionError as exc:
                log.warning("AMI reconnect failed (next try in %.1f s): %s", delay, exc)
                delay = min(delay * 2, ceiling)
                continue
            self.reconnects += 1
            AMI_RECONNECTS.inc()
            return


def _resolve(future: asyncio.Future[Message], message: Message) -> None:
    if not future.done():
        future.set_result(message)


def _action_name(action: Action) -> str:
    for key, value in action.items():
        if key.lower() == "action":
            return str(value)
    return "?"
