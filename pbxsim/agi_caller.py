"""pbxsim's side of FastAGI: connect to the dialer like Asterisk's AGI() does.

Sends the agi_* environment, executes the commands the handler sends as state
changes of the simulated channel, sends `HANGUP` when the channel hangs up and
answers 511 after that. Returns AGISTATUS and a Goto target, if any.
"""

from __future__ import annotations

import asyncio
import logging
import random

from dialer import channel_vars as cv
from dialer.fastagi.codec import encode_environment
from pbxsim.channel import STATE_UP, Channel
from pbxsim.kernel import Kernel, LocationT

log = logging.getLogger(__name__)

DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
# What Asterisk still runs after the caller hung up (seen in the recorded traces).
_DEAD_OK = {"GET VARIABLE", "GET FULL", "SET VARIABLE", "VERBOSE", "NOOP"}
CONNECT_TIMEOUT = 2.0
AFTER_HANGUP_GRACE = 5.0  # wall seconds a script may keep talking after HANGUP


def split_args(line: str) -> list[str]:
    """Split a command line the way Asterisk's AGI parser does (quotes, backslash escapes)."""
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = in_word = False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = in_word = True
        elif ch == '"':
            quoted = not quoted
            in_word = True
        elif ch == " " and not quoted:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(ch)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


def parse_goto(data: str, channel: Channel) -> LocationT | None:
    parts = [p.strip() for p in data.replace("|", ",").split(",")]
    try:
        if len(parts) == 3:
            return parts[0], parts[1], int(parts[2])
        if len(parts) == 2:
            return channel.context, parts[0], int(parts[1])
        if len(parts) == 1 and parts[0]:
            return channel.context, channel.exten, int(parts[0])
    except ValueError:
        return None
    return None


class _Execution:
    def __init__(self, pbx: Kernel, channel: Channel) -> None:
        self.pbx = pbx
        self.channel = channel
        self.goto: LocationT | None = None
        self._location: list[str] = [channel.context, channel.exten, str(channel.priority)]
        self._location_set = False

    async def reply(self, line: str, dead: bool) -> str:
        words = split_args(line)
        if not words:
            return "510 Invalid or unknown command"
        verb = " ".join(w.upper() for w in words[:2])
        if dead and verb not in _DEAD_OK:
            return DEAD
        if verb == "GET VARIABLE" and len(words) >= 3:
            value = self.pbx.get_var(self.channel, words[2])
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        if verb == "SET VARIABLE" and len(words) >= 4:
            self.pbx.set_var(self.channel, words[2], words[3])
            return "200 result=1"
        if verb in ("SET CONTEXT", "SET EXTENSION", "SET PRIORITY") and len(words) >= 3:
            index = ("SET CONTEXT", "SET EXTENSION", "SET PRIORITY").index(verb)
            self._location[index] = words[2]
            self._location_set = True
            return "200 result=0"
        first = words[0].upper()
        if first == "EXEC" and len(words) >= 2:
            return await self._exec(words[1], " ".join(words[2:]))
        if first == "ANSWER":
            return "200 result=0" if self.channel.state == STATE_UP else "200 result=-1"
        if first == "HANGUP":
            self.pbx.request_hangup(self.channel, 16)
            return "200 result=1"
        if first in ("VERBOSE", "NOOP"):
            return "200 result=1"
        if verb == "CHANNEL STATUS":
            return f"200 result={self.channel.state}"
        if verb == "STREAM FILE":
            return "200 result=0 endpos=8000"
        return "510 Invalid or unknown command"

    async def _exec(self, application: str, data: str) -> str:
        app = application.lower()
        if app == "goto":
            target = parse_goto(data, self.channel)
            if target is None:
                return "200 result=-1"
            self.goto = target
            return "200 result=0"
        if app == "set":
            name, sep, value = data.partition("=")
            if sep:
                self.pbx.set_var(self.channel, name.strip(), value)
            return "200 result=0"
        if app == "hangup":
            cause = int(data) if data.strip().isdigit() else 16
            self.pbx.request_hangup(self.channel, cause)
            return "200 result=-1"
        if app in ("startmusiconhold", "stopmusiconhold"):
            return "200 result=0"
        if app in ("saynumber", "saydigits", "sayunixtime"):
            ok = await self.pbx.wait(self.channel, 1.0)
            return "200 result=0" if ok else "200 result=-1"
        if app in ("playback", "wait"):
            seconds = 1.0 if app == "playback" else _float(data, 1.0)
            ok = await self.pbx.wait(self.channel, seconds)
            return "200 result=0" if ok else "200 result=-1"
        if app == "confbridge":
            name = data.split(",", 1)[0]
            await self.pbx.conference(self.channel, name, "debtor")
            return "200 result=-1" if self.channel.hangup_cause is not None else "200 result=0"
        if app == "mixmonitor":
            file, _, options = data.partition(",")
            ok = self.pbx.start_mixmonitor(self.channel, file.strip(), options.split(",")[0])
            return "200 result=0" if ok else "200 result=-1"
        if app == "stopmixmonitor":
            self.pbx.stop_mixmonitor(self.channel)
            return "200 result=0"
        if app in ("noop", "answer", "verbose"):
            return "200 result=0"
        return "200 result=-2"

    def target(self) -> LocationT | None:
        if self.goto is not None:
            return self.goto
        if self._location_set:
            try:
                return self._location[0], self._location[1], int(self._location[2])
            except ValueError:
                return None
        return None


