"""Helpers for the real-Asterisk tests: the chroot Asterisk, polling, and the
call states the dialer sees, read from AMI events.

The state/result reading here follows CONTRACTS.md ("Dialplan contract") and
is applied unchanged to pbxsim's events in the comparison test.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
from support.polling import until

from dialer.ami import AMIClient, Message
from dialer.fastagi import AGISession

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "asterisk-chroot"
AMI_HOST = "127.0.0.1"
AMI_PORT = 5038
AMI_USER = "cobrador"
AMI_SECRET = "cobrador-dev-secret"
LOCK_PATH = Path(os.environ.get("COBRADOR_ASTERISK_LOCK", "/run/lock/cobrador-asterisk.lock"))

# Contract: 17 busy; 18/19 no answer; the rest of the unanswered causes failed.
BUSY_CAUSES = {17}
NO_ANSWER_CAUSES = {18, 19}
# OriginateResponse Reason 3: Originate's Timeout ran out while ringing.
REASON_RING_TIMEOUT = 3

_attempts = itertools.count(int(time.time()) % 100_000 * 100)


def next_attempt_id() -> int:
    """Attempt ids unique across the test session (channel ids must not repeat)."""
    return next(_attempts)


def integration_required() -> bool:
    return os.environ.get("COBRADOR_REQUIRE_INTEGRATION") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when the CI tier requires real Asterisk."""
    if integration_required():
        pytest.fail(f"real Asterisk required (COBRADOR_REQUIRE_INTEGRATION=1): {reason}")
    pytest.skip(reason)


