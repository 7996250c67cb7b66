"""Sans-IO FastAGI codec: the agi_* environment, command lines and their replies.

Asterisk opens the TCP connection, sends `agi_key: value` lines ended by a
blank line, then answers each command line with `200 result=N (data) endpos=M`,
`510 ...` (unknown command), `511 ...` (channel is dead), or a multi-line
`520-...` / `520 End of proper usage.` block; `HANGUP` arrives on its own line
when the caller hangs up.

Whoever reaches the FastAGI port can send anything before an environment is
complete, so the parser holds at most `max_line` bytes of one line and
`max_block_size` bytes / `max_block_lines` lines of one block (the environment,
a 520 usage block), works in time linear in what it is fed however it is
chunked, and raises only AGIProtocolError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dialer.fastagi.errors import AGIProtocolError

DEFAULT_MAX_LINE = 64 * 1024
# The environment Asterisk 22 sends is ~22 agi_* lines plus at most 127
# agi_arg_N (res_agi's MAX_ARGS), well under 1 KiB for our dialplan.
DEFAULT_MAX_BLOCK_SIZE = 64 * 1024
DEFAULT_MAX_BLOCK_LINES = 256
# GET DATA answers with the digits typed, from a 1024-byte buffer in res_agi;
# every other command with a C int.
MAX_RESULT_LENGTH = 1024
_TAIL_WORDS = 8
_REPLY = re.compile(r"^(?P<code>\d{3}) result=(?P<result>\S*)(?P<rest>.*)$", re.ASCII)
_INTEGER = re.compile(r"-?\d+", re.ASCII)


@dataclass(frozen=True)
class AGIEnvironment:
    """The agi_* variables Asterisk sends first, and the script they name."""

    variables: dict[str, str]

    @property
    def script(self) -> str:
        """Route name: `answer` for agi://host:4573/answer?x=1."""
        raw = self.variables.get("agi_network_script") or ""
        return raw.split("?", 1)[0].strip("/")

    @property
    def args(self) -> list[str]:
        found = []
        index = 1
        while f"agi_arg_{index}" in self.variables:
            found.append(self.variables[f"agi_arg_{index}"])
            index += 1
        return found


@dataclass(frozen=True)
class AGIReply:
    """A `200 result=N (data) key=value` reply.

    `result` is the number Asterisk sent; GET DATA answers with the digits typed
    (`result=12*3`, or empty on timeout): read those from `raw_result`.
    """

    code: int
    result: int
    data: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    raw_result: str = field(default="", compare=False)

    @property
    def interim(self) -> bool:
        """`100 result=0 Trying...`: Asterisk is still working (GOSUB); the real reply follows."""
        return self.code == 100


@dataclass(frozen=True)
class AGIErrorReply:
    """A 5xx reply (510 unknown command, 511 dead channel, 520 usage)."""

    code: int
    text: str


@dataclass(frozen=True)
class AGIHangupNotice:
    """The `HANGUP` line: the caller hung up."""


AGIItem = AGIEnvironment | AGIReply | AGIErrorReply | AGIHangupNotice


def parse_reply(line: str) -> AGIReply | AGIErrorReply:
    """Parse one reply line (without its line end); AGIProtocolError if it is not one."""
    match = _REPLY.match(line)
    if match is None:
        code = line[:3]
        if code.isascii() and code.isdigit() and line[3:4] in (" ", "-", ""):
            return AGIErrorReply(int(code), line[4:])
        raise AGIProtocolError(f"not an AGI reply: {line[:80]!r}")
    raw = match["result"]
    if len(raw) > MAX_RESULT_LENGTH:
        raise AGIProtocolError(
            f"AGI result longer than {MAX_RESULT_LENGTH} characters: {line[:80]!r}"
        )
    rest = match["rest"].strip()
    data = None
    if rest.startswith("("):
        close = _data_end(rest)
        if close < 0:
            raise AGIProtocolError(f"unclosed data in AGI reply: {line[:80]!r}")
        data, rest = rest[1:close], rest[close + 1 :]
    extra = {}
    for pair in rest.split():
        key, sep, value = pair.partition("=")
        if sep:
            extra[key] = value
    number = int(raw) if _INTEGER.fullmatch(raw) else 0
    return AGIReply(int(match["code"]), number, data, extra, raw)


