"""The FastAGI codec on the recorded Asterisk 22 sessions (tests/fixtures/agi)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.fastagi.codec import (
    AGIEnvironment,
    AGIHangupNotice,
    AGIParser,
    AGIReply,
    encode_command,
)

AGI = Path(__file__).resolve().parents[2] / "fixtures" / "agi"
RECEIVED = sorted(p for p in AGI.glob("*.txt") if not p.name.endswith(".sent.txt"))


@pytest.mark.parametrize("path", RECEIVED, ids=lambda p: p.name)
def test_given_a_recorded_session_when_parsed_then_environment_then_one_reply_per_command(
    path: Path,
) -> None:
    items = AGIParser().feed(path.read_bytes())
    env = items[0]
    assert isinstance(env, AGIEnvironment)
    assert env.script == "answer"
    assert env.variables["agi_network"] == "yes"
    assert env.variables["agi_uniqueid"].startswith("cobrador-")
    assert env.variables["agi_context"] == "cobrador-answer"
    replies = [i for i in items[1:] if isinstance(i, AGIReply)]
    sent = [
        line
        for line in path.with_name(path.name[:-4] + ".sent.txt").read_text().splitlines()
        if line
    ]
    assert len(replies) == len(sent)
    assert all(r.code == 200 for r in replies)
    for command in sent:
        assert encode_command(command) == (command + "\n").encode()


def test_given_the_bridge_session_then_attempt_id_and_amd_status_come_back_as_data() -> None:
    items = AGIParser().feed((AGI / "answer_bridge.txt").read_bytes())
    replies = [i for i in items if isinstance(i, AGIReply)]
    assert [r.data for r in replies[:2]] == ["101", "HUMAN"]
    assert [r.result for r in replies] == [1, 1, 1, 1]


def test_given_the_hangup_session_then_hangup_arrives_between_replies() -> None:
    items = AGIParser().feed((AGI / "answer_hangup.txt").read_bytes())
    kinds = [type(i).__name__ for i in items[1:]]
    assert kinds == ["AGIReply", "AGIReply", "AGIHangupNotice", "AGIReply", "AGIReply"]
    assert isinstance(items[3], AGIHangupNotice)


RAW = (AGI / "answer_hangup.txt").read_bytes()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(RAW)), max_size=40))
def test_given_a_real_session_cut_anywhere_when_fed_then_same_items(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    parser = AGIParser()
    items = []
    for a, b in zip([0, *points], [*points, len(RAW)], strict=True):
        items += parser.feed(RAW[a:b])
    assert items == AGIParser().feed(RAW)
