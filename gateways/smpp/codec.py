"""Sans-IO SMPP 3.4 codec: bytes in, PDUs out, and PDUs back to bytes.

No sockets here, so the client (ESME), the SMSC simulator and the tests share one
codec. A PDU is a 16-byte header (command_length, command_id, command_status,
sequence_number; big-endian) and a body. The reader refuses a command_length under
16 or over `max_pdu` bytes (`FramingError`: the stream cannot be trusted after it,
the connection is closed); a body that does not parse raises `BodyError` with the
SMPP status to answer (the connection goes on, the peer gets a nack).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum

HEADER = struct.Struct(">IIII")
HEADER_SIZE = HEADER.size
# Bodies we send and accept are a few hundred bytes (a short message is at most 254
# octets; message_payload up to a few concatenated parts): 4 KiB bounds a peer.
DEFAULT_MAX_PDU = 4096
INTERFACE_VERSION = 0x34
MAX_SHORT_MESSAGE = 254


class Command(IntEnum):
    generic_nack = 0x80000000
    bind_receiver = 0x00000001
    bind_receiver_resp = 0x80000001
    bind_transmitter = 0x00000002
    bind_transmitter_resp = 0x80000002
    submit_sm = 0x00000004
    submit_sm_resp = 0x80000004
    deliver_sm = 0x00000005
    deliver_sm_resp = 0x80000005
    unbind = 0x00000006
    unbind_resp = 0x80000006
    bind_transceiver = 0x00000009
    bind_transceiver_resp = 0x80000009
    enquire_link = 0x00000015
    enquire_link_resp = 0x80000015


BINDS = frozenset({Command.bind_receiver, Command.bind_transmitter, Command.bind_transceiver})


def response_of(command: int) -> int:
    return command | 0x80000000


def is_response(command: int) -> bool:
    return bool(command & 0x80000000)


class Status(IntEnum):
    """The command_status values we send or act on (SMPP 3.4 §5.1.3)."""

    ok = 0x00000000
    invalid_message_length = 0x00000001
    invalid_command_length = 0x00000002
    invalid_command_id = 0x00000003
    incorrect_bind_status = 0x00000004
    already_bound = 0x00000005
    system_error = 0x00000008
    invalid_source_address = 0x0000000A
    invalid_destination_address = 0x0000000B
    bind_failed = 0x0000000D
    invalid_password = 0x0000000E
    invalid_system_id = 0x0000000F
    message_queue_full = 0x00000014
    throttled = 0x00000058
    temporary_app_error = 0x00000064  # ESME_RX_T_APPN: the SMSC retries later


class Tag(IntEnum):
    """Optional parameters (TLVs) we read or write."""

    receipted_message_id = 0x001E
    message_payload = 0x0424
    message_state = 0x0427
    sc_interface_version = 0x0210


class DataCoding(IntEnum):
    default = 0x00  # the SMSC's default alphabet; we send only ASCII that GSM 03.38 shares
    latin1 = 0x03
    ucs2 = 0x08


# esm_class bit 6: short_message starts with a user data header (a concatenated part).
ESM_UDHI = 0x40
# What one SMS holds, and one part of a concatenated one (its 6-octet UDH aside).
SINGLE_GSM, PART_GSM = 160, 153
SINGLE_UCS2, PART_UCS2 = 140, 134
# esm_class bits 2-5 on a deliver_sm: a delivery receipt from the SMSC.
ESM_DELIVERY_RECEIPT = 0x04
ESM_TYPE_MASK = 0x3C
# registered_delivery: receipt on final success or failure.
RECEIPT_ON_FINAL = 0x01

# ASCII characters that GSM 03.38's default alphabet codes like ASCII (so data_coding 0
# needs no packing table): letters, digits, space and the punctuation both share.
_GSM_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n\r!\"#%&'()*+,-./:;<=>?"
)


class SmppError(Exception):
    """Base of the codec's errors."""


class FramingError(SmppError):
    """The stream's framing is broken (length under 16 or over the bound): close it."""


class BodyError(SmppError):
    """A PDU's body does not parse; `status` is what to answer the peer with."""

    def __init__(self, message: str, status: Status = Status.invalid_message_length) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Pdu:
    command: int
    status: int
    sequence: int
    body: bytes = b""

    @property
    def name(self) -> str:
        try:
            return Command(self.command).name
        except ValueError:
            return f"0x{self.command:08x}"

    def encode(self) -> bytes:
        return HEADER.pack(HEADER_SIZE + len(self.body), self.command, self.status,
                           self.sequence) + self.body  # fmt: skip


