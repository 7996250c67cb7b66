"""Sans-IO AMI codec: bytes in, messages out (and actions/messages back to bytes).

No sockets here, so the client, pbxsim's server side and the tests share one
parser. Wire format: `Key: Value` lines ended by CRLF, a blank line ends a
message; the connection starts with a banner line `Asterisk Call Manager/x.y`;
the old `Response: Follows` form of Command ends with `--END COMMAND--`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

from dialer.ami.errors import AMIMessageTooLarge

BANNER_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
_END_COMMAND = b"--END COMMAND--"
# Header names are tokens without spaces or colons; Asterisk uses some odd ones,
# e.g. `ChanVariable(Local/123@ctx-00000004;1)` in OriginateResponse.
_KEY = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")  # printable ASCII, no space or colon
_START_KEYS = ("event", "response", "action")
_BANNER = re.compile(r"Asterisk Call Manager/[0-9A-Za-z.\-]+")
_START_INSIDE = re.compile(r"(?:Event|Response|Action): ")
# Headers of a `Response: Follows` block; whatever follows them is command output.
_FOLLOWS_HEADERS = {"response", "privilege", "actionid", "message"}

Header = tuple[str, str]
HeaderValue = str | int | float | bool
ActionFields = Mapping[str, HeaderValue | Sequence[HeaderValue]] | Sequence[Header]


class Message:
    """One AMI message: ordered headers (keys may repeat), case-insensitive lookup."""

    __slots__ = ("headers", "_body")

    def __init__(self, headers: Iterable[Header], body: Sequence[str] | None = None) -> None:
        self.headers: list[Header] = list(headers)
        self._body = list(body) if body is not None else None

    def get(self, key: str, default: str | None = None) -> str | None:
        wanted = key.lower()
        for name, value in self.headers:
            if name.lower() == wanted:
                return value
        return default

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [value for name, value in self.headers if name.lower() == wanted]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.headers == other.headers and self._body == other._body

    def __hash__(self) -> int:
        return hash(tuple(self.headers))

    def __repr__(self) -> str:
        return f"Message({self.headers!r})"

    @property
    def is_event(self) -> bool:
        return self.get("Event") is not None

    @property
    def is_response(self) -> bool:
        # OriginateResponse is an event that carries a Response header too.
        return self.get("Response") is not None and self.get("Event") is None

    @property
    def is_action(self) -> bool:
        return self.get("Action") is not None

    @property
    def name(self) -> str:
        """The event name, the response status or the action name."""
        return self.get("Event") or self.get("Response") or self.get("Action") or ""

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def output(self) -> list[str]:
        """Command output: `Output:` headers (Asterisk 14+) or a `Response: Follows` body."""
        if self._body is not None:
            return list(self._body)
        return self.get_all("Output")

    def variables(self) -> dict[str, str]:
        """`ChanVariable: NAME=value` headers (channelvars in manager.conf) as a dict."""
        found: dict[str, str] = {}
        for key, raw in self.headers:
            lowered = key.lower()
            # OriginateResponse names the channel: `ChanVariable(<channel>): X=1`.
            if lowered == "chanvariable" or lowered.startswith("chanvariable("):
                name, sep, value = raw.partition("=")
                if sep:
                    found[name] = value
        return found

    def as_dict(self) -> dict[str, str]:
        """First value of each header (repeated headers: use get_all)."""
        result: dict[str, str] = {}
        for name, value in self.headers:
            result.setdefault(name, value)
        return result


def _iter_fields(fields: ActionFields) -> Iterator[Header]:
    pairs: Iterable[tuple[str, object]]
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    for key, value in pairs:
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            yield key, (("true" if item else "false") if isinstance(item, bool) else str(item))


def encode_message(fields: ActionFields) -> bytes:
    """Encode headers as one AMI message. List values become repeated headers.

    A CR or LF inside a key or value would let a caller inject headers or whole
    actions (think of a debtor's name in CallerID), so it is refused.
    """
    lines = []
    for key, value in _iter_fields(fields):
        if not _KEY.match(key):
            raise ValueError(f"invalid AMI header name {key!r}")
        if "\r" in value or "\n" in value:
            raise ValueError(f"AMI header {key} contains a line break")
        lines.append(f"{key}: {value}\r\n")
    if not lines:
        raise ValueError("an AMI message needs at least one header")
    return ("".join(lines) + "\r\n").encode("utf-8")


def encode_action(action: ActionFields) -> bytes:
    """Encode an action ({"Action": "Ping", "ActionID": "1"}) to bytes."""
    if not any(key.lower() == "action" for key, _ in _iter_fields(action)):
        raise ValueError("an AMI action needs an Action header")
    return encode_message(action)


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


def _split_lines(block: bytes) -> list[str]:
    return [_decode(line.rstrip(b"\r")) for line in block.split(b"\n")]


def _parse_header(line: str) -> Header | None:
    key, sep, value = line.partition(":")
    if not sep or not _KEY.match(key):
        return None
    return key, value[1:] if value.startswith(" ") else value


def _is_start(header: Header | None) -> bool:
    return header is not None and header[0].lower() in _START_KEYS


class AMIParser:
    """Incremental AMI parser. `feed(bytes)` returns the messages completed so far.

    Tolerates any chunking, several messages per chunk, a banner line, bytes
    that are not AMI (dropped up to the next message start: `noise_bytes`
    counts them), and refuses messages over `max_message_size`
    (AMIMessageTooLarge, then it skips to the next blank line and goes on).
    """

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.max_message_size = max_message_size
        self.banner: str | None = None
        self.noise_bytes = 0
        self._buffer = bytearray()
        self._skipping = False  # inside an oversize message: drop up to its end

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        oversize = False
        while True:
            if self._skipping and not self._skip_oversize():
                break
            if not self._buffer:
                break
            block = self._next_block()
            if block is None:
                if len(self._buffer) > self.max_message_size:
                    self._buffer = self._buffer[-3:]
                    self._skipping = True
                    oversize = True
                    continue
                break
            if not isinstance(block, bytes):
                continue  # banner or stray line ends consumed
            if len(block) > self.max_message_size:
                oversize = True
                continue
            message = self._parse_block(block)
            if message is not None:
                messages.append(message)
        if oversize:
            # Raised after the whole chunk is parsed, so the intact messages around
            # the oversize one still reach the caller (in the exception).
            raise AMIMessageTooLarge(self.max_message_size, messages)
        return messages

    def _skip_oversize(self) -> bool:
        """Drop bytes up to the end of the oversize message; True once past it."""
        for terminator in (b"\r\n\r\n", b"\n\n"):
            end = self._buffer.find(terminator)
            if end >= 0:
                del self._buffer[: end + len(terminator)]
                self._skipping = False
                return True
        self._buffer = self._buffer[-3:]
        return False

    def _next_block(self) -> bytes | object | None:
        buf = self._buffer
        if buf.startswith(BANNER_PREFIX) or BANNER_PREFIX.startswith(bytes(buf[:22])):
            if not buf.startswith(BANNER_PREFIX):
                return None  # maybe the start of a banner: wait for more bytes
            end = buf.find(b"\n")
            if end < 0:
                return None
            line = _decode(bytes(buf[:end]).rstrip(b"\r"))
            if _BANNER.fullmatch(line):
                self.banner = line
                del buf[: end + 1]
                return _CONSUMED
            # Looked like a banner but is not one: an ordinary (or noisy) block.
        if buf[:1] in (b"\r", b"\n"):
            # Stray line ends between messages (some peers send an extra CRLF).
            stripped = buf.lstrip(b"\r\n")
            if not stripped and buf.endswith(b"\r"):
                return None
            del buf[: len(buf) - len(stripped)]
            return _CONSUMED
        if buf[:17].lower().startswith(b"response: follows") or (
            len(buf) < 17 and b"response: follows".startswith(bytes(buf).lower())
        ):
            return self._follows_block()
        end, size = _find_blank_line(buf)
        if end < 0:
            return None
        block = bytes(buf[:end])
        del buf[: end + size]
        return block

    def _follows_block(self) -> bytes | None:
        buf = self._buffer
        marker = buf.find(_END_COMMAND)
        if marker < 0:
            return None
        end, size = _find_blank_line(buf, marker)
        if end < 0:
            return None
        block = bytes(buf[:end])
        del buf[: end + size]
        return block

    def _parse_block(self, block: bytes) -> Message | None:
        lines = _split_lines(block)
        lines[0] = self._resync(lines[0])
        starts = [i for i, line in enumerate(lines) if _is_start(_parse_header(line))]
        if not starts:
            self.noise_bytes += len(block)
            return None
        first = _parse_header(lines[starts[0]])
        if first is not None and first[0].lower() == "response" and first[1].lower() == "follows":
            return _parse_follows(lines[starts[0] :])
        headers = []
        for line in lines:
            header = _parse_header(line)
            if header is None:
                self.noise_bytes += len(line) + 1
                continue
            headers.append(header)
        return Message(headers)

    def _resync(self, line: str) -> str:
        """Cut bytes glued in front of a message's first line (`\x00\x17Event: X`)."""
        if _is_start(_parse_header(line)):
            return line
        found = _START_INSIDE.search(line)
        if found is None or found.start() == 0:
            return line
        self.noise_bytes += found.start()
        return line[found.start() :]


_CONSUMED = object()


def _find_blank_line(buf: bytearray, start: int = 0) -> tuple[int, int]:
    """Index and length of the first blank-line terminator (CRLFCRLF or LFLF)."""
    crlf = buf.find(b"\r\n\r\n", start)
    lf = buf.find(b"\n\n", start)
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, 4
    if lf >= 0:
        return lf, 2
    return -1, 0


def _parse_follows(lines: list[str]) -> Message:
    headers: list[Header] = []
    body: list[str] = []
    in_headers = True
    for line in lines:
        header = _parse_header(line) if in_headers else None
        if header is not None and header[0].lower() in _FOLLOWS_HEADERS:
            headers.append(header)
            continue
        in_headers = False
        if line.startswith(_END_COMMAND.decode()):
            break
        body.append(line)
    return Message(headers, body)