def _data_end(rest: str) -> int:
    """Index of the `)` that closes the data in `(data) key=value ...`, or -1.

    Data may hold spaces and parentheses, so it ends at the last `)` after
    which only key=value words follow (`endpos=1234`). The words are walked
    from the right once: linear in the line, however many `)` it holds. Only
    the last few are split off first (a reply ends with at most a couple of
    pairs), so a long data part is not cut into words for nothing.
    """
    last = rest.rsplit(None, _TAIL_WORDS)
    more = len(last) > _TAIL_WORDS  # last[0] is everything before the last words
    close = _close_among(rest, last[1:] if more else last)
    if close is None and more:
        close = _close_among(rest, rest.split())
    return -1 if close is None else close


def _close_among(rest: str, words: list[str]) -> int | None:
    """`_data_end` over `rest`'s last `words`; None: they are all key=value pairs."""
    for skipped, word in enumerate(reversed(words)):
        if word.endswith(")"):
            close = len(word) - 1
        else:
            equals = word.rfind("=")
            if equals < 0:
                return -1  # not key=value: no `)` left of this word can close the data
            # A `)` before the word's last `=` leaves `...=value` after it; without
            # one the whole word is a key=value pair and the search goes on left.
            close = word.rfind(")", 0, equals)
            if close < 0:
                continue
        head = rest.rsplit(None, skipped)[0] if skipped else rest
        return len(head) - len(word) + close
    return None


def quote_arg(value: str) -> str:
    """Quote one command argument the way Asterisk's AGI argument parser expects."""
    if "\n" in value or "\r" in value:
        raise ValueError("an AGI argument cannot contain a line break")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(command: str) -> bytes:
    """One command line; line breaks would inject further commands, so they are refused."""
    if "\n" in command or "\r" in command:
        raise ValueError("an AGI command cannot contain a line break")
    if not command.strip():
        raise ValueError("empty AGI command")
    return (command + "\n").encode("utf-8")


def encode_environment(variables: dict[str, str]) -> bytes:
    """The environment block as Asterisk sends it (pbxsim uses this)."""
    lines = []
    for key, value in variables.items():
        if "\n" in key + value or ":" in key:
            raise ValueError(f"bad AGI environment entry {key!r}")
        lines.append(f"{key}: {value}\n")
    return ("".join(lines) + "\n").encode("utf-8")