def _float(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def agi_address(pbx: Kernel, channel: Channel) -> tuple[str, int]:
    """Like the dialplan's agi://${COBRADOR_AGI_HOST}:${COBRADOR_AGI_PORT}: the call's
    own variables (set by the dialer that placed it) win over the globals."""
    host = pbx.get_var(channel, cv.AGI_HOST) or pbx.agi_host
    port_text = pbx.get_var(channel, cv.AGI_PORT) or ""
    return host, int(port_text) if port_text.isdigit() else pbx.agi_port


def environment(
    pbx: Kernel, channel: Channel, script: str, args: tuple[str, ...] = ()
) -> dict[str, str]:
    host, port = agi_address(pbx, channel)
    return {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://{host}:{port}/{script}",
        "agi_channel": channel.name,
        "agi_language": "en",
        "agi_type": channel.name.split("/", 1)[0],
        "agi_uniqueid": channel.uniqueid,
        "agi_version": "22.0.0-pbxsim",
        "agi_callerid": channel.caller_num or "unknown",
        "agi_calleridname": channel.caller_name or "unknown",
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": "unknown",
        "agi_rdnis": "unknown",
        "agi_context": channel.context,
        "agi_extension": channel.exten,
        "agi_priority": str(channel.priority),
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "0",
    } | {f"agi_arg_{i}": value for i, value in enumerate(args, 1)}


async def run_agi(
    pbx: Kernel, channel: Channel, script: str, args: tuple[str, ...] = ()
) -> tuple[str, LocationT | None]:
    """Run one FastAGI request for `channel`; return (AGISTATUS, goto target or None)."""
    host, port = agi_address(pbx, channel)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        log.warning("pbxsim: FastAGI at %s:%s unreachable: %s", host, port, exc)
        return "FAILURE", None
    execution = _Execution(pbx, channel)
    hangup_sent = False
    line_task: asyncio.Future[bytes] | None = None
    hangup_seen: asyncio.Future[bool] = asyncio.ensure_future(channel.interrupt.wait())
    try:
        writer.write(encode_environment(environment(pbx, channel, script, args)))
        await writer.drain()
        while True:
            if line_task is None:
                line_task = asyncio.ensure_future(reader.readline())
            waiting: set[asyncio.Future[object]] = {line_task}  # type: ignore[arg-type]
            if not hangup_sent:
                waiting.add(hangup_seen)  # type: ignore[arg-type]
            limit = AFTER_HANGUP_GRACE if hangup_sent else None
            finished, _ = await asyncio.wait(
                waiting, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
            if not finished:
                break  # the script ignored HANGUP: Asterisk would drop it too
            if hangup_seen in finished and not hangup_sent:
                if channel.hangup_cause is not None or channel.hungup:
                    writer.write(b"HANGUP\n")
                    hangup_sent = True
                else:
                    # A redirect, not a hangup: it takes effect when the AGI returns.
                    hangup_seen = asyncio.ensure_future(asyncio.Event().wait())
            if line_task not in finished:
                continue
            raw = line_task.result()
            line_task = None
            if not raw:
                break  # the script ended and closed the connection
            command = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            answer = await _execute(pbx, channel, execution, command, hangup_sent)
            writer.write(answer.encode("utf-8") + b"\n")
            await writer.drain()
    except OSError as exc:
        log.info("pbxsim: FastAGI connection lost: %s", exc)
    finally:
        hangup_seen.cancel()
        if line_task is not None:
            line_task.cancel()
        writer.close()
    if channel.hungup or channel.hangup_cause is not None:
        return "HANGUP", None
    return "SUCCESS", execution.target()


async def _execute(
    pbx: Kernel, channel: Channel, execution: _Execution, command: str, dead: bool
) -> str:
    """Run one command between AGIExecStart and AGIExecEnd events, as Asterisk reports it."""
    command_id = str(random.randint(1, 2**31 - 1))
    pbx.emit(
        "AGIExecStart",
        "agi,all",
        [*channel.snapshot(), ("CommandId", command_id), ("Command", command)],
    )
    answer = await execution.reply(command, dead)
    code = answer[:3]
    pbx.emit(
        "AGIExecEnd",
        "agi,all",
        [
            *channel.snapshot(),
            ("CommandId", command_id),
            ("Command", command),
            ("ResultCode", code),
            ("Result", "Success" if code == "200" else "Failure"),
        ],
    )
    return answer
