"""Asyncio FastAGI server: one small handler per script name.

A peer that connects and closes costs one read; a peer whose environment is
not AGI or passes the codec's bounds is logged and closed; a handler that
raises, runs past `request_timeout` or gets a reply the codec refuses sends
the call to the failure context (never left in the air); a hung-up channel
surfaces as AGIHangup inside the handler.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping

from dialer import channel_vars
from dialer.fastagi.codec import (
    AGIEnvironment,
    AGIErrorReply,
    AGIHangupNotice,
    AGIItem,
    AGIParser,
    AGIReply,
    encode_command,
    quote_arg,
)
from dialer.fastagi.errors import AGICommandError, AGIHangup, AGIProtocolError
from metrics.definitions import FASTAGI_FAILURES
from metrics.labels import reason_label

log = logging.getLogger(__name__)

Handler = Callable[["AGISession"], Awaitable[None]]
_READ_SIZE = 65536


def mask_digits(text: str) -> str:
    """Mask a dialed number but its last 4 digits: `Local/5215512345678@x` -> `Local/*********5678@x`."""
    return re.sub(r"(?<=/)\d{5,}", lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], text)


class AGISession:
    """One FastAGI request: the environment and a command/reply channel to Asterisk."""

    def __init__(
        self,
        env: AGIEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: AGIParser,
        pending: list[AGIItem],
    ) -> None:
        self.environment = env
        self.env = env.variables
        self.script = env.script
        self.args = env.args
        self.hung_up = False
        self._reader = reader
        self._writer = writer
        self._parser = parser
        self._pending = pending

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def who(self) -> str:
        """The call in log lines: its uniqueid, else the channel with digits masked
        (a debtor channel's name holds the phone number)."""
        return self.uniqueid or mask_digits(self.channel)

    async def command(self, command: str) -> AGIReply:
        """Send one command and return its `200` reply."""
        if self.hung_up:
            raise AGIHangup(f"call {self.who} hung up; {command.split(' ', 1)[0]} not sent")
        data = encode_command(command)
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            self.hung_up = True
            raise AGIHangup(f"AGI connection lost: {exc}") from exc
        item = await self._next_item()
        if isinstance(item, AGIErrorReply):
            if item.code == 511:
                self.hung_up = True
                raise AGIHangup(f"call {self.who} is dead (511)")
            raise AGICommandError(command, item.code, item.text)
        assert isinstance(item, AGIReply)
        return item

    async def _next_item(self) -> AGIReply | AGIErrorReply:
        while True:
            while self._pending:
                item = self._pending.pop(0)
                if isinstance(item, AGIHangupNotice):
                    self.hung_up = True
                    raise AGIHangup(f"call {self.who} hung up")
                if isinstance(item, AGIReply) and item.interim:
                    continue  # "100 result=0 Trying...": the final reply follows
                if isinstance(item, AGIReply | AGIErrorReply):
                    return item
            try:
                data = await self._reader.read(_READ_SIZE)
            except OSError as exc:
                data = b""
                log.debug("AGI read failed: %s", exc)
            if not data:
                self.hung_up = True
                raise AGIHangup(f"AGI connection for call {self.who} closed")
            try:
                items = self._parser.feed(data)
            except AGIProtocolError as exc:
                self._pending.extend(exc.items)
                raise
            self._pending.extend(items)

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == 1 else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {quote_arg(str(value))}")

    async def exec(self, application: str, arguments: str = "") -> AGIReply:
        """Run a dialplan application (EXEC Playback beep)."""
        line = f"EXEC {application}"
        if arguments:
            line += f" {quote_arg(arguments)}"
        return await self.command(line)

    async def goto(self, context: str, extension: str = "s", priority: int = 1) -> None:
        """Continue the dialplan at context,extension,priority once the AGI returns."""
        await self.exec("Goto", f"{context},{extension},{priority}")


MAX_CONNECTIONS = 500  # default bound on FastAGI connections served at once
TOO_MANY = "too_many_connections"  # the failure reason counted for a refused one


class FastAGIServer:
    def __init__(
        self,
        routes: Mapping[str, Handler],
        failure_context: str = channel_vars.CONTEXT_FAILURE,
        request_timeout: float = 30.0,
        environment_timeout: float = 5.0,
        route_timeouts: Mapping[str, float] | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.routes = dict(routes)
        # Connections served at once; past it a new one is closed at once (Asterisk
        # sends the call to cobrador-failure), so a flood cannot exhaust the process.
        self.max_connections = max_connections
        self.refused = 0
        # Routes that legitimately run long (an inbound caller waiting in queue).
        self.route_timeouts = dict(route_timeouts or {})
        self.failure_context = failure_context
        self.request_timeout = request_timeout
        self.environment_timeout = environment_timeout
        self.failures = 0  # requests sent to the failure context
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("FastAGI server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = channel_vars.FASTAGI_PORT) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)
        log.info("FastAGI listening on %s:%s", host, self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self.max_connections:
            self.refused += 1
            FASTAGI_FAILURES.labels(TOO_MANY).inc()
            log.warning("FastAGI: %d connections already served (the limit); one refused "
                        "(%d so far): its call goes to the failure context",
                        len(self._tasks), self.refused)  # fmt: skip
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # stop() cancels live requests; end quietly (asyncio's stream callback
            # would log a cancelled connection task as an error).
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = AGIParser()
        try:
            async with asyncio.timeout(self.environment_timeout):
                env, pending = await _read_environment(reader, parser)
        except AGIProtocolError as exc:
            log.warning(
                "FastAGI peer refused before a complete request, connection closed: %s", exc
            )
            return
        except (TimeoutError, OSError) as exc:
            log.info("FastAGI peer dropped before a complete request: %s", exc or "timeout")
            return
        if env is None:
            return  # connected and closed: nothing to do, nothing to spin on
        session = AGISession(env, reader, writer, parser, pending)
        handler = self.routes.get(env.script)
        if handler is None:
            log.warning(
                "FastAGI: no route for script %r (uniqueid %s)", env.script, session.uniqueid
            )
            await self._fail(session, "no_route")
            return
        timeout = self.route_timeouts.get(env.script, self.request_timeout)
        try:
            async with asyncio.timeout(timeout):
                await handler(session)
        except AGIHangup as exc:
            log.info("FastAGI %s: %s", env.script, exc)
        except AGIProtocolError as exc:
            log.warning(
                "FastAGI %s: Asterisk's reply refused (uniqueid %s): %s",
                env.script,
                session.uniqueid,
                exc,
            )
            await self._fail(session, "protocol_error")
        except TimeoutError:
            log.error(
                "FastAGI %s timed out after %g s (uniqueid %s)",
                env.script,
                timeout,
                session.uniqueid,
            )
            await self._fail(session, "timeout")
        except Exception:
            log.exception("FastAGI %s handler failed (uniqueid %s)", env.script, session.uniqueid)
            await self._fail(session, "handler_error")

    async def _fail(self, session: AGISession, reason: str) -> None:
        """Send the call to the failure context so it does not stay in the air."""
        self.failures += 1
        FASTAGI_FAILURES.labels(reason_label(reason)).inc()
        if session.hung_up:
            return
        try:
            async with asyncio.timeout(5.0):
                await session.set_variable(channel_vars.AGI_ERROR, reason)
                await session.goto(self.failure_context)
        except (AGIHangup, AGICommandError, AGIProtocolError, TimeoutError, OSError) as exc:
            log.warning(
                "FastAGI: could not send %s to the failure context: %s", session.uniqueid, exc
            )


async def _read_environment(
    reader: asyncio.StreamReader, parser: AGIParser
) -> tuple[AGIEnvironment | None, list[AGIItem]]:
    """Read until the blank line; (None, []) if the peer closes first."""
    while True:
        data = await reader.read(_READ_SIZE)
        if not data:
            return None, []
        items = parser.feed(data)
        if items:
            first, rest = items[0], items[1:]
            assert isinstance(first, AGIEnvironment)
            return first, rest
