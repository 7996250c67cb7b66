"""A small SMSC (SMPP 3.4 server) for tests and the demo: accepts binds, answers
submit_sm with a message id, sends a delivery receipt for each message that asked for
one (delivered, or the fate `fate(destination)` gives), and sends the debtor's replies
(mobile-originated messages) on `reply()`. Kannel's bearerbox binds to it as to a
carrier's SMSC; our client binds to it in the component tests and the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateways.smpp.codec import (
    BINDS,
    DEFAULT_MAX_PDU,
    RECEIPT_ON_FINAL,
    Bind,
    BodyError,
    Command,
    FramingError,
    Pdu,
    PduReader,
    Receipt,
    ShortMessage,
    Status,
    encode_message_id,
    encode_system_id,
    is_response,
    receipt_message,
)

log = logging.getLogger(__name__)

RECEIVING = frozenset({Command.bind_receiver, Command.bind_transceiver})
TRANSMITTING = frozenset({Command.bind_transmitter, Command.bind_transceiver})


def always_delivered(destination: str) -> tuple[str, str]:
    return "DELIVRD", "000"


@dataclass
class Submitted:
    message_id: str
    message: ShortMessage
    system_id: str


@dataclass
class _Session:
    writer: asyncio.StreamWriter
    system_id: str = ""
    bind: int | None = None
    pending: dict[int, asyncio.Future[int]] = field(default_factory=dict)


class SmscSimulator:
    def __init__(self, accounts: dict[str, str] | None = None, *,
                 fate: Callable[[str], tuple[str, str]] = always_delivered,
                 refuse: Callable[[str], int] = lambda destination: Status.ok,
                 system_id: str = "cobrador-smsc", max_pdu: int = DEFAULT_MAX_PDU,
                 retries: int = 5) -> None:  # fmt: skip
        """`accounts`: system_id -> password (None accepts any); `fate(destination)` is
        the (stat word, err code) of each receipt; a deliver_sm the ESME refuses is sent
        again up to `retries` times; `refuse(destination)` is the status a submit_sm gets
        (ok: accepted)."""
        self.accounts = accounts
        self.fate = fate
        self.refuse = refuse
        self.system_id = system_id
        self.max_pdu = max_pdu
        self.retries = retries
        self.submitted: list[Submitted] = []
        self.refused_pdus = 0  # PDUs answered with an error status or closed on
        self.enquired = 0  # enquire_link answered
        self._ids = itertools.count(100000001)
        self._sequence = itertools.cycle(range(1, 0x7FFFFFFF))
        self._sessions: list[_Session] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_links()
        for task in list(self._tasks):
            task.cancel()
        for _ in range(100):  # each connection's reader sees its close and returns
            if not self._sessions:
                break
            await asyncio.sleep(0.01)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def drop_links(self) -> None:
        """Close every ESME connection (a carrier's link going down)."""
        for session in list(self._sessions):
            session.writer.close()

    def bound(self, receiving: bool = False) -> list[str]:
        """The system ids bound now (only those that receive, if asked)."""
        wanted = RECEIVING if receiving else BINDS
        return [s.system_id for s in self._sessions if s.bind in wanted]

    # --- the debtor's side ---

    async def reply(self, source: str, destination: str, text: str) -> int:
        """A mobile-originated message from `source` (the debtor's phone) to
        `destination` (our short code): the deliver_sm_resp status the ESME answered."""
        return await self._deliver(ShortMessage.of_text(source, destination, text), None)

    # --- the wire ---

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.append(session)
        pdus = PduReader(self.max_pdu)
        try:
            while data := await reader.read(65536):
                for pdu in pdus.feed(data):
                    self._handle(session, pdu)
        except FramingError as exc:
            self.refused_pdus += 1
            log.warning("SMSC: closing a link: %s", exc)
        except ConnectionError:
            pass
        finally:
            self._sessions.remove(session)
            for future in session.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("ESME link closed"))
            writer.close()

    def _send(self, session: _Session, pdu: Pdu) -> None:
        if not session.writer.is_closing():
            session.writer.write(pdu.encode())

    def _answer(self, session: _Session, pdu: Pdu, status: int, body: bytes = b"") -> None:
        if status != Status.ok:
            self.refused_pdus += 1
        self._send(session, Pdu(pdu.command | 0x80000000, status, pdu.sequence, body))

    def _handle(self, session: _Session, pdu: Pdu) -> None:
        if is_response(pdu.command):
            future = session.pending.pop(pdu.sequence, None)
            if future is not None and not future.done():
                future.set_result(pdu.status)
            return
        if pdu.command in BINDS:
            self._bind(session, pdu)
        elif pdu.command == Command.enquire_link:
            self.enquired += 1
            self._answer(session, pdu, Status.ok)
        elif pdu.command == Command.unbind:
            self._answer(session, pdu, Status.ok)
            session.bind = None
            session.writer.close()
        elif pdu.command == Command.submit_sm:
            self._submit(session, pdu)
        else:
            self.refused_pdus += 1
            self._send(session, Pdu(Command.generic_nack, Status.invalid_command_id, pdu.sequence))

    def _bind(self, session: _Session, pdu: Pdu) -> None:
        if session.bind is not None:
            self._answer(session, pdu, Status.already_bound)
            return
        try:
            bind = Bind.decode(pdu.body)
        except BodyError as exc:
            self._answer(session, pdu, exc.status)
            return
        if self.accounts is not None and self.accounts.get(bind.system_id) != bind.password:
            self._answer(session, pdu, Status.invalid_password)
            return
        session.bind, session.system_id = pdu.command, bind.system_id
        self._answer(session, pdu, Status.ok, encode_system_id(self.system_id))

    def _submit(self, session: _Session, pdu: Pdu) -> None:
        if session.bind not in TRANSMITTING:
            self._answer(session, pdu, Status.incorrect_bind_status)
            return
        try:
            message = ShortMessage.decode(pdu.body)
        except BodyError as exc:
            self._answer(session, pdu, exc.status)
            return
        if not message.destination:
            self._answer(session, pdu, Status.invalid_destination_address)
            return
        if refusal := self.refuse(message.destination):
            self._answer(session, pdu, refusal)
            return
        message_id = str(next(self._ids))
        self.submitted.append(Submitted(message_id, message, session.system_id))
        submitted_at = _smpp_date()
        self._answer(session, pdu, Status.ok, encode_message_id(message_id))
        if message.registered_delivery & RECEIPT_ON_FINAL:
            state, error = self.fate(message.destination)
            receipt = receipt_message(
                Receipt(message_id, state, error), source=message.source,
                destination=message.destination, submitted=submitted_at, done=_smpp_date(),
            )  # fmt: skip
            self._spawn(self._deliver(receipt, session.system_id))

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, message: ShortMessage, system_id: str | None) -> int:
        """Sends a deliver_sm to a receiving session (of `system_id` if given) and waits
        for its answer; a refused or unanswered one is sent again, up to `retries`."""
        status: int = Status.system_error
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(0.2)
            receivers = [s for s in self._sessions if s.bind in RECEIVING
                         and (system_id is None or s.system_id == system_id)]  # fmt: skip
            if not receivers:
                continue
            session = receivers[0]
            sequence = next(self._sequence)
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            session.pending[sequence] = future
            self._send(session, Pdu(Command.deliver_sm, 0, sequence, message.encode()))
            try:
                status = await asyncio.wait_for(future, 10.0)
            except (TimeoutError, ConnectionError):
                continue
            if status == Status.ok:
                return status
        return status


def _smpp_date() -> str:
    return datetime.now(UTC).strftime("%y%m%d%H%M")
