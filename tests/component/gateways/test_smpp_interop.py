"""Our SMPP 3.4 codec against an implementation we did not write (smpp34 from PyPI,
a Rust SMPP engine): our client bound to its server, and its client bound to our
SMSC. Binds, submit_sm with plain, UCS-2 and message_payload text, receipts as TLVs
and as text, and the debtor's replies must mean the same on both sides."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import smpp34
from support.polling import until
from support.ports import free_port

from gateways.smpp.client import SmppClient, SmppSettings
from gateways.smpp.codec import DataCoding, ShortMessage, Status, parse_receipt
from gateways.smpp.smsc import SmscSimulator


@dataclass
class TheirSmsc:
    """smpp34's server answering every submit and sending a TLV receipt for it."""

    server: Any
    esmes: dict[str, Any] = field(default_factory=dict)
    submits: list[Any] = field(default_factory=list)
    receipts: list[Any] = field(default_factory=list)

    async def serve(self) -> None:
        while True:
            event = await self.server.next()
            if isinstance(event, smpp34.Esme):
                self.esmes[event.session_id] = event
            elif isinstance(event, smpp34.SubmitSmEvent):
                message_id = f"rs{len(self.submits) + 1}"
                self.submits.append(event)
                event.accept(message_id=message_id)
                if event.registered_delivery & 1:
                    answer = await self.esmes[event.session_id].deliver_sm(
                        event.source_addr, b"", source_addr=event.destination_addr, esm_class=0x04,
                        tlvs=[smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\x00"),
                              smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([2]))],
                    )  # fmt: skip
                    self.receipts.append(answer)


@pytest.fixture
async def theirs() -> AsyncIterator[TheirSmsc]:
    port = free_port()
    server = smpp34.Server("127.0.0.1", port, system_id="RustSMSC")
    await server.start()
    smsc = TheirSmsc(server)
    smsc.port = port  # type: ignore[attr-defined]
    task = asyncio.create_task(smsc.serve())
    yield smsc
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await server.stop()


async def test_given_their_smsc_when_our_client_submits_then_it_reads_our_pdus_and_we_read_its_receipts(
    theirs: TheirSmsc,
) -> None:
    got: list[ShortMessage] = []

    async def on_message(message: ShortMessage) -> None:
        got.append(message)

    client = SmppClient(SmppSettings("127.0.0.1", theirs.port, "cobrador", "pw"), on_message)  # type: ignore[attr-defined]
    client.start()
    try:
        await client.wait_bound(10)
        texts = ["Aviso de pago", "Señor Pérez, ¿podemos hablar?", "x" * 300]
        ids = [await client.submit(ShortMessage.of_text("24680", "525512345678", t, registered_delivery=1))
               for t in texts]  # fmt: skip
        assert ids == ["rs1", "rs2", "rs3"]
        await until(lambda: len(got) == 3, "three receipts")
        [plain, spanish, long] = theirs.submits
        assert (
            plain.source_addr,
            plain.destination_addr,
            plain.data_coding,
            plain.short_message,
        ) == ("24680", "525512345678", DataCoding.default, b"Aviso de pago")
        assert (spanish.data_coding, spanish.short_message.decode("utf-16-be")) == (
            DataCoding.ucs2,
            texts[1],
        )
        payload = {t.tag: t.value for t in long.tlvs}[smpp34.TLV_MESSAGE_PAYLOAD]
        assert (long.short_message, payload) == (b"", b"x" * 300)
        assert sorted(parse_receipt(m).message_id for m in got) == ids
        assert {parse_receipt(m).state for m in got} == {"DELIVRD"}
        assert all(r.is_success for r in theirs.receipts)

        esme = next(iter(theirs.esmes.values()))
        answer = await esme.deliver_sm("24680", b"BAJA", source_addr="525512345678")
        assert answer.is_success
        await until(lambda: len(got) == 4, "the reply")
        assert (got[3].source, got[3].text, got[3].is_receipt) == ("525512345678", "BAJA", False)
    finally:
        await client.close()


async def test_given_our_smsc_when_their_client_submits_then_it_reads_our_answers_and_receipts() -> (
    None
):
    smsc = SmscSimulator({"rustesme": "pw"})
    await smsc.start()
    try:
        client = smpp34.Client("127.0.0.1", smsc.port, "rustesme", "pw", bind_type="TRX")
        session = await client.connect()
        answer = await session.submit_sm("525512345678", "Señor".encode("utf-16-be"),
                                         source_addr="24680", data_coding=8, registered_delivery=1)  # fmt: skip
        assert answer.is_success and answer.message_id == smsc.submitted[0].message_id
        assert smsc.submitted[0].message.text == "Señor"
        receipt = await asyncio.wait_for(session.next(), 10)
        assert isinstance(receipt, smpp34.DeliverSmEvent) and receipt.esm_class == 0x04
        tlvs = {t.tag: t.value for t in receipt.tlvs}
        assert tlvs[smpp34.TLV_RECEIPTED_MESSAGE_ID].rstrip(b"\x00").decode() == answer.message_id
        assert tlvs[smpp34.TLV_MESSAGE_STATE] == bytes([2])
        assert b"stat:DELIVRD" in receipt.short_message
        status = await smsc.reply("525512345678", "24680", "STOP")
        reply = await asyncio.wait_for(session.next(), 10)
        assert status == Status.ok and reply.short_message == b"STOP"
        await session.unbind()
        await client.stop()
    finally:
        await smsc.stop()