class AGIParser:
    """Incremental parser of what Asterisk sends: environment first, then replies/HANGUP.

    Bounds: one line of at most `max_line` bytes; one block (the environment,
    a 520 usage block) of at most `max_block_size` bytes and `max_block_lines`
    lines. Past a bound it raises AGIProtocolError. In the environment that is
    final: the parser keeps nothing and refuses whatever follows (the server
    closes the connection). Among replies it drops the offending line or block
    and goes on with the next one, so the server can still send the call to
    its failure context. An error is raised once the whole chunk is parsed;
    the items parsed around it are in the exception's `items`.
    """

    def __init__(
        self,
        max_line: int = DEFAULT_MAX_LINE,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
        max_block_lines: int = DEFAULT_MAX_BLOCK_LINES,
    ) -> None:
        self.max_line = max_line
        self.max_block_size = max_block_size
        self.max_block_lines = max_block_lines
        self._buffer = bytearray()
        self._scan = 0  # no line end before this offset of the buffer
        self._skip_line = False  # dropping the rest of an overlong line
        self._env: dict[str, str] | None = {}
        self._block_size = 0  # bytes and lines of the block being read
        self._block_lines = 0
        self._usage: list[str] | None = None  # inside a 520- block
        self._skip_usage = False  # dropping an oversize 520 block up to its end
        self._failed: AGIProtocolError | None = None  # a refused environment

    @property
    def environment_done(self) -> bool:
        return self._env is None

    @property
    def retained_bytes(self) -> int:
        """What the parser holds between feeds: buffered bytes and the block being read."""
        return len(self._buffer) + self._block_size

    @property
    def retained_lines(self) -> int:
        """Lines of the block being read (environment entries, usage lines)."""
        return self._block_lines

    def feed(self, data: bytes) -> list[AGIItem]:
        if self._failed is not None:
            raise AGIProtocolError(f"AGI stream refused earlier: {self._failed}")
        buf = self._buffer
        buf += data
        items: list[AGIItem] = []
        error: AGIProtocolError | None = None
        pos = 0
        while True:
            end = buf.find(b"\n", max(pos, self._scan))
            if end < 0:
                break
            start, pos = pos, end + 1
            if self._skip_line:
                self._skip_line = False
                continue
            if end - start > self.max_line:
                error = error or AGIProtocolError(f"AGI line longer than {self.max_line} bytes")
                if self._env is not None:
                    break
                continue
            line = bytes(buf[start:end]).rstrip(b"\r").decode("utf-8", errors="replace")
            try:
                item = self._line(line)
            except AGIProtocolError as exc:
                error = error or exc
                if self._env is not None:
                    break
                continue
            if item is not None:
                items.append(item)
        del buf[:pos]
        self._scan = len(buf)
        if self._skip_line or len(buf) > self.max_line:
            if not self._skip_line:
                error = error or AGIProtocolError(f"AGI line longer than {self.max_line} bytes")
                self._skip_line = True
            buf.clear()
            self._scan = 0
        if error is not None:
            if self._env is not None:
                self._refuse(error)
            error.items = items
            raise error
        return items

    def _refuse(self, error: AGIProtocolError) -> None:
        """An environment past the bounds or malformed: keep nothing, refuse the rest."""
        self._failed = error
        self._buffer = bytearray()
        self._scan = 0
        self._env = {}
        self._block_size = self._block_lines = 0

    def _grow_block(self, line: str, what: str) -> None:
        self._block_size += len(line) + 1
        self._block_lines += 1
        if self._block_size > self.max_block_size:
            raise AGIProtocolError(f"AGI {what} larger than {self.max_block_size} bytes")
        if self._block_lines > self.max_block_lines:
            raise AGIProtocolError(f"AGI {what} longer than {self.max_block_lines} lines")

    def _line(self, line: str) -> AGIItem | None:
        if self._env is not None:
            if not line:
                env, self._env = self._env, None
                self._block_size = self._block_lines = 0
                return AGIEnvironment(env)
            self._grow_block(line, "environment")
            key, sep, value = line.partition(":")
            if not sep:
                raise AGIProtocolError(f"bad AGI environment line: {line[:80]!r}")
            self._env[key.strip()] = value[1:] if value.startswith(" ") else value
            return None
        if line == "HANGUP":
            return AGIHangupNotice()
        if self._skip_usage:
            self._skip_usage = not line.startswith("520 ")
            return None
        if self._usage is not None:
            if line.startswith("520 "):
                self._usage.append(line)
                text, self._usage = "\n".join(self._usage), None
                self._block_size = self._block_lines = 0
                return AGIErrorReply(520, text)
            try:
                self._grow_block(line, "usage block")
            except AGIProtocolError:
                self._usage = None
                self._block_size = self._block_lines = 0
                self._skip_usage = True
                raise
            self._usage.append(line)
            return None
        if line.startswith("520-"):
            self._usage = []
            self._grow_block(line, "usage block")
            self._usage.append(line[4:])
            return None
        if not line:
            return None
        return parse_reply(line)
