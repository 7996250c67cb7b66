"""pbxsim replays the actions of each recorded real-Asterisk trace (tests/fixtures/ami)
and must produce the same per-channel event skeleton and originate outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.held_clock import PausableClock

from dialer.ami import AMIActionError, AMIClient, AMIParser, Message
from dialer.fastagi import (
    AGIEnvironment,
    AGIHangupNotice,
    AGIParser,
    AGISession,
    FastAGIServer,
)
from pbxsim.ami_server import AMIServer
from pbxsim.pbx import PBX
from pbxsim.scenario import Scenario
from pbxsim.testing import EventRecorder, progress, skeleton

# pbxsim's clock stops where no time passed in the recording (Pauses): the order of
# the traces does not depend on how fast the machine answers.
SPEED = 8.0
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CASES = sorted(
    p.name.removesuffix(".sent.txt")
    for p in (FIXTURES / "ami").glob("*.sent.txt")
    if "Action: Originate" in p.read_text()
)


def load(path: Path) -> list[Message]:
    return AMIParser().feed(path.read_bytes())


def agi_scripts() -> dict[str, tuple[list[str], int | None]]:
    """uniqueid -> (commands the recorded handler sent, index of the first one after HANGUP)."""
    scripts: dict[str, tuple[list[str], int | None]] = {}
    for sent in (FIXTURES / "agi").glob("*.sent.txt"):
        received = sent.with_name(sent.name.replace(".sent.txt", ".txt"))
        items = AGIParser().feed(received.read_bytes())
        env = items[0]
        assert isinstance(env, AGIEnvironment)
        notices = [i for i, item in enumerate(items[1:]) if isinstance(item, AGIHangupNotice)]
        hangup_at = notices[0] if notices else None
        commands = [line for line in sent.read_text().splitlines() if line]
        scripts[env.variables["agi_uniqueid"]] = (commands, hangup_at)
    return scripts


def as_action(message: Message) -> dict[str, object]:
    fields: dict[str, object] = {}
    for key, value in message.headers:
        if key in fields:
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    return fields


def gate_before(recorded: list[Message], action_id: str | None) -> tuple[str, str] | None:
    """The last channel event Asterisk sent before answering this action."""
    index = next(i for i, m in enumerate(recorded) if m.is_response and m.action_id == action_id)
    for message in reversed(recorded[:index]):
        if message.is_event and message.action_id is None and message.get("Uniqueid"):
            return message.name, message["Uniqueid"]
    return None


class Pauses:
    """Stops pbxsim's time where none passed in the recording: from the first event an
    action of the trace waits for until the test has sent that action (Asterisk answered
    the action before any other event), and while a channel runs its FastAGI script (the
    recording's handler answered in milliseconds). On a loaded machine the test and the
    handler answer late, and pbxsim's timers ran on meanwhile: the debtor's talk time
    ended before the recorded transfer, or the debtor hung up during an earlier prompt
    of the safe-harbor message than in the recording."""

    def __init__(self, clock: PausableClock, gates: list[tuple[str, str] | None]) -> None:
        self.clock = clock
        self.gates = gates  # by action, in the order they are sent
        self.sent = 0
        self.emitted: set[tuple[str, str]] = set()

    def sink(self, event: list[tuple[str, str]]) -> None:
        """pbxsim's event hook: runs as pbxsim emits the event, before anyone reads it."""
        fields = dict(event)
        name, uniqueid = fields.get("Event", ""), fields.get("Uniqueid", "")
        if name == "Newexten" and fields.get("Application") == "AGI":
            self.clock.pause(("agi", uniqueid))
        elif name == "VarSet" and fields.get("Variable") == "AGISTATUS":  # the AGI ended
            self.clock.resume(("agi", uniqueid))
        key = (name, uniqueid)
        if key not in self.emitted and key in self.gates[self.sent :]:
            self.emitted.add(key)
            self.clock.pause("action")

    def action_sent(self) -> None:
        """Time runs again unless the next action's event is already in (it goes next)."""
        self.sent += 1
        following = self.gates[self.sent] if self.sent < len(self.gates) else None
        if following is None or following not in self.emitted:
            self.clock.resume("action")


def call_ids(recorded: list[Message]) -> list[str]:
    ids = []
    for message in recorded:
        uniqueid = message.get("Uniqueid") or ""
        if uniqueid.startswith("cobrador-") and uniqueid not in ids:
            ids.append(uniqueid)
    return ids


@pytest.fixture
async def sim() -> AsyncIterator[tuple[AMIClient, EventRecorder, PBX]]:
    scripts = agi_scripts()
    clock = PausableClock(SPEED)

    async def replay(agi: AGISession) -> None:
        commands, hangup_at = scripts[agi.uniqueid]
        for index, command in enumerate(commands):
            if index == hangup_at:
                # The recorded handler waited here until the caller hung up: time runs.
                clock.resume(("agi", agi.uniqueid))
                while True:
                    await agi.command("NOOP waiting")
                    await asyncio.sleep(0.01)
            await agi.command(command)

    agi = FastAGIServer(routes={"answer": replay}, request_timeout=20.0)
    await agi.start("127.0.0.1", 0)
    scenario = Scenario(
        suffix_rules=True,
        suffix_talk_seconds=20.0,  # SIM_TALK_SECONDS when the traces were recorded
        suffix_machine_seconds=20.0,
        amd_human_seconds=1.6,
        amd_machine_seconds=1.5,
        seed=1,
    )
    pbx = PBX(scenario, clock=clock, agi_port=agi.port)
    server = AMIServer(pbx, "cobrador", "secret")
    await server.start("127.0.0.1", 0)
    client = AMIClient("127.0.0.1", server.port, "cobrador", "secret", keepalive_interval=None)
    await client.connect()
    recorder = EventRecorder(client)
    yield client, recorder, pbx
    await recorder.close()
    await client.close()
    await server.stop()
    await pbx.stop()
    await agi.stop()


@pytest.mark.parametrize("case", CASES)
async def test_given_a_recorded_trace_when_its_actions_replay_on_pbxsim_then_same_skeleton(
    case: str, sim: tuple[AMIClient, EventRecorder, PBX]
) -> None:
    client, recorder, pbx = sim
    recorded = load(FIXTURES / "ami" / f"{case}.txt")
    actions = [a for a in load(FIXTURES / "ami" / f"{case}.sent.txt") if a.name != "Login"]
    assert isinstance(pbx.clock, PausableClock)
    pauses = Pauses(pbx.clock, [gate_before(recorded, a.action_id) for a in actions])
    pbx.subscribe(pauses.sink)
    for action, gate in zip(actions, pauses.gates, strict=True):
        if gate is not None:
            await recorder.wait_for(lambda e, g=gate: (e.name, e.get("Uniqueid")) == g)
        try:
            if action.name == "CoreShowChannels":
                await client.send_list_action(as_action(action))
            else:
                await client.send_action(as_action(action))
        except AMIActionError:
            pass
        pauses.action_sent()
    ids = call_ids(recorded)
    for uniqueid in ids:
        await recorder.wait_for(lambda e, u=uniqueid: e.name == "Hangup" and e.get("Uniqueid") == u)
    assert ids
    for uniqueid in ids:
        assert len(skeleton(recorded, uniqueid)) > 3
        assert skeleton(recorder.events, uniqueid) == skeleton(recorded, uniqueid), uniqueid
        assert progress(recorder.events, uniqueid) == progress(recorded, uniqueid), uniqueid
