"""AMI codec under hostile input and hostile chunking (issue 20, row 9).

Bounded memory (the parser's own retained bytes), linear work however the
bytes are cut (counted as bytes searched, never timed), and no exception but
AMIMessageTooLarge.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ami import codec
from dialer.ami.codec import AMIParser, Message
from dialer.ami.errors import AMIMessageTooLarge, AMIProtocolError
from dialer.ami.eventlist import EventListCollector

AMI = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
TRACES = sorted(p for p in AMI.glob("*.txt") if not p.name.endswith(".sent.txt"))


def feed_all(parser: AMIParser, data: bytes, cuts: list[int]) -> list[Message]:
    points = sorted(set(cuts))
    out: list[Message] = []
    for a, b in zip([0, *points], [*points, len(data)], strict=True):
        try:
            out += parser.feed(data[a:b])
        except AMIMessageTooLarge as exc:
            out += exc.messages
    return out


def big_event(size: int) -> bytes:
    """One event of about `size` bytes: ChanVariable lines, as a busy channel sends."""
    lines = [b"Event: VarSet", b"Privilege: dialplan,all", b"Uniqueid: cobrador-101"]
    index = 0
    while sum(len(line) + 2 for line in lines) < size:
        lines.append(b"ChanVariable: COBRADOR_X%d=%s" % (index, b"v" * 40))
        index += 1
    return b"\r\n".join(lines) + b"\r\n\r\n"


# -- row 9: byte by byte, linear --------------------------------------------------


def test_given_a_big_message_fed_one_byte_at_a_time_then_each_byte_is_searched_a_few_times(
    scan_count,
) -> None:
    counter = scan_count(codec)
    data = big_event(20_000)
    parser = AMIParser()
    out = [m for i in range(len(data)) for m in parser.feed(data[i : i + 1])]
    assert len(out) == 1 and out[0].name == "VarSet"
    # Two terminator patterns searched from where the last feed stopped: a few
    # bytes per feed. Rescanning the buffer on every feed is ~n²/2 (2e8 here).
    assert counter.examined <= 10 * len(data), counter.examined


def test_given_many_messages_in_one_chunk_then_the_buffer_is_not_searched_once_per_message(
    scan_count,
) -> None:
    counter = scan_count(codec)
    data = b"".join(p.read_bytes() for p in TRACES)
    messages = AMIParser().feed(data)
    assert len(messages) > 600
    assert counter.examined <= 3 * len(data), counter.examined


def test_given_a_follows_block_fed_one_byte_at_a_time_then_linear_and_whole(scan_count) -> None:
    counter = scan_count(codec)
    body = b"".join(b"line %d of the output\r\n\r\n" % i for i in range(1000))
    data = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 9\r\n"
        + body
        + b"--END COMMAND--\r\n\r\nEvent: FullyBooted\r\n\r\n"
    )
    parser = AMIParser()
    out = [m for i in range(len(data)) for m in parser.feed(data[i : i + 1])]
    assert [m.name for m in out] == ["Follows", "FullyBooted"]
    assert len(out[0].output) == 2000
    # Until --END COMMAND-- shows, each feed looks again at its last 15 bytes.
    assert counter.examined <= 20 * len(data)


# -- bounded size and number of headers -------------------------------------------


def test_given_a_message_with_more_headers_than_the_limit_then_refused_and_the_next_parsed() -> (
    None
):
    parser = AMIParser()
    flood = b"Event: Flood\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(10_000)) + b"\r\n"
    with pytest.raises(AMIMessageTooLarge, match="more than 8192 lines") as info:
        parser.feed(flood + b"Event: FullyBooted\r\n\r\n")
    assert [m.name for m in info.value.messages] == ["FullyBooted"]


def test_given_a_configured_header_limit_then_it_holds() -> None:
    parser = AMIParser(max_headers=4)
    assert parser.feed(b"Event: A\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n")[0].name == "A"
    with pytest.raises(AMIMessageTooLarge, match="more than 4 lines"):
        parser.feed(b"Event: A\r\nB: 1\r\nC: 2\r\nD: 3\r\nE: 4\r\n\r\n")


def test_given_an_endless_message_then_the_parser_never_holds_more_than_the_limit() -> None:
    parser = AMIParser(max_message_size=10_000)
    refused = 0
    for i in range(1_000):
        try:
            parser.feed(b"Event: Endless\r\n" if i == 0 else b"X%d: %s\r\n" % (i, b"y" * 50))
        except AMIMessageTooLarge:
            refused += 1
        assert parser.retained_bytes <= 10_000 + 3
    assert refused == 1  # raised once, then the rest of the message is skipped quietly
    assert [m.name for m in parser.feed(b"\r\nEvent: Next\r\n\r\n")] == ["Next"]


def test_given_an_oversize_follows_block_cut_anywhere_then_dropped_up_to_its_real_end() -> None:
    # Command output can hold anything, even lines that look like messages: a
    # refused block must be dropped up to --END COMMAND-- and its blank line,
    # not up to the first blank line of the output, however the reads fall.
    data = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 1\r\n"
        + b"Event: Fake\r\n\r\n" * 50
        + b"--END COMMAND--\r\n\r\nEvent: After\r\n\r\n"
    )
    for cuts in ([], [300], list(range(0, len(data), 7))):
        parser = AMIParser(max_message_size=256)
        assert [m.name for m in feed_all(parser, data, cuts)] == ["After"], cuts


def test_given_a_message_of_exactly_the_limit_then_accepted_however_its_end_is_cut() -> None:
    message = b"Event: Edge\r\nX: " + b"y" * 100 + b"\r\n\r\n"
    size = len(message) - 4
    for cut in range(size, len(message) + 1):
        parser = AMIParser(max_message_size=size)
        assert [m.name for m in feed_all(parser, message, [cut])] == ["Edge"], cut


# -- real traces, any chunking -----------------------------------------------------


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_given_a_recorded_trace_fed_byte_by_byte_then_the_same_messages(path: Path) -> None:
    data = path.read_bytes()
    parser = AMIParser()
    out = [m for i in range(len(data)) for m in parser.feed(data[i : i + 1])]
    assert out == AMIParser().feed(data)
    assert parser.banner == "Asterisk Call Manager/11.0.0" and parser.retained_bytes == 0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(TRACES), st.data())
def test_given_any_recorded_trace_cut_anywhere_then_the_same_messages(
    path: Path, data: st.DataObject
) -> None:
    raw = path.read_bytes()
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=80))
    assert feed_all(AMIParser(), raw, cuts) == AMIParser().feed(raw)


# -- any input: bounded, only the documented error --------------------------------

TOKENS = st.sampled_from(
    [
        b"Event: X",
        b"Response: Follows",
        b"response: follows",
        b"Asterisk Call Manager/11.0.0",
        b"Asterisk Call",
        b"--END COMMAND--",
        b"Action: Ping",
        b"Key: value",
        b"\r\n",
        b"\n",
        b"\r",
        b":",
        b" ",
        b"\x00\xff",
        b"\xc3",
        b"y" * 60,
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(TOKENS, max_size=40).map(b"".join), max_size=30))
def test_given_any_stream_when_fed_then_bounded_and_only_the_documented_error(
    chunks: list[bytes],
) -> None:
    parser = AMIParser(max_message_size=256, max_headers=6)
    for chunk in chunks:
        try:
            messages = parser.feed(chunk)
        except AMIProtocolError as exc:
            assert isinstance(exc, AMIMessageTooLarge)
            messages = exc.messages
        assert parser.retained_bytes <= 256 + 3
        assert all(len(m.headers) + len(m.output) <= 6 for m in messages)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600), st.data())
def test_given_random_bytes_cut_anywhere_then_bounded_and_only_the_documented_error(
    noise: bytes, data: st.DataObject
) -> None:
    parser = AMIParser(max_message_size=256, max_headers=6)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(noise)), max_size=20))
    feed_all(parser, noise, cuts)
    assert parser.retained_bytes <= 256 + 3


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(TOKENS, max_size=40).map(b"".join), min_size=1, max_size=10), st.data())
def test_given_any_stream_then_its_chunking_does_not_change_the_messages(
    chunks: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(chunks)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=20))
    whole = AMIParser(max_message_size=256, max_headers=6)
    assert feed_all(AMIParser(max_message_size=256, max_headers=6), stream, cuts) == feed_all(
        whole, stream, []
    )


def test_given_a_list_longer_than_the_bound_then_overflowed_and_nothing_kept() -> None:
    """A peer streaming list events for the whole action timeout cannot grow the
    collector: past max_items the list ends as overflowed, holding none of it (the
    client raises AMIListTooLong, an AMIError every caller already handles)."""
    stream = (
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Response: Success\r\nActionID: L1\r\nEventList: start\r\n\r\n"
        + b"".join(
            b"Event: CoreShowChannel\r\nActionID: L1\r\nUniqueid: u%d\r\n\r\n" % i
            for i in range(50)
        )
    )
    collector = EventListCollector(max_items=10)
    done = [collector.add(m) for m in AMIParser().feed(stream)]
    assert done.index(True) == 11  # the response, ten items, then the eleventh event
    assert collector.overflowed and collector.items == []
    assert all(done[11:])
