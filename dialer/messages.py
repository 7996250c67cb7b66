"""The messages between dialers and consoles: channel names, keys, typed messages.

Both sides import this module and nothing else names a channel or a message
type. Every message is a frozen dataclass with a `TYPE` (the wire name) and a
`CHANNEL`; `to_json` and `parse` are the only way onto and off the wire, and
`Notifier` publishes them. docs/architecture.md has the picture.

Pub/sub keeps nothing: a message published while nobody listens is gone. So
nothing here is the only record of a change to what may be dialed. A
disposition's effects (holds, account status, wrong numbers) are written in
SQL in the disposition's transaction, and every dialer's final check reads
SQL; `StopAccount` only tells a running loop to drop the account from its
hopper and hang up its ringing calls now. A supervisor's `CampaignChange` is
in SQL before it is sent; the loops re-read the campaign every refill period,
the message only makes them act at once.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Awaitable, Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar, Protocol

# -- channels and keys -------------------------------------------------------------

POPS_CHANNEL = "cobrador:pops"  # dialer -> console: an agent's screen-pop
COMMANDS_CHANNEL = "cobrador:commands"  # console, CLI -> dialer loops and phone service
AGENT_EVENTS_CHANNEL = "cobrador:agent-events"  # any -> console, phones: an agent's new state


def wallboard_key(campaign: str) -> str:
    """The live figures a campaign's dial loop writes for the supervisor's wallboard."""
    return f"cobrador:wallboard:{{{campaign}}}"


def reply_key(request_id: str) -> str:
    """The list a dialer answers a Hangup or Transfer on (dialer/command_replies.py)."""
    return f"cobrador:command-reply:{{{request_id}}}"


class MessageError(ValueError):
    """A message that is not JSON, of no known type, or with a missing or bad field."""


# -- the messages ------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    TYPE: ClassVar[str]
    CHANNEL: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


# Pops: dialer -> console (POPS_CHANNEL). The console loads what the screen shows
# from SQL; a pop carries ids and the time it was published (pop latency).


@dataclass(frozen=True)
class Pop(Message):
    """An outbound call was bridged to the agent (or transferred to them)."""

    TYPE: ClassVar[str] = "pop"
    CHANNEL: ClassVar[str] = POPS_CHANNEL
    attempt_id: int
    agent_id: int
    account_id: int
    campaign: str
    published_at: float
    direction: str = "outbound"
    transferred_from: int | None = None
    recording: str | None = None  # the campaign's recording mode
    recording_notice: str | None = None  # the notice line to read, when the agent reads it
    pop_id: int | None = None  # benchmarks count their pops by it


@dataclass(frozen=True)
class PreviewOffer(Message):
    """Preview mode: the account the agent may dial next (or skip)."""

    TYPE: ClassVar[str] = "preview"
    CHANNEL: ClassVar[str] = POPS_CHANNEL
    agent_id: int
    account_id: int
    campaign: str
    published_at: float


@dataclass(frozen=True)
class InboundPop(Message):
    """A caller was bridged to the agent; the number may match several accounts, or none."""

    TYPE: ClassVar[str] = "inbound"
    CHANNEL: ClassVar[str] = POPS_CHANNEL
    attempt_id: int
    agent_id: int
    campaign: str
    ani_status: str
    account_ids: tuple[int, ...]
    account_id: int | None
    verification: tuple[str, ...]
    waited_seconds: float
    published_at: float
    direction: str = "inbound"


# Commands: console and CLI -> dialer (COMMANDS_CHANNEL). `campaign` None: every
# loop looks (the one holding the call or the account acts).


@dataclass(frozen=True)
class StopAccount(Message):
    """The account may no longer be dialed (already in SQL): out of the hopper, ringing calls hung up."""

    TYPE: ClassVar[str] = "stop_account"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    account_id: int
    reason: str
    campaign: str | None = None


@dataclass(frozen=True)
class Hangup(Message):
    """End the debtor's channel; the loop holding it replies on request_id (command_replies)."""

    TYPE: ClassVar[str] = "hangup"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    attempt_id: int
    agent_id: int | None = None
    request_id: str | None = None
    campaign: str | None = None


@dataclass(frozen=True)
class Transfer(Message):
    """Move the bridged call to another agent (the longest idle when to_agent_id is None)."""

    TYPE: ClassVar[str] = "transfer"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    attempt_id: int
    agent_id: int
    to_agent_id: int | None = None
    request_id: str | None = None
    campaign: str | None = None


@dataclass(frozen=True)
class RecordingStart(Message):
    """on_demand recording: start, only on the agent's own bridged call."""

    TYPE: ClassVar[str] = "recording_start"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    attempt_id: int
    agent_id: int
    campaign: str | None = None