class PduReader:
    """Feeds bytes, yields whole PDUs; holds at most one partial PDU (< max_pdu bytes)."""

    def __init__(self, max_pdu: int = DEFAULT_MAX_PDU) -> None:
        self.max_pdu = max_pdu
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Pdu]:
        self._buffer += data
        while len(self._buffer) >= HEADER_SIZE:
            length, command, status, sequence = HEADER.unpack_from(self._buffer)
            if length < HEADER_SIZE or length > self.max_pdu:
                self._buffer.clear()
                raise FramingError(
                    f"SMPP command_length {length} outside {HEADER_SIZE}..{self.max_pdu}"
                )
            if len(self._buffer) < length:
                return
            body = bytes(self._buffer[HEADER_SIZE:length])
            del self._buffer[:length]
            yield Pdu(command, status, sequence, body)


# --- body fields -------------------------------------------------------------


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def cstring(self, name: str, max_size: int) -> str:
        """A NUL-terminated string of at most max_size octets, the NUL included."""
        end = self.data.find(b"\x00", self.at, self.at + max_size)
        if end < 0:
            raise BodyError(f"{name}: no NUL within {max_size} octets")
        raw = self.data[self.at : end]
        self.at = end + 1
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise BodyError(f"{name}: not ASCII") from exc

    def octet(self, name: str) -> int:
        if self.at >= len(self.data):
            raise BodyError(f"{name}: body ends before it")
        value = self.data[self.at]
        self.at += 1
        return value

    def octets(self, name: str, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise BodyError(f"{name}: {size} octets announced, {len(self.data) - self.at} left")
        value = self.data[self.at : self.at + size]
        self.at += size
        return value

    def tlvs(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        while self.at < len(self.data):
            if self.at + 4 > len(self.data):
                raise BodyError("optional parameter: truncated tag/length")
            tag, size = struct.unpack_from(">HH", self.data, self.at)
            self.at += 4
            found[tag] = self.octets(f"optional parameter 0x{tag:04x}", size)
        return found


def relative_validity(seconds: float) -> str:
    """An SMPP relative time (§7.1.1, "YYMMDDhhmmss000R") of `seconds`, at most 99 days."""
    whole = min(max(0, int(seconds)), 99 * 86400)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def _cstring(value: str, name: str, max_size: int) -> bytes:
    raw = value.encode("ascii")
    if len(raw) + 1 > max_size or b"\x00" in raw:
        raise ValueError(f"{name}: {value!r} does not fit {max_size - 1} ASCII octets")
    return raw + b"\x00"


def _tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


@dataclass(frozen=True)
class Bind:
    system_id: str
    password: str
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def encode(self) -> bytes:
        return (_cstring(self.system_id, "system_id", 16) + _cstring(self.password, "password", 9)
                + _cstring(self.system_type, "system_type", 13)
                + bytes([self.interface_version, self.addr_ton, self.addr_npi])
                + _cstring(self.address_range, "address_range", 41))  # fmt: skip

    @classmethod
    def decode(cls, body: bytes) -> Bind:
        c = _Cursor(body)
        return cls(
            system_id=c.cstring("system_id", 16),
            password=c.cstring("password", 9),
            system_type=c.cstring("system_type", 13),
            interface_version=c.octet("interface_version"),
            addr_ton=c.octet("addr_ton"),
            addr_npi=c.octet("addr_npi"),
            address_range=c.cstring("address_range", 41),
        )


def encode_system_id(system_id: str) -> bytes:
    """A bind_*_resp body: the SMSC's system_id."""
    return _cstring(system_id, "system_id", 16)


def encode_message_id(message_id: str) -> bytes:
    """A submit_sm_resp / deliver_sm_resp body."""
    return _cstring(message_id, "message_id", 65)


def decode_message_id(body: bytes) -> str:
    """A submit_sm_resp's message_id (an error response may have no body: empty)."""
    if not body:
        return ""
    return _Cursor(body).cstring("message_id", 65)


def encode_text(text: str) -> tuple[int, bytes]:
    """(data_coding, octets): plain ASCII shared with GSM 03.38 as the default alphabet,
    anything else (á, ñ, ¿, emoji) as UCS-2/UTF-16BE."""
    if all(ch in _GSM_SAFE for ch in text):
        return DataCoding.default, text.encode("ascii")
    return DataCoding.ucs2, text.encode("utf-16-be")


def _chunks(octets: bytes, size: int, *, ucs2: bool) -> list[bytes]:
    """Octets in parts of at most `size`; UCS-2 parts never split a surrogate pair."""
    chunks, start = [], 0
    while start < len(octets):
        end = min(start + size, len(octets))
        if ucs2 and end < len(octets) and 0xD8 <= octets[end - 2] <= 0xDB:
            end -= 2  # a high surrogate last: it goes with its low half
        chunks.append(octets[start:end])
        start = end
    return chunks


def decode_text(data_coding: int, octets: bytes) -> str:
    """The text of a message; never a NUL (no text holds one, PostgreSQL refuses it)."""
    if data_coding == DataCoding.ucs2:
        return octets.decode("utf-16-be", errors="replace").replace("\x00", "")
    if data_coding == DataCoding.latin1:
        return octets.decode("latin-1").replace("\x00", "")
    if data_coding == DataCoding.default:
        # GSM 03.38's default alphabet codes "@" as 0x00 (an e-mail address in a reply).
        octets = octets.replace(b"\x00", b"@")
    # Default alphabet, IA5/ASCII and anything else: the ASCII part, the rest replaced.
    return octets.decode("ascii", errors="replace").replace("\x00", "")


@dataclass(frozen=True)
class ShortMessage:
    """A submit_sm or deliver_sm body (both have this layout, SMPP 3.4 §4.4.1, §4.6.1)."""

    source: str
    destination: str
    short_message: bytes = b""
    data_coding: int = DataCoding.default
    esm_class: int = 0
    registered_delivery: int = 0
    service_type: str = ""
    source_ton: int = 1
    source_npi: int = 1
    dest_ton: int = 1
    dest_npi: int = 1
    protocol_id: int = 0
    priority: int = 0
    optional: dict[int, bytes] = field(default_factory=dict)
    # SMPP time (§7.1.1): the SMSC gives up delivering after it; "" = its default.
    validity_period: str = ""

    @classmethod
    def of_text(cls, source: str, destination: str, text: str, *, registered_delivery: int = 0,
                source_ton: int = 1, source_npi: int = 1,
                validity_period: str = "") -> ShortMessage:  # fmt: skip
        """A message carrying `text`: in short_message up to 254 octets, else in the
        message_payload parameter (one PDU; the SMSC splits it for the handset)."""
        coding, octets = encode_text(text)
        optional: dict[int, bytes] = {}
        short = octets
        if len(octets) > MAX_SHORT_MESSAGE:
            short, optional = b"", {int(Tag.message_payload): octets}
        return cls(source, destination, short, coding, registered_delivery=registered_delivery,
                   source_ton=source_ton, source_npi=source_npi, optional=optional,
                   validity_period=validity_period)  # fmt: skip

    @classmethod
    def parts_of_text(cls, source: str, destination: str, text: str, *, reference: int,
                      registered_delivery: int = 0, source_ton: int = 1,
                      source_npi: int = 1, validity_period: str = "") -> list[ShortMessage]:  # fmt: skip
        """`text` as the handset's SMS: one message up to 160 GSM characters or 70 UCS-2
        ones, else parts of 153 / 67 with a concatenation header (UDH, reference
        `reference` mod 256), a receipt asked for on the last part only."""
        coding, octets = encode_text(text)
        single, part = (
            (SINGLE_GSM, PART_GSM) if coding == DataCoding.default else (SINGLE_UCS2, PART_UCS2)
        )
        if len(octets) <= single:
            return [cls(source, destination, octets, coding, registered_delivery=registered_delivery,
                        source_ton=source_ton, source_npi=source_npi,
                        validity_period=validity_period)]  # fmt: skip
        chunks = _chunks(octets, part, ucs2=coding == DataCoding.ucs2)
        if len(chunks) > 255:
            raise ValueError(f"text of {len(text)} characters needs over 255 parts")
        return [
            cls(source, destination,
                bytes([5, 0, 3, reference % 256, len(chunks), number]) + chunk, coding,
                esm_class=ESM_UDHI, source_ton=source_ton, source_npi=source_npi,
                registered_delivery=registered_delivery if number == len(chunks) else 0,
                validity_period=validity_period)
            for number, chunk in enumerate(chunks, start=1)
        ]  # fmt: skip

    @property
    def text(self) -> str:
        payload = self.optional.get(Tag.message_payload)
        octets = payload if payload is not None else self.short_message
        if self.esm_class & ESM_UDHI and octets:
            octets = octets[1 + octets[0] :]  # a part of a concatenated message: past its UDH
        return decode_text(self.data_coding, octets)

    @property
    def is_receipt(self) -> bool:
        return self.esm_class & ESM_TYPE_MASK == ESM_DELIVERY_RECEIPT

    def encode(self) -> bytes:
        if len(self.short_message) > MAX_SHORT_MESSAGE:
            raise ValueError(
                f"short_message of {len(self.short_message)} octets: use message_payload"
            )
        return (_cstring(self.service_type, "service_type", 6)
                + bytes([self.source_ton, self.source_npi]) + _cstring(self.source, "source_addr", 21)
                + bytes([self.dest_ton, self.dest_npi])
                + _cstring(self.destination, "destination_addr", 21)
                + bytes([self.esm_class, self.protocol_id, self.priority])
                + b"\x00"  # schedule_delivery_time: immediately
                + _cstring(self.validity_period, "validity_period", 17)
                + bytes([self.registered_delivery, 0, self.data_coding, 0, len(self.short_message)])
                + self.short_message
                + b"".join(_tlv(tag, value) for tag, value in self.optional.items()))  # fmt: skip

    @classmethod
    def decode(cls, body: bytes) -> ShortMessage:
        c = _Cursor(body)
        service_type = c.cstring("service_type", 6)
        source_ton, source_npi = c.octet("source_addr_ton"), c.octet("source_addr_npi")
        source = c.cstring("source_addr", 21)
        dest_ton, dest_npi = c.octet("dest_addr_ton"), c.octet("dest_addr_npi")
        destination = c.cstring("destination_addr", 21)
        esm_class, protocol_id, priority = (
            c.octet("esm_class"),
            c.octet("protocol_id"),
            c.octet("priority_flag"),
        )
        c.cstring("schedule_delivery_time", 17)
        validity = c.cstring("validity_period", 17)
        registered = c.octet("registered_delivery")
        c.octet("replace_if_present_flag")
        coding = c.octet("data_coding")
        c.octet("sm_default_msg_id")
        length = c.octet("sm_length")
        short_message = c.octets("short_message", length)
        return cls(source, destination, short_message, coding, esm_class, registered,
                   service_type, source_ton, source_npi, dest_ton, dest_npi, protocol_id,
                   priority, c.tlvs(), validity)  # fmt: skip


# --- delivery receipts -------------------------------------------------------

# The receipt's `stat:` words (SMPP 3.4 Appendix B) and message_state values (§5.2.28).
RECEIPT_STATES = {
    "ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4,
    "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8,
}  # fmt: skip
_STATE_WORDS = {value: word for word, value in RECEIPT_STATES.items()}


@dataclass(frozen=True)
class Receipt:
    """What a delivery receipt says: the SMSC's message id, its final state word
    (DELIVRD, UNDELIV, ...) and the error code the carrier gave."""

    message_id: str
    state: str
    error: str = "000"


def parse_receipt(message: ShortMessage) -> Receipt:
    """The receipt in a deliver_sm: the TLVs (receipted_message_id, message_state) when
    present, else the text `id:... stat:... err:...` of SMPP 3.4's Appendix B."""
    fields: dict[str, str] = {}
    text = message.text
    for key in ("id", "stat", "err"):
        marker = f"{key}:"
        start = text.find(marker)
        if start >= 0 and (start == 0 or text[start - 1] == " "):
            value = text[start + len(marker) :].split(" ", 1)[0]
            fields[key] = value
    tlv_id = message.optional.get(Tag.receipted_message_id)
    tlv_state = message.optional.get(Tag.message_state)
    message_id = tlv_id.rstrip(b"\x00").decode("ascii", "replace") if tlv_id else fields.get("id")
    state = _STATE_WORDS.get(tlv_state[0], "UNKNOWN") if tlv_state else fields.get("stat")
    if not message_id or not state:
        raise BodyError("delivery receipt without a message id or a state", Status.system_error)
    return Receipt(message_id, state.upper(), fields.get("err", "000"))


def receipt_message(receipt: Receipt, *, source: str, destination: str,
                    submitted: str, done: str) -> ShortMessage:  # fmt: skip
    """The deliver_sm an SMSC sends back: Appendix B's text plus the TLVs."""
    delivered = "001" if receipt.state == "DELIVRD" else "000"
    text = (f"id:{receipt.message_id} sub:001 dlvrd:{delivered} submit date:{submitted} "
            f"done date:{done} stat:{receipt.state} err:{receipt.error} text:")  # fmt: skip
    return ShortMessage(
        source=destination, destination=source, short_message=text.encode("ascii"),
        esm_class=ESM_DELIVERY_RECEIPT,
        optional={
            Tag.receipted_message_id: receipt.message_id.encode("ascii") + b"\x00",
            Tag.message_state: bytes([RECEIPT_STATES.get(receipt.state, 7)]),
        },
    )  # fmt: skip
