"""Sans-IO AMI codec: bytes in, messages out (and actions/messages back to bytes).

No sockets here, so the client, pbxsim's server side and the tests share one
parser. Wire format: `Key: Value` lines ended by CRLF, a blank line ends a
message; the connection starts with a banner line `Asterisk Call Manager/x.y`;
the old `Response: Follows` form of Command ends with `--END COMMAND--`.

The parser holds at most `max_message_size` (+3) bytes between feeds, refuses a
message of more bytes or more than `max_headers` lines, searches each byte
it is fed once however the stream is chunked (byte by byte included), and
raises nothing but AMIMessageTooLarge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

from dialer.ami.errors import AMIMessageTooLarge

BANNER_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
# Asterisk's events carry tens of headers; a Command's output is one `Output:`
# header (or one body line) per line of CLI output.
DEFAULT_MAX_HEADERS = 8192
_END_COMMAND = b"--END COMMAND--"
_FOLLOWS = b"response: follows"
_LONGEST_BANNER = 128
# Header names are tokens without spaces or colons; Asterisk uses some odd ones,
# e.g. `ChanVariable(Local/123@ctx-00000004;1)` in OriginateResponse.
_KEY = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")  # printable ASCII, no space or colon
_START_KEYS = ("event", "response", "action")
_BANNER = re.compile(r"Asterisk Call Manager/[0-9A-Za-z.\-]+")
_START_INSIDE = re.compile(rb"(?:Event|Response|Action): ")
_LINE_ENDS = re.compile(rb"[\r\n]*")
# Headers of a `Response: Follows` block; whatever follows them is command output.
_FOLLOWS_HEADERS = {"response", "privilege", "actionid", "message"}
# Most lines of an AMI stream repeat (`Privilege: call,all`, `ChannelState: 6`,
# `Context: ...`), so short lines are parsed once and remembered; the memo is
# emptied when full, so it never holds more than _CACHED_LINES short lines.
_HEADERS: dict[bytes, Header] = {}
_CACHED_LINES = 4096
_CACHED_LINE = 160
# First headers that start an ordinary message, as Asterisk spells them.
_PLAIN_STARTS = frozenset({"Event", "Action", "Response"})

Header = tuple[str, str]
HeaderValue = str | int | float | bool
ActionFields = Mapping[str, HeaderValue | Sequence[HeaderValue]] | Sequence[Header]


class Message:
    """One AMI message: ordered headers (keys may repeat), case-insensitive lookup."""

    __slots__ = ("headers", "_body")

    def __init__(self, headers: Iterable[Header], body: Sequence[str] | None = None) -> None:
        self.headers: list[Header] = list(headers)
        self._body = list(body) if body is not None else None

    @classmethod
    def _of(cls, headers: list[Header]) -> Message:
        """A message that takes `headers` as they are (the parser's list, not copied)."""
        message = cls.__new__(cls)
        message.headers = headers
        message._body = None
        return message

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


def _split_lines(block: bytes, breaks: int) -> list[bytes]:
    """The block's lines without their line ends (`breaks`: its count of LF)."""
    # (find, not `in`: bytes' `in` tries the operand as an int first, slowly.)
    if block.find(b"\r") < 0:
        return block.split(b"\n")
    lines = block.split(b"\r\n")
    if len(lines) - 1 == breaks and block.find(b"\r\r\n") < 0 and block[-1:] != b"\r":
        return lines  # CRLF throughout, as Asterisk sends
    return [line.rstrip(b"\r") for line in block.split(b"\n")]


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


def _parse_header(line: bytes) -> Header | None:
    """`Key: value` -> (key, value); None for a line that is not a header."""
    header = _HEADERS.get(line)
    if header is not None:
        return header
    key, sep, value = _decode(line).partition(":")
    if not sep or not _KEY.match(key):
        return None
    header = key, value[1:] if value[:1] == " " else value
    if len(line) <= _CACHED_LINE:
        if len(_HEADERS) >= _CACHED_LINES:
            _HEADERS.clear()
        _HEADERS[line] = header
    return header


def _is_start(header: Header | None) -> bool:
    return header is not None and header[0].lower() in _START_KEYS


# Where the parser is in the stream: between messages (a message may start
# with a banner, stray line ends or `Response: Follows`), inside a message
# that a blank line ends, or inside a Follows block that `--END COMMAND--`
# then a blank line ends. A refused message is dropped up to that same end.
_START, _PLAIN, _FOLLOWS_BLOCK = range(3)


class _Ends:
    """Blank-line terminators (CRLFCRLF or LFLF) of one buffer, each pattern searched once.

    Queries come with a start that never goes back, so a hit past the start,
    or a miss, stays true: a buffer holding many messages is not searched to
    its end once per message.
    """

    __slots__ = ("_buf", "_crlf", "_lf")

    def __init__(self, buf: bytearray) -> None:
        self._buf = buf
        self._crlf = -2  # -2: not searched yet; -1: none from the last start on
        self._lf = -2

    def first(self, start: int) -> tuple[int, int]:
        crlf = self._crlf
        if crlf == -2 or 0 <= crlf < start:
            crlf = self._crlf = self._buf.find(b"\r\n\r\n", start)
        lf = self._lf
        if lf == -2 or 0 <= lf < start:
            lf = self._lf = self._buf.find(b"\n\n", start)
        if crlf >= 0 and (lf < 0 or crlf <= lf):
            return crlf, 4
        if lf >= 0:
            return lf, 2
        return -1, 0


class AMIParser:
    """Incremental AMI parser. `feed(bytes)` returns the messages completed so far.

    Tolerates any chunking, several messages per chunk, a banner line, bytes
    that are not AMI (dropped up to the next message start: `noise_bytes`
    counts them), and refuses a message over `max_message_size` bytes or
    `max_headers` lines (AMIMessageTooLarge, raised once the chunk is parsed,
    with the intact messages in `exc.messages`; the parser skips to the end of
    the refused message and goes on). Between feeds it holds at most
    `max_message_size` + 3 bytes (`retained_bytes`; 3: a terminator cut in two).
    """

    def __init__(
        self,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
    ) -> None:
        self.max_message_size = max_message_size
        self.max_headers = max_headers
        self.banner: str | None = None
        self.noise_bytes = 0
        self._buffer = bytearray()
        self._state = _START
        self._scan = 0  # no end of the current message before this offset
        self._marker = -1  # Follows: offset of --END COMMAND-- once seen
        self._dropping = False  # the current message was refused: drop it to its end

    @property
    def retained_bytes(self) -> int:
        """Bytes held between feeds: the part of a message not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buffer
        buf += data
        size = len(buf)
        ends = _Ends(buf)
        messages: list[Message] = []
        refused: str | None = None
        state, scan, marker, dropping = self._state, self._scan, self._marker, self._dropping
        pos = 0
        while pos < size:
            if state == _START:
                first = buf[pos]
                if first == 69:  # "E": an event, the common case
                    state, scan, marker = _PLAIN, pos, -1
                elif first in b"\r\n":
                    # Stray line ends between messages (some peers send an extra CRLF).
                    match = _LINE_ENDS.match(buf, pos)
                    pos = match.end() if match else pos + 1
                    continue
                else:
                    decided = self._start(buf, pos, size)
                    if decided is None:
                        break  # too few bytes to tell what starts here
                    state, consumed = decided
                    if consumed:
                        pos = consumed
                        continue
                    scan, marker = pos, -1
            if state == _FOLLOWS_BLOCK and marker < 0:
                marker = buf.find(_END_COMMAND, scan)
                if marker < 0:
                    scan = max(pos, size - len(_END_COMMAND) + 1)
                    break
                scan = marker
            end, width = ends.first(scan)
            if end < 0:
                scan = max(scan, size - 3)
                break
            if not dropping:
                block = bytes(buf[pos:end])
                if len(block) > self.max_message_size:
                    refused = refused or f"larger than {self.max_message_size} bytes"
                elif (breaks := block.count(b"\n")) >= self.max_headers:
                    refused = refused or f"with more than {self.max_headers} lines"
                else:
                    message = self._parse_block(block, breaks)
                    if message is not None:
                        messages.append(message)
            pos = end + width
            state, dropping = _START, False
        if pos:
            del buf[:pos]
            scan = max(0, scan - pos)
            marker = marker - pos if marker >= 0 else -1
        # A message ends before its terminator: the last 3 bytes held may be one cut
        # between two reads, so they do not count against the limit.
        if state != _START and not dropping and len(buf) > self.max_message_size + 3:
            refused = refused or f"larger than {self.max_message_size} bytes"
            dropping = True
        if dropping:
            # Keep only what can hold the start of the marker or terminator still to
            # come, cut between two feeds (a marker seen stays seen: offset 0).
            keep = len(_END_COMMAND) - 1 if state == _FOLLOWS_BLOCK and marker < 0 else 3
            if len(buf) > keep:
                del buf[:-keep]
                scan, marker = 0, (0 if marker >= 0 else -1)
        self._state, self._scan, self._marker = state, scan, marker
        self._dropping = dropping
        if refused is not None:
            # Raised after the whole chunk is parsed, so the intact messages around
            # the refused one still reach the caller (in the exception).
            raise AMIMessageTooLarge(self.max_message_size, messages, refused)
        return messages

    def _start(self, buf: bytearray, pos: int, size: int) -> tuple[int, int] | None:
        """What begins at `pos`: (state, 0), or (_START, end) past a banner; None: wait."""
        head = bytes(buf[pos : pos + len(BANNER_PREFIX)])
        if BANNER_PREFIX.startswith(head):
            if len(head) < len(BANNER_PREFIX):
                return None  # maybe the start of a banner: wait for more bytes
            end = buf.find(b"\n", pos, pos + _LONGEST_BANNER)
            if end < 0:
                return None if size - pos < _LONGEST_BANNER else (_PLAIN, 0)
            line = bytes(buf[pos:end]).rstrip(b"\r").decode("utf-8", errors="replace")
            if _BANNER.fullmatch(line):
                self.banner = line
                return _START, end + 1
            return _PLAIN, 0  # looked like a banner but is not one: an ordinary block
        head = bytes(buf[pos : pos + len(_FOLLOWS)]).lower()
        if _FOLLOWS.startswith(head):
            return None if len(head) < len(_FOLLOWS) else (_FOLLOWS_BLOCK, 0)
        return _PLAIN, 0

    def _parse_block(self, block: bytes, breaks: int) -> Message | None:
        lines = _split_lines(block, breaks)
        # Fast path: every line a remembered header and an ordinary first line.
        known = list(map(_HEADERS.get, lines))
        if all(known):
            key, value = known[0]  # type: ignore[misc]
            if key in _PLAIN_STARTS and (key != "Response" or value.lower() != "follows"):
                return Message._of(known)  # type: ignore[arg-type]
        if not _is_start(_parse_header(lines[0])):
            lines[0] = self._resync(lines[0])
        headers: list[Header] = []
        noise = 0
        started = False
        for index, line in enumerate(lines):
            header = _parse_header(line)
            if header is None:
                noise += len(line) + 1
                continue
            if not started and header[0].lower() in _START_KEYS:
                started = True
                if header[0].lower() == "response" and header[1].lower() == "follows":
                    return _parse_follows(lines[index:])
            headers.append(header)
        if not started:
            self.noise_bytes += len(block)
            return None
        self.noise_bytes += noise
        return Message._of(headers)

    def _resync(self, line: bytes) -> bytes:
        """Cut bytes glued in front of a message's first line (`\x00\x17Event: X`)."""
        found = _START_INSIDE.search(line)
        if found is None or found.start() == 0:
            return line
        self.noise_bytes += found.start()
        return line[found.start() :]


def _parse_follows(lines: list[bytes]) -> Message:
    headers: list[Header] = []
    body: list[str] = []
    in_headers = True
    for line in lines:
        header = _parse_header(line) if in_headers else None
        if header is not None and header[0].lower() in _FOLLOWS_HEADERS:
            headers.append(header)
            continue
        in_headers = False
        if line.startswith(_END_COMMAND):
            break
        body.append(_decode(line))
    return Message(headers, body)