@dataclass
class ChrootAsterisk:
    """scripts/asterisk-chroot, with the route to sim-customers."""

    host: str = AMI_HOST
    ami_port: int = AMI_PORT

    def run(self, *args: str, timeout: float = 180.0) -> str:
        env = dict(
            os.environ,
            COBRADOR_OUTBOUND_ROUTE="sim",
            COBRADOR_ASTERISK_EXTRA_CONF=str(Path(__file__).parent / "conf"),
        )
        done = subprocess.run(
            [str(SCRIPT), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"asterisk-chroot {' '.join(args)} failed ({done.returncode}): "
                f"{done.stdout}{done.stderr}"
            )
        return done.stdout

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the machine's one chroot Asterisk for a whole test session.

        Several checkouts (git worktrees, a benchmark) share one chroot and its
        fixed ports: each session restarts Asterisk with its own asterisk-conf/,
        so two at once would pull the PBX from under each other. `flock` on the
        same file serialises them (shell: `flock LOCK_PATH command`).
        """
        LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
        with open(LOCK_PATH, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"\nwaiting for the chroot Asterisk ({LOCK_PATH} is held)", flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def installed(self) -> bool:
        root = Path(self.run("path").strip())
        return (root / ".cobrador-installed").exists()

    def cli(self, command: str) -> str:
        return self.run("cli", command)


async def wait_until(
    predicate: Callable[[], bool], within: float = 20.0, what: str = "condition"
) -> None:
    """Poll until `predicate()` holds; fail after `within` seconds (support.polling)."""
    await until(predicate, what, within=within, every=0.05)


async def connect_ami(**kwargs: object) -> AMIClient:
    client = AMIClient(AMI_HOST, AMI_PORT, AMI_USER, AMI_SECRET, **kwargs)  # type: ignore[arg-type]
    await client.connect()
    return client


def originate_debtor(attempt_id: int, number: str, timeout_ms: int = 30000) -> dict[str, str]:
    """The dialer's Originate for a debtor call (CONTRACTS.md)."""
    return {
        "Action": "Originate",
        "Channel": f"Local/{number}@cobrador-outbound",
        "Context": "cobrador-answer",
        "Exten": "s",
        "Priority": "1",
        "Async": "true",
        "Timeout": str(timeout_ms),
        "ChannelId": f"cobrador-{attempt_id}",
        "CallerID": '"Cobrador" <5215500000000>',
        "Variable": f"COBRADOR_ATTEMPT_ID={attempt_id},COBRADOR_CAMPAIGN=it",
    }


def originate_agent(agent_id: int, channel_id: str) -> dict[str, str]:
    """A nailed-up agent leg; Local/<id>@sim-agents stands in for the phone."""
    return {
        "Action": "Originate",
        "Channel": f"Local/{agent_id}@sim-agents",
        "Context": "cobrador-agent",
        "Exten": "s",
        "Priority": "1",
        "Async": "true",
        "ChannelId": channel_id,
        "Variable": f"COBRADOR_AGENT_ID={agent_id}",
    }


async def seat_agent_legs(ami: AMIClient, agent_ids: list[int], legs: list[str],
                          within: float) -> None:  # fmt: skip
    """Each agent's leg (originate_agent) originated and in its ConfBridge; the legs'
    channel ids are appended to `legs` as they are placed (the caller hangs them up,
    even when they do not all join within `within` seconds)."""
    joined: set[str] = set()
    placed: list[str] = []
    events = ami.events()
    try:
        for agent_id in agent_ids:
            leg = f"cobrador-agent-{next_attempt_id()}"
            legs.append(leg)
            placed.append(leg)
            await ami.send_action(originate_agent(agent_id, leg))
        async with asyncio.timeout(within):
            async for event in events:
                if event.name == "ConfbridgeJoin" and event.get("Uniqueid") in placed:
                    joined.add(event.get("Uniqueid") or "")
                if joined == set(placed):
                    break
    finally:
        events.close()


def attempt_key(message: Message) -> tuple[str, bool] | None:
    """('cobrador-<id>', is_first_half) of an event about a dialer channel."""
    uniqueid = message.get("Uniqueid") or ""
    if not uniqueid.startswith("cobrador-"):
        return None
    base, _, half = uniqueid.partition(";")
    return base, half != "2"


def call_states(events: list[Message]) -> list[str]:
    """The states the dialer sees for one call, from the events of its ;1 channel.

    ringing, answered, human|machine|notsure, bridged, safe_harbor, ended.
    """
    states: list[str] = []

    def add(state: str) -> None:
        if state not in states:
            states.append(state)

    for event in events:
        key = attempt_key(event)
        if key is None or not key[1]:
            continue
        name = event.name
        if name == "Newstate" and event.get("ChannelStateDesc") == "Ringing":
            add("ringing")
        elif name == "Newstate" and event.get("ChannelStateDesc") == "Up":
            add("answered")
        elif name == "VarSet" and event.get("Variable") == "AMDSTATUS":
            add((event.get("Value") or "").lower())
        elif name == "ConfbridgeJoin":
            add("bridged")
        elif name == "VarSet" and event.get("Variable") == "COBRADOR_ABANDONED":
            # Set by the safe-harbor context as it starts the message.
            add("safe_harbor")
        elif name == "Hangup":
            add("ended")
    # AMD() sets AMDSTATUS before the dialplan asks the dialer (AGI) what to do, so the
    # verdict always comes between the answer and the bridge, the message or the end.
    # Asterisk's AMI may deliver it later under load: VarSet travels on the channel's
    # topic and ConfbridgeJoin on the bridge's, which stasis does not order between
    # them (seen in CI: bridged before human). The dialer reads the verdict from AGI.
    verdicts = [s for s in states if s in AMD_VERDICTS]
    if verdicts and "answered" in states:
        states = [s for s in states if s not in AMD_VERDICTS]
        at = states.index("answered") + 1
        states[at:at] = verdicts
    return states


AMD_VERDICTS = ("human", "machine", "notsure", "hangup")


def call_result(events: list[Message]) -> str | None:
    """no_answer, busy, failed, machine or human; None while the call is up."""
    first = [e for e in events if (k := attempt_key(e)) is not None and k[1]]
    hangups = [e for e in first if e.name == "Hangup"]
    if not hangups:
        return None
    states = call_states(events)
    if "answered" in states:
        return "machine" if "machine" in states else "human"
    cause = int(hangups[0].get("Cause") or 0)
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in NO_ANSWER_CAUSES:
        return "no_answer"
    reasons = [e.get("Reason") for e in first if e.name == "OriginateResponse"]
    if cause in (0, 16) and str(REASON_RING_TIMEOUT) in reasons:
        return "no_answer"
    return "failed"


@dataclass
class CallWatcher:
    """Every AMI event about dialer channels, grouped by cobrador-<id>."""

    client: AMIClient
    by_call: dict[str, list[Message]] = field(default_factory=lambda: defaultdict(list))
    all_events: list[Message] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        subscription = self.client.events()

        async def pump() -> None:
            async for event in subscription:
                self.all_events.append(event)
                key = attempt_key(event)
                if key is not None:
                    self.by_call[key[0]].append(event)

        self._task = asyncio.create_task(pump())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def events(self, channel_id: str) -> list[Message]:
        return list(self.by_call.get(channel_id, []))

    def states(self, channel_id: str) -> list[str]:
        return call_states(self.events(channel_id))

    def result(self, channel_id: str) -> str | None:
        return call_result(self.events(channel_id))

    def ended(self, channel_id: str) -> bool:
        return self.result(channel_id) is not None

    def has(self, channel_id: str, name: str, **headers: str) -> bool:
        return any(
            e.name == name and all(e.get(k) == v for k, v in headers.items())
            for e in self.events(channel_id)
        )


Handler = Callable[[AGISession], Awaitable[None]]


class AGIRoutes:
    """The `answer` route; each test installs the handler it needs."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.sessions: list[AGISession] = []

    async def answer(self, agi: AGISession) -> None:
        self.sessions.append(agi)
        if self.handler is None:
            await agi.set_variable("COBRADOR_ACTION", "hangup")
            return
        await self.handler(agi)


SIPP_SCENARIOS = Path(__file__).parent / "sipp"


@contextlib.asynccontextmanager
async def sipp_uas(
    scenario: str, port: int, calls: int | None = 1, log_dir: Path | None = None
) -> AsyncIterator[None]:
    """sipp answering `calls` calls (None: every call until the block ends) on
    127.0.0.1:<port> with sipp/<scenario>; with `log_dir`, its unexpected messages
    and every SIP message go to files there (sipp_errors.log, sipp_messages.log)."""
    sipp = shutil.which("sipp")
    if sipp is None:
        unavailable("sipp not installed (Debian package sip-tester)")
    args = ["-sf", str(SIPP_SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port), "-nostdin"]
    if calls is not None:
        args += ["-m", str(calls)]
    if log_dir is not None:
        args += ["-trace_err", "-error_file", str(log_dir / "sipp_errors.log"),
                 "-trace_msg", "-message_file", str(log_dir / "sipp_messages.log")]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sipp, *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=str(log_dir) if log_dir is not None else None,
    )  # fmt: skip
    try:
        yield
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
