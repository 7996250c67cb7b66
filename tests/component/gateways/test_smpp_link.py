"""Our SMPP client against our SMSC over real sockets, and each against a raw peer that
sends what a broken one would: malformed and oversized PDUs, silence, unknown commands."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

import pytest
from support.polling import until

from gateways.smpp.client import NotBound, SmppClient, SmppSettings, SubmitRejected, SubmitUncertain
from gateways.smpp.codec import (
    Bind,
    Command,
    Pdu,
    PduReader,
    ShortMessage,
    Status,
    encode_message_id,
    encode_system_id,
    parse_receipt,
)
from gateways.smpp.smsc import SmscSimulator


def settings(port: int, **kw: object) -> SmppSettings:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "system_id": "cobrador",
                                 "password": "secret", "response_timeout_seconds": 5.0}  # fmt: skip
    values.update(kw)
    return SmppSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    server = SmscSimulator({"cobrador": "secret"},
                           fate=lambda dest: ("UNDELIV", "034") if dest.endswith("0000") else ("DELIVRD", "000"))  # fmt: skip
    await server.start()
    yield server
    await server.stop()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[ShortMessage] = []
        self.fail_next = 0

    async def __call__(self, message: ShortMessage) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("store down")
        self.messages.append(message)


@contextlib.asynccontextmanager
async def bound_client(port: int, inbox: Inbox, **kw: object) -> AsyncIterator[SmppClient]:
    client = SmppClient(settings(port, **kw), inbox)
    client.start()
    try:
        await client.wait_bound(10)
        yield client
    finally:
        await client.close()


async def test_given_a_bound_client_when_it_submits_then_message_id_and_delivery_receipt(
    smsc: SmscSimulator,
) -> None:
    inbox = Inbox()
    async with bound_client(smsc.port, inbox) as client:
        ok = await client.submit(
            ShortMessage.of_text("COBRA", "525512345678", "Hola", registered_delivery=1)
        )
        bad = await client.submit(
            ShortMessage.of_text("COBRA", "525500000000", "Hola", registered_delivery=1)
        )
        await until(lambda: len(inbox.messages) == 2, "two receipts")
    receipts = {parse_receipt(m).message_id: parse_receipt(m) for m in inbox.messages}
    assert receipts[ok].state == "DELIVRD"
    assert (receipts[bad].state, receipts[bad].error) == ("UNDELIV", "034")
    assert [s.message.text for s in smsc.submitted] == ["Hola", "Hola"]


async def test_given_a_debtor_reply_when_the_smsc_delivers_it_then_the_callback_gets_its_text(
    smsc: SmscSimulator,
) -> None:
    inbox = Inbox()
    async with bound_client(smsc.port, inbox):
        status = await smsc.reply("525512345678", "COBRA", "BAJA por favor")
    assert status == Status.ok
    assert [(m.source, m.text, m.is_receipt) for m in inbox.messages] == [
        ("525512345678", "BAJA por favor", False)
    ]


async def test_given_a_failing_handler_when_a_reply_comes_then_the_smsc_retries_and_nothing_is_lost(
    smsc: SmscSimulator,
) -> None:
    inbox = Inbox()
    inbox.fail_next = 2
    async with bound_client(smsc.port, inbox):
        status = await smsc.reply("525512345678", "COBRA", "STOP")
    assert status == Status.ok
    assert [m.text for m in inbox.messages] == ["STOP"]


async def test_given_a_wrong_password_when_binding_then_never_bound(smsc: SmscSimulator) -> None:
    client = SmppClient(settings(smsc.port, password="wrong"), Inbox())
    client.start()
    try:
        await until(lambda: smsc.refused_pdus >= 1, "the bind refused")
        assert client.binds == 0 and not client.bound.is_set()
        with pytest.raises(NotBound):
            await client.submit(ShortMessage.of_text("A", "525512345678", "x"))
    finally:
        await client.close()


async def test_given_the_link_drops_when_the_smsc_comes_back_then_the_client_rebinds(
    smsc: SmscSimulator,
) -> None:
    inbox = Inbox()
    async with bound_client(smsc.port, inbox) as client:
        smsc.drop_links()
        await until(lambda: client.binds == 2 and client.bound.is_set(), "a second bind")
        message_id = await client.submit(ShortMessage.of_text("COBRA", "525512345678", "again"))
    assert message_id == smsc.submitted[-1].message_id


async def test_given_malformed_pdus_when_sent_to_the_smsc_then_each_is_answered_with_an_error(
    smsc: SmscSimulator,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
    pdus = PduReader()

    async def ask(pdu: Pdu) -> Pdu:
        writer.write(pdu.encode())
        while True:
            got = list(pdus.feed(await reader.read(4096)))
            if got:
                return got[0]

    submit = ShortMessage.of_text("A", "525512345678", "x").encode()
    assert (await ask(Pdu(Command.submit_sm, 0, 1, submit))).status == Status.incorrect_bind_status
    assert (
        await ask(Pdu(Command.bind_transceiver, 0, 2, b"no-nul"))
    ).status == Status.invalid_message_length
    bind = Bind("cobrador", "secret").encode()
    assert (await ask(Pdu(Command.bind_transceiver, 0, 3, bind))).status == Status.ok
    assert (await ask(Pdu(Command.bind_transceiver, 0, 4, bind))).status == Status.already_bound
    assert (
        await ask(Pdu(Command.submit_sm, 0, 5, submit[:9]))
    ).status == Status.invalid_message_length
    nack = await ask(Pdu(0x00000103, 0, 6))  # data_sm: not spoken here
    assert (nack.command, nack.status) == (Command.generic_nack, Status.invalid_command_id)
    no_dest = ShortMessage.of_text("A", "", "x").encode()
    assert (
        await ask(Pdu(Command.submit_sm, 0, 7, no_dest))
    ).status == Status.invalid_destination_address
    writer.write(struct.pack(">IIII", 1 << 20, Command.submit_sm, 0, 8))  # a 1 MiB PDU announced
    assert await reader.read(4096) == b""  # the SMSC closed the link
    writer.close()


class RawSmsc:
    """A peer that binds anyone and then does what a test scripts: `on_pdu(pdu)`
    returns the bytes to send back."""

    def __init__(self) -> None:
        self.received: list[Pdu] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.script: list[bytes] = []  # sent right after the bind answer
        self.answer_submits = True
        self.answer_binds = True

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        pdus = PduReader()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                for pdu in pdus.feed(data):
                    self.received.append(pdu)
                    if pdu.command == Command.bind_transceiver and self.answer_binds:
                        writer.write(Pdu(Command.bind_transceiver_resp, 0, pdu.sequence,
                                         encode_system_id("raw")).encode())  # fmt: skip
                        for chunk in self.script:
                            writer.write(chunk)
                    elif pdu.command == Command.submit_sm and self.answer_submits:
                        writer.write(
                            Pdu(Command.submit_sm_resp, Status.throttled, pdu.sequence).encode()
                        )

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()


@pytest.fixture
async def raw() -> AsyncIterator[RawSmsc]:
    peer = RawSmsc()
    yield peer
    await peer.stop()


def answers(raw: RawSmsc, command: Command) -> list[Pdu]:
    return [p for p in raw.received if p.command == command]


async def test_given_bad_pdus_from_the_smsc_when_read_then_the_client_answers_errors_and_stays_bound(
    raw: RawSmsc,
) -> None:
    raw.script = [
        Pdu(Command.deliver_sm, 0, 90, b"\x00\x01\x01short").encode(),  # body cut short
        Pdu(0x00000103, 0, 91).encode(),  # data_sm: unknown here
        Pdu(Command.submit_sm_resp, 0, 4242, encode_message_id("x")).encode(),  # no such request
        Pdu(Command.enquire_link, 0, 92).encode(),
    ]
    inbox = Inbox()
    port = await raw.start()
    async with bound_client(port, inbox) as client:
        await until(lambda: answers(raw, Command.enquire_link_resp), "the enquire_link answered")
        assert answers(raw, Command.deliver_sm_resp)[0].status == Status.invalid_message_length
        nack = answers(raw, Command.generic_nack)[0]
        assert (nack.sequence, nack.status) == (91, Status.invalid_command_id)
        assert client.bound.is_set() and client.binds == 1 and inbox.messages == []


async def test_given_a_refused_submit_then_rejected_with_its_status(raw: RawSmsc) -> None:
    port = await raw.start()
    async with bound_client(port, Inbox()) as client:
        with pytest.raises(SubmitRejected, match="throttled") as caught:
            await client.submit(ShortMessage.of_text("A", "525512345678", "x"))
    assert caught.value.status == Status.throttled


async def test_given_a_silent_smsc_when_submitting_then_uncertain_and_not_sent_twice(
    raw: RawSmsc,
) -> None:
    raw.answer_submits = False
    port = await raw.start()
    async with bound_client(port, Inbox(), response_timeout_seconds=0.5) as client:
        with pytest.raises(SubmitUncertain):
            await client.submit(ShortMessage.of_text("A", "525512345678", "x"))
    assert len(answers(raw, Command.submit_sm)) == 1


async def test_given_an_oversized_pdu_from_the_smsc_then_the_client_drops_the_link_and_rebinds(
    raw: RawSmsc,
) -> None:
    raw.script = [struct.pack(">IIII", 1 << 24, Command.deliver_sm, 0, 1)]
    port = await raw.start()
    client = SmppClient(settings(port), Inbox())
    client.start()
    try:
        await until(lambda: len(answers(raw, Command.bind_transceiver)) >= 2, "a second bind")
    finally:
        await client.close()


async def test_given_a_quiet_link_then_the_client_sends_enquire_link_and_the_smsc_answers(
    smsc: SmscSimulator,
) -> None:
    async with bound_client(smsc.port, Inbox(), enquire_link_seconds=0.1) as client:
        await until(lambda: client.binds == 1 and client.bound.is_set() and smsc.enquired >= 3,
                    "three enquire_link answered on one bind")  # fmt: skip


async def test_given_an_smsc_that_stops_answering_enquire_link_then_the_client_rebinds(
    raw: RawSmsc,
) -> None:
    port = await raw.start()
    client = SmppClient(
        settings(port, enquire_link_seconds=0.1, response_timeout_seconds=0.3), Inbox()
    )
    client.start()
    try:
        await until(lambda: len(answers(raw, Command.bind_transceiver)) >= 2,
                    "a second bind after the unanswered enquire_link")  # fmt: skip
        assert answers(raw, Command.enquire_link)
    finally:
        await client.close()


async def test_given_an_smsc_that_never_answers_the_bind_then_the_client_keeps_trying(
    raw: RawSmsc,
) -> None:
    raw.answer_binds = False
    port = await raw.start()
    client = SmppClient(settings(port, response_timeout_seconds=0.2), Inbox())
    client.start()
    try:
        await until(lambda: len(answers(raw, Command.bind_transceiver)) >= 2, "a second bind")
        assert client.binds == 0
    finally:
        await client.close()


async def test_given_many_submits_at_once_then_no_more_than_the_window_await_answers(
    raw: RawSmsc,
) -> None:
    raw.answer_submits = False  # nothing answers: what is in flight stays in flight
    port = await raw.start()
    async with bound_client(port, Inbox(), window=3, response_timeout_seconds=1.0) as client:
        sends = [asyncio.create_task(client.submit(ShortMessage.of_text("A", "525512345678", str(i))))
                 for i in range(7)]  # fmt: skip
        await until(lambda: len(answers(raw, Command.submit_sm)) == 3, "three submits on the wire")
        await asyncio.sleep(0.3)  # the other four must still be waiting for the window
        assert len(answers(raw, Command.submit_sm)) == 3
        results = await asyncio.gather(*sends, return_exceptions=True)
    assert all(isinstance(r, SubmitUncertain) for r in results)
    assert len(answers(raw, Command.submit_sm)) == 7