@dataclass(frozen=True)
class RecordingStop(Message):
    TYPE: ClassVar[str] = "recording_stop"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    attempt_id: int
    agent_id: int
    campaign: str | None = None


@dataclass(frozen=True)
class PreviewRequest(Message):
    """Preview mode: the agent asks the campaign's loop for the next account."""

    TYPE: ClassVar[str] = "preview_request"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    agent_id: int
    campaign: str


@dataclass(frozen=True)
class PreviewDial(Message):
    TYPE: ClassVar[str] = "preview_dial"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    agent_id: int
    account_id: int
    campaign: str


@dataclass(frozen=True)
class PreviewSkip(Message):
    TYPE: ClassVar[str] = "preview_skip"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    agent_id: int
    account_id: int
    campaign: str


@dataclass(frozen=True)
class CampaignChange(Message):
    """A campaign's status or dial mode changed in SQL: its loops act now, not at the next reload."""

    TYPE: ClassVar[str] = "campaign"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    campaign: str
    status: str | None = None
    dial_mode: str | None = None


@dataclass(frozen=True)
class AgentLegReconnect(Message):
    """Call the agent's phone again (the phone service acts; dial loops ignore it)."""

    TYPE: ClassVar[str] = "agent_leg_reconnect"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    agent_id: int


@dataclass(frozen=True)
class MonitorStart(Message):
    """A supervisor listens to (or whispers to, barges into) an agent's call."""

    TYPE: ClassVar[str] = "monitor"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    monitor_id: str
    supervisor_id: int
    agent_id: int
    mode: str
    # The call the console allowed her to hear: refused once the agent is on another,
    # and the session ends when it ends (None: the agent's call of the moment).
    attempt_id: int | None = None


@dataclass(frozen=True)
class MonitorStop(Message):
    TYPE: ClassVar[str] = "monitor_stop"
    CHANNEL: ClassVar[str] = COMMANDS_CHANNEL
    monitor_id: str
    supervisor_id: int


PopMessage = Pop | PreviewOffer | InboundPop
Command = (
    StopAccount
    | Hangup
    | Transfer
    | RecordingStart
    | RecordingStop
    | PreviewRequest
    | PreviewDial
    | PreviewSkip
    | CampaignChange
    | AgentLegReconnect
    | MonitorStart
    | MonitorStop
)
MESSAGE_TYPES: tuple[type[Message], ...] = (*typing.get_args(PopMessage), *typing.get_args(Command))
BY_TYPE: dict[str, type[Message]] = {cls.TYPE: cls for cls in MESSAGE_TYPES}
CHANNELS = (POPS_CHANNEL, COMMANDS_CHANNEL, AGENT_EVENTS_CHANNEL)


# -- off the wire ------------------------------------------------------------------


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """The value as the field's type, or MessageError. bool is never taken for int."""
    if isinstance(hint, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (hint,) = [o for o in options if o is not type(None)]
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise MessageError(f"{where}: expected a list")
        (item,) = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return tuple(_coerce(v, item, where) for v in value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    raise MessageError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def from_dict(data: Mapping[str, Any], expect: tuple[type[Message], ...] = MESSAGE_TYPES) -> Any:
    """The typed message a decoded JSON object stands for, of one of the expected classes."""
    kind = data.get("type")
    cls = BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None or cls not in expect:
        raise MessageError(f"unknown message type {kind!r}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in data:
            values[f.name] = _coerce(data[f.name], hints[f.name], f"{kind}.{f.name}")
        elif f.default is MISSING and f.default_factory is MISSING:
            raise MessageError(f"{kind}: missing {f.name}")
    return cls(**values)


def parse(raw: bytes | str, expect: tuple[type[Message], ...] = MESSAGE_TYPES) -> Any:
    """JSON from a channel -> its typed message; MessageError says what is wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise MessageError("not JSON") from exc
    if not isinstance(data, dict):
        raise MessageError("not a JSON object")
    return from_dict(data, expect)


def parse_command(raw: bytes | str) -> Command:
    result: Command = parse(raw, typing.get_args(Command))
    return result


def parse_pop(raw: bytes | str) -> PopMessage:
    result: PopMessage = parse(raw, typing.get_args(PopMessage))
    return result


# -- onto the wire -----------------------------------------------------------------


class Publisher(Protocol):
    def publish(self, channel: str, message: str) -> Awaitable[Any]: ...


class Notifier:
    """Publishes typed messages on their channel; returns how many subscribers got one."""

    def __init__(self, redis: Publisher) -> None:
        self._redis = redis

    async def send(self, message: Message) -> int:
        return int(await self._redis.publish(message.CHANNEL, message.to_json()))
