"""The SMPP 3.4 codec: PDUs survive the wire, receipts parse from TLVs and text, and
every malformed input is refused with the status to answer or closes the stream."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.smpp.codec import (
    DEFAULT_MAX_PDU,
    ESM_DELIVERY_RECEIPT,
    Bind,
    BodyError,
    Command,
    DataCoding,
    FramingError,
    Pdu,
    PduReader,
    Receipt,
    ShortMessage,
    Status,
    Tag,
    decode_message_id,
    decode_text,
    encode_message_id,
    parse_receipt,
    receipt_message,
    relative_validity,
)


def test_given_a_pdu_when_fed_byte_by_byte_then_it_comes_out_whole_once() -> None:
    wire = Pdu(Command.enquire_link, 0, 7).encode() + Pdu(Command.unbind, 0, 8).encode()
    reader = PduReader()
    out = [pdu for byte in wire for pdu in reader.feed(bytes([byte]))]
    assert [(p.command, p.sequence) for p in out] == [
        (Command.enquire_link, 7),
        (Command.unbind, 8),
    ]


def test_given_a_header_when_encoded_then_it_follows_smpp_byte_order() -> None:
    wire = Pdu(Command.submit_sm_resp, Status.throttled, 0x01020304, b"ab\x00").encode()
    assert wire[:16] == struct.pack(">IIII", 19, 0x80000004, 0x58, 0x01020304)


@pytest.mark.parametrize("length", [0, 15, DEFAULT_MAX_PDU + 1, 0xFFFFFFFF])
def test_given_a_command_length_out_of_bounds_when_fed_then_framing_error(length: int) -> None:
    reader = PduReader()
    with pytest.raises(FramingError, match="command_length"):
        list(reader.feed(struct.pack(">IIII", length, Command.submit_sm, 0, 1)))


def test_given_a_partial_pdu_when_fed_then_nothing_until_the_rest_comes() -> None:
    wire = Pdu(Command.submit_sm_resp, 0, 3, encode_message_id("42")).encode()
    reader = PduReader()
    assert list(reader.feed(wire[:10])) == []
    assert [decode_message_id(p.body) for p in reader.feed(wire[10:])] == ["42"]


def test_given_a_bind_when_encoded_and_decoded_then_equal() -> None:
    bind = Bind("cobrador", "secret", "COLL", addr_ton=1, addr_npi=1, address_range="^52")
    assert Bind.decode(bind.encode()) == bind


@pytest.mark.parametrize(
    "body, field",
    [
        (b"cobrador", "system_id"),  # no NUL at all
        (b"a" * 20 + b"\x00", "system_id"),  # longer than 16 octets with its NUL
        (b"sys\x00pw\x00\x00", "interface_version"),  # body ends early
        (b"sys\x00pw\xff\x00\x00\x34\x00\x00\x00", "password"),  # not ASCII
    ],
)
def test_given_a_malformed_bind_when_decoded_then_body_error_names_the_field(body: bytes,
                                                                               field: str) -> None:  # fmt: skip
    with pytest.raises(BodyError, match=field) as caught:
        Bind.decode(body)
    assert caught.value.status == Status.invalid_message_length


def test_given_a_field_too_long_when_encoding_then_value_error() -> None:
    with pytest.raises(ValueError, match="source_addr"):
        ShortMessage("9" * 30, "+525512345678").encode()


@given(st.text(max_size=400))
def test_given_any_text_when_sent_then_the_same_text_comes_back(text: str) -> None:
    message = ShortMessage.of_text("COBRA", "525512345678", text, registered_delivery=1)
    decoded = ShortMessage.decode(message.encode())
    expected = text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
    assert decoded.text == expected.replace("\x00", "")  # a NUL never comes back
    assert decoded.registered_delivery == 1


def test_given_spanish_text_when_encoded_then_ucs2_and_ascii_stays_default() -> None:
    assert ShortMessage.of_text("A", "B", "Hola").data_coding == DataCoding.default
    assert ShortMessage.of_text("A", "B", "Señor, ¿cómo está?").data_coding == DataCoding.ucs2


def test_given_a_long_text_when_encoded_then_it_travels_in_message_payload() -> None:
    message = ShortMessage.of_text("A", "B", "x" * 300)
    assert message.short_message == b"" and Tag.message_payload in message.optional
    assert ShortMessage.decode(message.encode()).text == "x" * 300


def test_given_an_sm_length_beyond_the_body_when_decoded_then_body_error() -> None:
    body = bytearray(ShortMessage.of_text("A", "B", "hola").encode())
    body[body.index(b"hola") - 1] = 200  # sm_length says 200, 4 octets follow
    with pytest.raises(BodyError, match="short_message"):
        ShortMessage.decode(bytes(body))


def test_given_a_truncated_tlv_when_decoded_then_body_error() -> None:
    body = ShortMessage.of_text("A", "B", "hola").encode() + b"\x04\x24\x00"
    with pytest.raises(BodyError, match="optional parameter"):
        ShortMessage.decode(body)


def test_given_a_tlv_longer_than_the_body_when_decoded_then_body_error() -> None:
    body = ShortMessage.of_text("A", "B", "hola").encode() + b"\x04\x24\x00\x50abc"
    with pytest.raises(BodyError, match="0x0424"):
        ShortMessage.decode(body)


def test_given_a_receipt_when_built_then_tlvs_and_text_say_the_same() -> None:
    message = receipt_message(Receipt("100000001", "DELIVRD"), source="COBRA",
                              destination="525512345678", submitted="2612050900",
                              done="2612050901")  # fmt: skip
    decoded = ShortMessage.decode(message.encode())
    assert decoded.is_receipt and decoded.esm_class == ESM_DELIVERY_RECEIPT
    assert decoded.source == "525512345678" and decoded.destination == "COBRA"
    assert parse_receipt(decoded) == Receipt("100000001", "DELIVRD", "000")
    text_only = ShortMessage("525512345678", "COBRA", decoded.short_message, esm_class=4)
    assert parse_receipt(text_only) == Receipt("100000001", "DELIVRD", "000")


def test_given_a_receipt_text_of_another_smsc_when_parsed_then_its_fields() -> None:
    text = (b"id:0A1B2C sub:001 dlvrd:000 submit date:2612050900 done date:2612050905 "
            b"stat:UNDELIV err:034 text:Su saldo")  # fmt: skip
    message = ShortMessage("525512345678", "COBRA", text, esm_class=4)
    assert parse_receipt(message) == Receipt("0A1B2C", "UNDELIV", "034")


def test_given_a_receipt_without_id_when_parsed_then_body_error() -> None:
    message = ShortMessage("525512345678", "COBRA", b"sub:001 stat:DELIVRD", esm_class=4)
    with pytest.raises(BodyError, match="message id"):
        parse_receipt(message)


def test_given_an_error_submit_resp_without_body_then_empty_message_id() -> None:
    assert decode_message_id(b"") == ""
    with pytest.raises(BodyError):
        decode_message_id(b"no-nul")


def _parts(text: str) -> list[ShortMessage]:
    return ShortMessage.parts_of_text("A", "B", text, reference=300, registered_delivery=1)


def test_given_texts_up_to_one_sms_then_one_part_without_a_header() -> None:
    for text in ("x" * 160, "ñ" * 70):
        [only] = _parts(text)
        assert only.esm_class == 0 and only.registered_delivery == 1 and only.text == text


def test_given_a_longer_gsm_text_then_parts_of_153_with_a_concatenation_header() -> None:
    parts = _parts("a" * 153 + "b" * 8)
    assert [len(p.short_message) for p in parts] == [159, 14]
    assert [p.short_message[:6] for p in parts] == [
        b"\x05\x00\x03\x2c\x02\x01",
        b"\x05\x00\x03\x2c\x02\x02",
    ]
    assert [p.esm_class for p in parts] == [0x40, 0x40]
    assert [p.registered_delivery for p in parts] == [0, 1]  # the receipt: last part only
    assert "".join(p.text for p in parts) == "a" * 153 + "b" * 8
    assert ShortMessage.decode(parts[1].encode()).text == "b" * 8


def test_given_a_longer_ucs2_text_then_parts_of_67_never_splitting_a_surrogate_pair() -> None:
    text = "é" * 66 + "😀" + "ü" * 10  # the emoji's two halves straddle octet 134
    parts = _parts(text)
    assert [p.data_coding for p in parts] == [DataCoding.ucs2, DataCoding.ucs2]
    assert [len(p.short_message) - 6 for p in parts] == [132, 24]
    assert "".join(p.text for p in parts) == text
    assert _parts("é" * 71)[0].text == "é" * 67


def test_given_a_text_needing_over_255_parts_then_refused() -> None:
    with pytest.raises(ValueError, match="255 parts"):
        _parts("x" * (153 * 255 + 1))


def test_given_a_validity_when_encoded_and_decoded_then_the_smsc_reads_the_same_relative_time() -> (
    None
):
    message = ShortMessage.of_text("COBRANZA", "525512345678", "Aviso",
                                   validity_period=relative_validity(15 * 60))  # fmt: skip
    assert message.validity_period == "000000001500000R"
    assert ShortMessage.decode(message.encode()).validity_period == "000000001500000R"
    assert relative_validity(2 * 86400 + 3 * 3600 + 4 * 60 + 5) == "000002030405000R"
    assert ShortMessage.decode(ShortMessage.of_text("A", "1", "x").encode()).validity_period == ""


@pytest.mark.parametrize(
    ("coding", "octets", "text"),
    [
        (DataCoding.default, b"pago\x00banco.mx", "pago@banco.mx"),  # GSM 03.38: 0x00 is "@"
        (DataCoding.ucs2, "BA\x00JA".encode("utf-16-be"), "BAJA"),
        (DataCoding.latin1, b"BA\x00JA", "BAJA"),
        (0x04, b"BA\x00JA", "BAJA"),  # binary or anything else: read as ASCII, never a NUL
    ],
)
def test_given_a_reply_with_a_nul_octet_then_its_text_has_no_nul(
    coding: int, octets: bytes, text: str
) -> None:
    assert decode_text(coding, octets) == text
