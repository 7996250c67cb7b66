"""An SMPP 3.4 client (ESME) on asyncio: binds as a transceiver, submits messages,
hands every deliver_sm (delivery receipts and the debtor's replies) to a callback and
acknowledges it only once the callback returned, keeps the link with enquire_link,
and reconnects in one supervised loop.

A submit whose answer never came (the link dropped or the SMSC stayed silent) is
`SubmitUncertain` and is never re-sent here: the message may be on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateways.smpp.codec import (
    BINDS,
    DEFAULT_MAX_PDU,
    Bind,
    BodyError,
    Command,
    Pdu,
    PduReader,
    ShortMessage,
    SmppError,
    Status,
    decode_message_id,
    encode_message_id,
    is_response,
)

log = logging.getLogger(__name__)

OnMessage = Callable[[ShortMessage], Awaitable[None]]


@dataclass(frozen=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    enquire_link_seconds: float = 30.0
    response_timeout_seconds: float = 10.0
    reconnect_max_seconds: float = 30.0
    max_pdu: int = DEFAULT_MAX_PDU
    # Submits awaiting their answer at once (the SMSC's window; carriers answer
    # ESME_RTHROTTLED past theirs): the rest wait their turn here.
    window: int = 10


class SmppLinkError(Exception):
    """The link is down or broke: the one error the supervising loop catches."""


class NotBound(SmppLinkError):
    """No bound link now: the message was not sent."""


class SubmitRejected(Exception):
    """The SMSC refused the message (submit_sm_resp with an error status)."""

    def __init__(self, status: int) -> None:
        name = Status(status).name if status in Status._value2member_map_ else f"0x{status:08x}"
        super().__init__(f"SMSC refused the message: {name}")
        self.status = status


class SubmitUncertain(Exception):
    """The submit left and its answer did not come: never re-sent."""


class SmppClient:
    def __init__(self, settings: SmppSettings, on_message: OnMessage) -> None:
        self.settings = settings
        self.on_message = on_message
        self.bound = asyncio.Event()
        self.binds = 0  # successful binds so far: a reconnect shows as one more
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._sequence = itertools.cycle(range(1, 0x7FFFFFFF))
        self._task: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._closing = False
        self._window = asyncio.Semaphore(settings.window)

    # --- lifecycle ---

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="smpp-client")

    async def wait_bound(self, within: float) -> None:
        await asyncio.wait_for(self.bound.wait(), within)

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None and self.bound.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request(Command.unbind, b""), 2.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._handlers):
            task.cancel()

    async def _supervise(self) -> None:
        delay = 0.5
        while not self._closing:
            binds_before = self.binds
            try:
                await self._run_link()
            except (OSError, SmppLinkError, SmppError, TimeoutError) as exc:
                log.warning("SMPP link to %s:%s down: %s", self.settings.host,
                            self.settings.port, exc)  # fmt: skip
            finally:
                self._drop_link()
            # A link that bound retries soon; one that never did backs off.
            bound = self.binds > binds_before
            delay = 0.5 if bound else min(delay * 2, self.settings.reconnect_max_seconds)
            await asyncio.sleep(delay)

    async def _run_link(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.settings.host, self.settings.port),
            self.settings.response_timeout_seconds,
        )
        self._writer = writer
        pdus = PduReader(self.settings.max_pdu)
        read = asyncio.create_task(self._read(reader, pdus))
        try:
            bind = Bind(self.settings.system_id, self.settings.password, self.settings.system_type)
            answer = await self._wait(read, self._request(Command.bind_transceiver, bind.encode()))
            if answer.status != Status.ok:
                raise SmppLinkError(f"bind refused: status 0x{answer.status:08x}")
            self.binds += 1
            self.bound.set()
            log.info("SMPP bound to %s:%s as %s", self.settings.host, self.settings.port,
                     self.settings.system_id)  # fmt: skip
            while True:
                done, _ = await asyncio.wait({read}, timeout=self.settings.enquire_link_seconds)
                if done:
                    read.result()  # raises why the reader stopped
                    return
                await self._wait(read, self._request(Command.enquire_link, b""))
        finally:
            read.cancel()
            with contextlib.suppress(BaseException):
                await read

    async def _wait(self, read: asyncio.Task[None], request: Awaitable[Pdu]) -> Pdu:
        """The answer to a link request (bind, enquire_link), or the reader's failure if
        the link broke first; no answer in time is a dead link (SmppLinkError)."""
        answer = asyncio.ensure_future(request)
        done, _ = await asyncio.wait({answer, read}, return_when=asyncio.FIRST_COMPLETED)
        if answer in done:
            try:
                return answer.result()
            except SubmitUncertain as exc:
                raise SmppLinkError(f"SMSC silent: {exc}") from exc
        answer.cancel()
        # Its outcome (cancelled, or the drop's SubmitUncertain) is ours to take.
        answer.add_done_callback(lambda task: task.cancelled() or task.exception())
        read.result()
        raise SmppLinkError("link closed")

    def _drop_link(self) -> None:
        self.bound.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SubmitUncertain("SMPP link dropped before the answer"))
        self._pending.clear()

    # --- requests ---

    async def submit(self, message: ShortMessage) -> str:
        """The SMSC's message id. NotBound: nothing left; SubmitRejected: refused;
        SubmitUncertain: sent, answer lost."""
        async with self._window:
            if not self.bound.is_set():
                raise NotBound("no SMPP link bound now: message not sent")
            answer = await self._request(Command.submit_sm, message.encode())
        if answer.command == Command.generic_nack or answer.status != Status.ok:
            raise SubmitRejected(answer.status)
        try:
            return decode_message_id(answer.body)
        except BodyError as exc:
            raise SubmitUncertain(f"submit_sm_resp did not parse: {exc}") from exc

    async def _request(self, command: Command, body: bytes) -> Pdu:
        writer = self._writer
        if writer is None:
            raise NotBound("no SMPP link now")
        sequence = next(self._sequence)
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        writer.write(Pdu(command, 0, sequence, body).encode())
        try:
            return await asyncio.wait_for(future, self.settings.response_timeout_seconds)
        except TimeoutError as exc:
            raise SubmitUncertain(f"no answer to {command.name} in time") from exc
        finally:
            self._pending.pop(sequence, None)

    def _send(self, pdu: Pdu) -> None:
        if self._writer is not None:
            self._writer.write(pdu.encode())

    # --- what the SMSC sends ---

    async def _read(self, reader: asyncio.StreamReader, pdus: PduReader) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                raise SmppLinkError("SMSC closed the connection")
            for pdu in pdus.feed(data):  # FramingError ends the link
                self._dispatch(pdu)

    def _dispatch(self, pdu: Pdu) -> None:
        if is_response(pdu.command):
            future = self._pending.get(pdu.sequence)
            if future is None or future.done():
                log.warning("SMPP %s for no request of ours (sequence %s)", pdu.name, pdu.sequence)
                return
            future.set_result(pdu)
            return
        if pdu.command == Command.enquire_link:
            self._send(Pdu(Command.enquire_link_resp, Status.ok, pdu.sequence))
        elif pdu.command == Command.deliver_sm:
            task = asyncio.create_task(self._deliver(pdu))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        elif pdu.command == Command.unbind:
            self._send(Pdu(Command.unbind_resp, Status.ok, pdu.sequence))
            raise SmppLinkError("SMSC unbound")
        elif pdu.command in BINDS:
            self._send(Pdu(pdu.command | 0x80000000, Status.already_bound, pdu.sequence))
        else:
            log.warning("SMPP: unknown command %s from the SMSC", pdu.name)
            self._send(Pdu(Command.generic_nack, Status.invalid_command_id, pdu.sequence))

    async def _deliver(self, pdu: Pdu) -> None:
        """Acknowledged once handled: a handler that failed answers a temporary error,
        so the SMSC delivers it again instead of it being lost."""
        try:
            message = ShortMessage.decode(pdu.body)
        except BodyError as exc:
            log.warning("SMPP deliver_sm refused: %s", exc)
            self._send(Pdu(Command.deliver_sm_resp, exc.status, pdu.sequence))
            return
        try:
            await self.on_message(message)
        except Exception:
            log.exception("SMPP deliver_sm handler failed; the SMSC will retry it")
            self._send(Pdu(Command.deliver_sm_resp, Status.temporary_app_error, pdu.sequence))
            return
        self._send(Pdu(Command.deliver_sm_resp, Status.ok, pdu.sequence, encode_message_id("")))
