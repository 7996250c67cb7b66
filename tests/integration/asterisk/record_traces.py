"""Record real Asterisk 22 AMI and FastAGI traffic into tests/fixtures/.

Run against the chroot Asterisk (``scripts/asterisk-chroot start``)::

    .venv/bin/python tests/integration/asterisk/record_traces.py

Raw sockets on purpose: the fixtures must be exactly what Asterisk sent (bytes,
CRLF kept), independent of our own codecs, because the codecs are tested
against them. For each scenario ``tests/fixtures/ami/<name>.txt`` holds every
byte Asterisk sent on that AMI connection and ``<name>.sent.txt`` what we
sent; ``tests/fixtures/agi/<name>.txt`` holds what Asterisk sent on a FastAGI
connection and ``<name>.sent.txt`` our commands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SECRET = "cobrador-dev-secret"
# Numbers: 52 (MX) + 55 + 5 digits + the sim-customers behaviour suffix.
HUMAN = "5215512340101"
AGENT_ID = "7"


def message_blocks(data: bytes) -> list[dict[str, str]]:
    """Split received AMI bytes into header dicts (just enough for waiting)."""
    out: list[dict[str, str]] = []
    text = data.decode("utf-8", "replace")
    for block in text.split("\r\n\r\n"):
        headers: dict[str, str] = {}
        for line in block.split("\r\n"):
            key, sep, value = line.partition(": ")
            if sep:
                headers.setdefault(key.lower(), value)
        if headers:
            out.append(headers)
    return out


@dataclass
class RawAMI:
    """One AMI connection that keeps every byte in both directions."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    received: bytearray = field(default_factory=bytearray)
    sent: bytearray = field(default_factory=bytearray)
    _pump: asyncio.Task[None] | None = None
    _seq: int = 0

    @classmethod
    async def open(cls, host: str, port: int) -> RawAMI:
        reader, writer = await asyncio.open_connection(host, port)
        ami = cls(reader, writer)
        ami._pump = asyncio.create_task(ami._read())
        return ami

    async def _read(self) -> None:
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                return
            self.received += chunk

    def send(self, headers: list[tuple[str, str]]) -> str:
        self._seq += 1
        action_id = f"rec-{self._seq}"
        lines = [f"{k}: {v}" for k, v in headers] + [f"ActionID: {action_id}"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.sent += data
        self.writer.write(data)
        return action_id

    def messages(self) -> list[dict[str, str]]:
        return message_blocks(bytes(self.received))

    async def wait_for(
        self, predicate: Callable[[list[dict[str, str]]], bool], within: float = 30.0
    ) -> list[dict[str, str]]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            msgs = self.messages()
            if predicate(msgs):
                return msgs
            await asyncio.sleep(0.05)
        raise TimeoutError("condition not met in the AMI stream")

    async def wait_response(self, action_id: str, complete_event: str | None = None) -> None:
        def done(msgs: list[dict[str, str]]) -> bool:
            if complete_event is None:
                return any(m.get("actionid") == action_id and "response" in m for m in msgs)
            return any(
                m.get("actionid") == action_id and m.get("event") == complete_event for m in msgs
            )

        await self.wait_for(done)

    async def login(self, secret: str = SECRET) -> None:
        await self.wait_for(lambda _m: self.received.startswith(b"Asterisk Call Manager"))
        aid = self.send([("Action", "Login"), ("Username", "cobrador"), ("Secret", secret)])
        await self.wait_response(aid)

    async def close(self) -> None:
        self.writer.close()
        if self._pump:
            self._pump.cancel()

    def save(self, name: str) -> None:
        (FIXTURES / "ami").mkdir(parents=True, exist_ok=True)
        (FIXTURES / "ami" / f"{name}.txt").write_bytes(bytes(self.received))
        (FIXTURES / "ami" / f"{name}.sent.txt").write_bytes(bytes(self.sent))


@dataclass
class AGIRecorder:
    """A FastAGI server that follows a per-attempt script and records bytes."""

    actions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    recordings: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received = bytearray()
        sent = bytearray()
        env: dict[str, str] = {}
        while True:
            line = await reader.readline()
            received += line
            if line in (b"\n", b""):
                break
            key, _, value = line.decode().rstrip("\n").partition(": ")
            env[key] = value

        async def command(text: str) -> bytes:
            data = (text + "\n").encode()
            sent.extend(data)
            writer.write(data)
            await writer.drain()
            reply = b""
            while not reply.startswith(b"200") and not reply.startswith(b"5"):
                reply = await reader.readline()
                received.extend(reply)
                if not reply:
                    break
            return reply

        reply = await command("GET VARIABLE COBRADOR_ATTEMPT_ID")
        attempt = reply.decode().partition("(")[2].partition(")")[0]
        await command("GET VARIABLE AMDSTATUS")
        if attempt in self.hold:
            # Keep the channel in AGI until the test hangs it up, then keep
            # talking: Asterisk sends HANGUP and answers 511 from then on.
            await self.hold[attempt].wait()
            await asyncio.sleep(0.3)
            await command("GET VARIABLE COBRADOR_ATTEMPT_ID")
        for name, value in self.actions.get(attempt, [("COBRADOR_ACTION", "hangup")]):
            await command(f"SET VARIABLE {name} {value}")
        writer.close()
        # Anything Asterisk still had to say before it saw our close.
        with contextlib.suppress(TimeoutError, ConnectionError):
            received.extend(await asyncio.wait_for(reader.read(), 1.0))
        self.recordings[attempt] = (bytes(received), bytes(sent))

    def save(self, attempt: str, name: str) -> None:
        received, sent = self.recordings[attempt]
        (FIXTURES / "agi").mkdir(parents=True, exist_ok=True)
        (FIXTURES / "agi" / f"{name}.txt").write_bytes(received)
        (FIXTURES / "agi" / f"{name}.sent.txt").write_bytes(sent)


def originate(number: str, attempt: str, timeout_ms: int = 30000) -> list[tuple[str, str]]:
    return [
        ("Action", "Originate"),
        ("Channel", f"Local/{number}@cobrador-outbound"),
        ("Context", "cobrador-answer"),
        ("Exten", "s"),
        ("Priority", "1"),
        ("Async", "true"),
        ("Timeout", str(timeout_ms)),
        ("ChannelId", f"cobrador-{attempt}"),
        ("CallerID", '"Cobrador" <5215500000000>'),
        ("Variable", f"COBRADOR_ATTEMPT_ID={attempt}"),
        ("Variable", "COBRADOR_CAMPAIGN=recording"),
    ]


def hung_up(uniqueid: str) -> Callable[[list[dict[str, str]]], bool]:
    return lambda msgs: any(
        m.get("event") == "Hangup" and m.get("uniqueid") == uniqueid for m in msgs
    )


def has_event(event: str, **match: str) -> Callable[[list[dict[str, str]]], bool]:
    return lambda msgs: any(
        m.get("event") == event and all(m.get(k.lower()) == v for k, v in match.items())
        for m in msgs
    )


async def settle(ami: RawAMI, quiet: float = 0.5) -> None:
    """Wait until the stream has been quiet a moment (trailing events)."""
    size = -1
    while size != len(ami.received):
        size = len(ami.received)
        await asyncio.sleep(quiet)


async def record_call(
    host: str, port: int, name: str, number: str, attempt: str, timeout_ms: int = 30000
) -> None:
    ami = await RawAMI.open(host, port)
    await ami.login()
    aid = ami.send(originate(number, attempt, timeout_ms))
    await ami.wait_response(aid)
    await ami.wait_for(has_event("OriginateResponse", actionid=aid), within=timeout_ms / 1000 + 15)
    await ami.wait_for(hung_up(f"cobrador-{attempt}"), within=60)
    await settle(ami)
    ami.save(name)
    await ami.close()


async def record_core(host: str, port: int, agi: AGIRecorder) -> None:
    """Login, every sim-customers behaviour, the agent bridge, AGI hang-up, Command."""
    # Login banner, success, FullyBooted; and a refused login.
    ami = await RawAMI.open(host, port)
    await ami.login()
    await ami.wait_for(has_event("FullyBooted"))
    await settle(ami, 0.3)
    ami.send([("Action", "Ping")])
    await settle(ami, 0.3)
    ami.send([("Action", "Logoff")])
    await settle(ami, 0.3)
    ami.save("login")
    await ami.close()

    bad = await RawAMI.open(host, port)
    await bad.login(secret="wrong")
    await settle(bad, 0.3)
    bad.save("login_failed")
    await bad.close()

    # Each sim-customers behaviour that never reaches FastAGI.
    await record_call(host, port, "originate_busy", "5215512340301", "301")
    await record_call(host, port, "originate_congestion", "5215512340501", "501")
    await record_call(host, port, "originate_unallocated", "5215512340601", "601")
    await record_call(host, port, "originate_no_answer", "5215512340401", "401", timeout_ms=3000)

    # Machine: AMD says MACHINE, the handler hangs up.
    agi.actions["201"] = [("COBRADOR_ACTION", "hangup")]
    await record_call(host, port, "originate_machine", "5215512340201", "201")
    agi.save("201", "answer_machine")

    # Human, forced abandon: handler says safe_harbor, the message plays.
    agi.actions["102"] = [("COBRADOR_ACTION", "safe_harbor")]
    await record_call(host, port, "originate_human_safe_harbor", "5215512340102", "102")
    agi.save("102", "answer_safe_harbor")

    # Human bridged to an agent's nailed-up leg; CoreShowChannels while both are up.
    ami = await RawAMI.open(host, port)
    await ami.login()
    agent = ami.send(
        [
            ("Action", "Originate"),
            ("Channel", f"Local/{AGENT_ID}@sim-agents"),
            ("Context", "cobrador-agent"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
            ("ChannelId", f"cobrador-agent-{AGENT_ID}"),
            ("Variable", f"COBRADOR_AGENT_ID={AGENT_ID}"),
        ]
    )
    await ami.wait_for(has_event("ConfbridgeJoin", uniqueid=f"cobrador-agent-{AGENT_ID}"))
    agi.actions["101"] = [("COBRADOR_ACTION", "bridge"), ("COBRADOR_BRIDGE", f"agent-{AGENT_ID}")]
    call = ami.send(originate(HUMAN, "101"))
    await ami.wait_response(call)
    await ami.wait_for(has_event("ConfbridgeJoin", uniqueid="cobrador-101"))
    listing = ami.send([("Action", "CoreShowChannels")])
    await ami.wait_response(listing, complete_event="CoreShowChannelsComplete")
    command = ami.send([("Action", "Command"), ("Command", "core show channels concise")])
    await ami.wait_response(command)
    ami.send([("Action", "Hangup"), ("Channel", "cobrador-101")])
    await ami.wait_for(hung_up("cobrador-101"))
    ami.send([("Action", "Hangup"), ("Channel", f"cobrador-agent-{AGENT_ID}")])
    await ami.wait_for(hung_up(f"cobrador-agent-{AGENT_ID}"))
    await settle(ami)
    ami.save("originate_human_bridged")
    await ami.close()
    agi.save("101", "answer_bridge")
    del agent

    # The channel hangs up while its FastAGI request is open.
    agi.hold["103"] = asyncio.Event()
    ami = await RawAMI.open(host, port)
    await ami.login()
    call = ami.send(originate("5215512340103", "103"))
    await ami.wait_for(has_event("AGIExecStart", uniqueid="cobrador-103"), within=20)
    ami.send([("Action", "Hangup"), ("Channel", "cobrador-103")])
    # The channel's Hangup event only comes once the FastAGI connection is
    # closed: Asterisk keeps the dead channel for the AGI script until then.
    await ami.wait_for(has_event("HangupRequest", uniqueid="cobrador-103"))
    agi.hold["103"].set()
    await ami.wait_for(lambda _m: "103" in agi.recordings, within=10)
    await ami.wait_for(hung_up("cobrador-103"))
    await settle(ami)
    ami.save("originate_human_hangup_during_agi")
    await ami.close()
    agi.save("103", "answer_hangup")

    # Command output formats (Response: Follows is gone since Asterisk 14: Output: lines).
    ami = await RawAMI.open(host, port)
    await ami.login()
    for cmd in ("core show version", "no such command here"):
        await ami.wait_response(ami.send([("Action", "Command"), ("Command", cmd)]))
    await ami.wait_response(ami.send([("Action", "Getvar"), ("Variable", "COBRADOR_AGI_HOST")]))
    await ami.wait_response(ami.send([("Action", "NoSuchAction")]))
    await ami.wait_response(
        ami.send([("Action", "CoreShowChannels")]), complete_event="CoreShowChannelsComplete"
    )
    await settle(ami, 0.3)
    ami.save("command_and_errors")
    await ami.close()


async def record_dialer_actions(host: str, port: int, agi: AGIRecorder) -> None:
    """What the dialer does to live calls: cancel while ringing, transfer, supervisor."""
    # The dialer hangs up a call that is still ringing.
    ami = await RawAMI.open(host, port)
    await ami.login()
    ami.send(originate("5215512340402", "402", 30000))
    await ami.wait_for(has_event("Newstate", uniqueid="cobrador-402", channelstatedesc="Ringing"))
    await ami.wait_response(ami.send([("Action", "Hangup"), ("Channel", "cobrador-402")]))
    await ami.wait_for(hung_up("cobrador-402"))
    await settle(ami)
    ami.save("dialer_cancel_ringing")
    await ami.close()

    # Transfer: a debtor bridged to agent 8 moves to agent 9 (Setvar + Redirect);
    # a supervisor listens to agent 9 (muted ConfBridge member); ConfbridgeList.
    ami = await RawAMI.open(host, port)
    await ami.login()
    for agent in ("8", "9"):
        ami.send(
            [
                ("Action", "Originate"),
                ("Channel", f"Local/{agent}@sim-agents"),
                ("Context", "cobrador-agent"),
                ("Exten", "s"),
                ("Priority", "1"),
                ("Async", "true"),
                ("ChannelId", f"cobrador-agent-{agent}"),
                ("Variable", f"COBRADOR_AGENT_ID={agent}"),
            ]
        )
        await ami.wait_for(has_event("ConfbridgeJoin", uniqueid=f"cobrador-agent-{agent}"))
    agi.actions["111"] = [("COBRADOR_ACTION", "bridge"), ("COBRADOR_BRIDGE", "agent-8")]
    await ami.wait_response(ami.send(originate("5215512340101", "111")))
    await ami.wait_for(has_event("ConfbridgeJoin", uniqueid="cobrador-111"))
    await ami.wait_response(
        ami.send(
            [
                ("Action", "Setvar"),
                ("Channel", "cobrador-111"),
                ("Variable", "COBRADOR_BRIDGE"),
                ("Value", "agent-9"),
            ]
        )
    )
    await ami.wait_response(
        ami.send(
            [
                ("Action", "Redirect"),
                ("Channel", "cobrador-111"),
                ("Context", "cobrador-answer"),
                ("Exten", "action-bridge"),
                ("Priority", "1"),
            ]
        )
    )
    await ami.wait_for(has_event("ConfbridgeJoin", uniqueid="cobrador-111", conference="agent-9"))
    ami.send(
        [
            ("Action", "Originate"),
            ("Channel", "Local/900@sim-agents"),
            ("Context", "cobrador-supervisor"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
            ("ChannelId", "cobrador-supervisor-1"),
            ("Variable", "COBRADOR_SPY_AGENT_ID=9"),
        ]
    )
    await ami.wait_for(has_event("ConfbridgeJoin", uniqueid="cobrador-supervisor-1"))
    listing = ami.send([("Action", "ConfbridgeList"), ("Conference", "agent-9")])
    await ami.wait_response(listing, complete_event="ConfbridgeListComplete")
    for channel in ("cobrador-111", "cobrador-agent-8", "cobrador-agent-9"):
        ami.send([("Action", "Hangup"), ("Channel", channel)])
        await ami.wait_for(hung_up(channel))
    await ami.wait_for(hung_up("cobrador-supervisor-1"))
    await settle(ami)
    ami.save("dialer_transfer_and_supervisor")
    await ami.close()
    agi.save("111", "answer_bridge_then_transfer")


async def record_session_filter(host: str, port: int) -> None:
    """Asterisk 22's advanced session filter: only the named events reach us.
    The call is placed from another session, so this trace holds no Originate."""
    ami = await RawAMI.open(host, port)
    await ami.login()
    for name in ("Newstate", "Hangup", "OriginateResponse"):
        await ami.wait_response(
            ami.send(
                [("Action", "Filter"), ("Operation", "Add"), ("MatchCriteria", f"name({name})")]
            )
        )
    await ami.wait_response(ami.send([("Action", "FilterList")]))
    dialer = await RawAMI.open(host, port)
    await dialer.login()
    await dialer.wait_response(dialer.send(originate("5215512340103", "311")))
    await ami.wait_for(has_event("Newstate", uniqueid="cobrador-311", channelstatedesc="Up"))
    await dialer.wait_response(dialer.send([("Action", "Hangup"), ("Channel", "cobrador-311")]))
    await ami.wait_for(hung_up("cobrador-311"))
    await settle(ami)
    ami.save("session_filter")
    await ami.close()
    await dialer.close()


async def record_all(host: str, port: int, sets: set[str]) -> None:
    agi = AGIRecorder()
    agi_port = await agi.start()
    setup = await RawAMI.open(host, port)
    await setup.login()
    for var, value in (
        ("COBRADOR_AGI_PORT", str(agi_port)),
        ("SIM_TALK_SECONDS", "20"),
        ("SIM_MACHINE_SECONDS", "2"),
    ):
        await setup.wait_response(
            setup.send([("Action", "Setvar"), ("Variable", var), ("Value", value)])
        )

    if "core" in sets:
        await record_core(host, port, agi)
    if "dialer" in sets:
        await record_dialer_actions(host, port, agi)
    if "filter" in sets:
        await record_session_filter(host, port)

    for var, value in (
        ("COBRADOR_AGI_PORT", "4573"),
        ("SIM_TALK_SECONDS", "30"),
        ("SIM_MACHINE_SECONDS", "20"),
    ):
        await setup.wait_response(
            setup.send([("Action", "Setvar"), ("Variable", var), ("Value", value)])
        )
    await setup.close()
    if agi.server:
        agi.server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument(
        "--set",
        action="append",
        choices=("core", "dialer", "filter"),
        help="which traces to record (default: all); re-recording changes every byte",
    )
    args = parser.parse_args()
    asyncio.run(record_all(args.host, args.port, set(args.set or ("core", "dialer", "filter"))))


if __name__ == "__main__":
    main()
