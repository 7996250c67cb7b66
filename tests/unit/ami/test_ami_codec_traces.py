"""The AMI codec on the recorded Asterisk 22 traces (tests/fixtures/ami)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ami.codec import AMIParser, Message, encode_action
from dialer.ami.eventlist import EventListCollector

AMI = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
RECEIVED = sorted(p for p in AMI.glob("*.txt") if not p.name.endswith(".sent.txt"))
SENT = sorted(AMI.glob("*.sent.txt"))


def parse(path: Path) -> tuple[AMIParser, list[Message]]:
    parser = AMIParser()
    return parser, parser.feed(path.read_bytes())


@pytest.mark.parametrize("path", RECEIVED, ids=lambda p: p.name)
def test_given_a_recorded_stream_when_parsed_then_banner_and_clean_messages(path: Path) -> None:
    parser, messages = parse(path)
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert parser.noise_bytes == 0
    assert messages
    assert all(m.is_event != m.is_response for m in messages)
    # Every message ended: nothing is left half-parsed at the end of the stream.
    assert parser.feed(b"") == []
    assert messages[0].is_response and messages[0].action_id == "rec-1"


@pytest.mark.parametrize("path", SENT, ids=lambda p: p.name)
def test_given_recorded_actions_when_parsed_and_encoded_again_then_same_messages(
    path: Path,
) -> None:
    _, actions = parse(path)
    assert actions and all(a.is_action for a in actions)
    again = AMIParser().feed(b"".join(encode_action(a.headers) for a in actions))
    assert again == actions


def test_given_the_command_trace_when_parsed_then_outputs_errors_and_empty_list() -> None:
    _, messages = parse(AMI / "command_and_errors.txt")
    by_id = {m.action_id: m for m in messages if m.is_response}
    assert by_id["rec-2"].output[0].startswith("Asterisk 22.")
    assert by_id["rec-3"].name == "Error"
    assert by_id["rec-3"].output[0].startswith("No such command")
    assert by_id["rec-4"].get("Value") == "127.0.0.1"
    assert "Invalid/unknown command" in (by_id["rec-5"].get("Message") or "")
    collector = EventListCollector()
    done = [collector.add(m) for m in messages if m.action_id == "rec-6"]
    assert done[-1] and collector.items == []
    assert collector.complete_event is not None
    assert collector.complete_event.get("ListItems") == "0"


def test_given_the_bridged_trace_when_collected_then_core_show_channels_lists_four() -> None:
    _, messages = parse(AMI / "originate_human_bridged.txt")
    collector = EventListCollector()
    for message in messages:
        if message.action_id == "rec-4":
            collector.add(message)
    assert collector.done
    assert sorted(m["Uniqueid"] for m in collector.items) == [
        "cobrador-101",
        "cobrador-101;2",
        "cobrador-agent-7",
        "cobrador-agent-7;2",
    ]


def test_given_originate_response_events_in_a_trace_then_they_are_events() -> None:
    _, messages = parse(AMI / "originate_busy.txt")
    (response,) = [m for m in messages if m.name == "OriginateResponse"]
    assert response.is_event and not response.is_response
    assert response.action_id == "rec-2"
    assert (response.get("Response"), response.get("Reason")) == ("Failure", "0")


BIG = (AMI / "originate_human_bridged.txt").read_bytes()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(BIG)), max_size=60))
def test_given_a_real_trace_cut_anywhere_when_fed_then_same_messages(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    parser = AMIParser()
    out: list[Message] = []
    for a, b in zip([0, *points], [*points, len(BIG)], strict=True):
        out += parser.feed(BIG[a:b])
    assert out == AMIParser().feed(BIG)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=1, max_size=200).filter(
        # Noise, not protocol: a line with a colon could be a real header.
        lambda b: b":" not in b and b"\n\n" not in b and b"\r\n\r\n" not in b
    )
)
def test_given_binary_noise_between_real_messages_then_the_messages_survive(noise: bytes) -> None:
    data = (AMI / "login.txt").read_bytes()
    _, clean = parse(AMI / "login.txt")
    # Noise lands right after the first message, then ends with a blank line.
    first_end = data.index(b"\r\n\r\n", data.index(b"Response")) + 4
    parser = AMIParser()
    messages = parser.feed(data[:first_end] + noise + b"\r\n\r\n" + data[first_end:])
    assert messages == clean
