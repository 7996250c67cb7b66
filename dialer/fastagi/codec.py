"""Sans-IO FastAGI codec: the agi_* environment, command lines and their replies.

Asterisk opens the TCP connection, sends `agi_key: value` lines ended by a
blank line, then answers each command line with `200 result=N (data) endpos=M`,
`510 ...` (unknown command), `511 ...` (channel is dead), or a multi-line
`520-...` / `520 End of proper usage.` block; `HANGUP` arrives on its own line
when the caller hangs up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dialer.fastagi.errors import AGIProtocolError

DEFAULT_MAX_LINE = 64 * 1024
_REPLY = re.compile(r"^(?P<code>\d{3}) result=(?P<result>\S*)(?P<rest>.*)$")


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
    """Parse one reply line (without its line end)."""
    match = _REPLY.match(line)
    if match is None:
        code = line[:3]
        if code.isdigit() and line[3:4] in (" ", "-", ""):
            return AGIErrorReply(int(code), line[4:])
        raise AGIProtocolError(f"not an AGI reply: {line[:80]!r}")
    rest = match["rest"].strip()
    data = None
    if rest.startswith("("):
        # Data may hold spaces and parentheses: it ends at the last ')' before
        # the trailing key=value pairs (endpos=...).
        close = rest.rfind(")")
        tail = rest[close + 1 :]
        while close > 0 and tail.strip() and not _is_pairs(tail):
            close = rest.rfind(")", 0, close)
            tail = rest[close + 1 :]
        if close < 0:
            raise AGIProtocolError(f"unclosed data in AGI reply: {line[:80]!r}")
        data, rest = rest[1:close], tail.strip()
    extra = {}
    for pair in rest.split():
        key, sep, value = pair.partition("=")
        if sep:
            extra[key] = value
    raw = match["result"]
    number = int(raw) if re.fullmatch(r"-?\d+", raw) else 0
    return AGIReply(int(match["code"]), number, data, extra, raw)


def _is_pairs(text: str) -> bool:
    return all("=" in word for word in text.split())


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
    """Incremental parser of what Asterisk sends: environment first, then replies/HANGUP."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._env: dict[str, str] | None = {}
        self._usage: list[str] | None = None  # inside a 520- block

    @property
    def environment_done(self) -> bool:
        return self._env is None

    def feed(self, data: bytes) -> list[AGIItem]:
        self._buffer += data
        items: list[AGIItem] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.max_line:
                    self._buffer.clear()
                    raise AGIProtocolError(f"AGI line longer than {self.max_line} bytes")
                return items
            raw = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if len(raw) > self.max_line:
                raise AGIProtocolError(f"AGI line longer than {self.max_line} bytes")
            item = self._line(raw.decode("utf-8", errors="replace"))
            if item is not None:
                items.append(item)

    def _line(self, line: str) -> AGIItem | None:
        if self._env is not None:
            if not line:
                env, self._env = self._env, None
                return AGIEnvironment(env)
            key, sep, value = line.partition(":")
            if not sep:
                raise AGIProtocolError(f"bad AGI environment line: {line[:80]!r}")
            self._env[key.strip()] = value[1:] if value.startswith(" ") else value
            return None
        if line == "HANGUP":
            return AGIHangupNotice()
        if self._usage is not None:
            self._usage.append(line)
            if line.startswith("520 "):
                text, self._usage = "\n".join(self._usage), None
                return AGIErrorReply(520, text)
            return None
        if line.startswith("520-"):
            self._usage = [line[4:]]
            return None
        if not line:
            return None
        return parse_reply(line)
