"""FastAGI codec under hostile input: bounded memory, linear work, only AGIProtocolError.

Whoever reaches the FastAGI port talks to this parser before any check, so
these tests feed it what a hostile peer would (issue 20, rows 6-8).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.fastagi import codec
from dialer.fastagi.codec import (
    AGIErrorReply,
    AGIItem,
    AGIParser,
    AGIReply,
    parse_reply,
)
from dialer.fastagi.errors import AGIProtocolError

AGI = Path(__file__).resolve().parents[2] / "fixtures" / "agi"
SESSIONS = sorted(p for p in AGI.glob("*.txt") if not p.name.endswith(".sent.txt"))
ENV = (AGI / "answer_bridge.txt").read_bytes().split(b"\n\n")[0] + b"\n\n"


def feed_in_chunks(parser: AGIParser, data: bytes, cuts: list[int]) -> list[AGIItem]:
    points = sorted(set(cuts))
    items: list[AGIItem] = []
    for a, b in zip([0, *points], [*points, len(data)], strict=True):
        items += parser.feed(data[a:b])
    return items


def calls_made(work: Callable[[], object]) -> int:
    """Python and C function calls made while `work` runs (a count, not a time)."""
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count


# -- row 6: endless environment lines ------------------------------------------


def test_given_endless_distinct_environment_lines_when_fed_then_refused_within_the_bounds() -> None:
    parser = AGIParser()
    refused = None
    most_lines, most_bytes = 0, 0
    for batch in range(100):
        chunk = b"".join(f"agi_x{batch}_{i}: {'v' * 40}\n".encode() for i in range(1000))
        try:
            parser.feed(chunk)
        except AGIProtocolError as exc:
            refused = exc
            break
        most_lines = max(most_lines, len(parser._env or {}))
        most_bytes = max(most_bytes, parser.retained_bytes)
    assert refused is not None, "5 MB of environment lines were accepted"
    assert most_lines <= codec.DEFAULT_MAX_BLOCK_LINES
    assert most_bytes <= codec.DEFAULT_MAX_LINE + codec.DEFAULT_MAX_BLOCK_SIZE
    assert "environment" in str(refused)
    # Refused for good: nothing kept, whatever follows is refused too.
    assert parser.retained_bytes == 0 and parser.retained_lines == 0
    with pytest.raises(AGIProtocolError):
        parser.feed(b"agi_more: x\n" * 1000)
    assert parser.retained_bytes == 0


def test_given_an_environment_of_asterisk_size_with_all_its_arguments_then_accepted() -> None:
    args = "".join(f"agi_arg_{i}: {'a' * 100}\n" for i in range(1, 128))
    (env,) = AGIParser().feed(ENV[:-1] + args.encode() + b"\n")
    assert len(env.args) == 127  # type: ignore[union-attr]


def test_given_an_endless_usage_block_when_fed_then_refused_and_the_next_reply_parsed() -> None:
    parser = AGIParser()
    parser.feed(ENV)
    with pytest.raises(AGIProtocolError, match="usage block"):
        parser.feed(b"520-Invalid command syntax.\n" + b"Usage: more\n" * 10_000)
    assert parser.retained_lines <= codec.DEFAULT_MAX_BLOCK_LINES
    # The rest of the block is dropped up to its end; the stream goes on.
    assert parser.feed(b"Usage: x\n520 End of proper usage.\n200 result=1 (7)\n") == [
        AGIReply(200, 1, "7")
    ]


def test_given_an_overlong_reply_line_when_fed_then_refused_and_the_next_reply_parsed() -> None:
    parser = AGIParser(max_line=100)
    parser.feed(ENV)
    with pytest.raises(AGIProtocolError, match="longer than 100") as info:
        parser.feed(b"200 result=1 (" + b"x" * 150)
    assert info.value.items == []
    assert parser.retained_bytes == 0
    assert parser.feed(b"x" * 500) == []
    assert parser.feed(b"x)\n200 result=1 (ok)\n") == [AGIReply(200, 1, "ok")]


def test_given_a_refused_line_between_replies_in_one_chunk_then_the_intact_replies_are_kept() -> (
    None
):
    parser = AGIParser()
    parser.feed(ENV)
    with pytest.raises(AGIProtocolError) as info:
        parser.feed(b"200 result=1 (a)\nnot agi\n200 result=0\n")
    assert info.value.items == [AGIReply(200, 1, "a"), AGIReply(200, 0)]


# -- row 7: a reply with thousands of parentheses ----------------------------------


def test_given_a_reply_with_thousands_of_parentheses_when_parsed_then_not_rescanned_per_parenthesis() -> (
    None
):
    def refused(count: int) -> None:
        # The probe of issue 20: `(` then `" x)"` 20 000 times, no `)` that can close it.
        with pytest.raises(AGIProtocolError, match="unclosed"):
            parse_reply("200 result=0 (" + '" x)"' * count)

    few = calls_made(lambda: refused(10))
    many = calls_made(lambda: refused(2_000))
    # Every call the parser makes on the line scans it; their number must not
    # grow with the number of `)` (it was three per `)`: quadratic).
    assert many <= few + 5, (few, many)
    refused(20_000)
    parsed = parse_reply("200 result=0 (" + " x)" * 20_000 + " endpos=3")
    assert isinstance(parsed, AGIReply)
    assert parsed.data == (" x)" * 20_000)[:-1] and parsed.extra == {"endpos": "3"}


def _reference_data_end(rest: str) -> int:
    """The old (quadratic) definition: the last `)` followed only by key=value words."""
    close = rest.rfind(")")
    while close > 0:
        tail = rest[close + 1 :]
        if all("=" in word for word in tail.split()):
            return close
        close = rest.rfind(")", 0, close)
    return -1


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="()= ax\t", max_size=30))
def test_given_any_data_and_pairs_then_the_data_ends_where_it_always_did(text: str) -> None:
    rest = ("(" + text).strip()
    assert codec._data_end(rest) == _reference_data_end(rest)


# -- row 8: a result too long for int() ---------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "200 result=" + "1" * 4301,
        "200 result=-" + "9" * 5000 + " (x)",
        "²²² result=1",
        "٢٠٠ result=1",
    ],
)
def test_given_a_reply_no_asterisk_sends_when_parsed_then_the_documented_error(line: str) -> None:
    with pytest.raises(AGIProtocolError):
        parse_reply(line)
    parser = AGIParser()
    parser.feed(ENV)
    with pytest.raises(AGIProtocolError):
        parser.feed(line.encode() + b"\n")


def test_given_get_data_digits_up_to_asterisks_buffer_then_kept() -> None:
    digits = "1" * 1023
    reply = parse_reply(f"200 result={digits} (timeout)")
    assert isinstance(reply, AGIReply)
    assert reply.raw_result == digits and reply.data == "timeout"


# -- chunking: the same items, linear work ----------------------------------------


@pytest.mark.parametrize("path", SESSIONS, ids=lambda p: p.name)
def test_given_a_recorded_session_fed_byte_by_byte_then_the_same_items(path: Path) -> None:
    data = path.read_bytes()
    parser = AGIParser()
    items = [item for i in range(len(data)) for item in parser.feed(data[i : i + 1])]
    assert items == AGIParser().feed(data)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(SESSIONS), st.data())
def test_given_any_recorded_session_cut_anywhere_then_the_same_items(
    path: Path, data: st.DataObject
) -> None:
    raw = path.read_bytes()
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=40))
    assert feed_in_chunks(AGIParser(), raw, cuts) == AGIParser().feed(raw)


def test_given_a_long_line_fed_byte_by_byte_then_each_byte_is_searched_once(scan_count) -> None:
    counter = scan_count(codec)
    parser = AGIParser()
    parser.feed(ENV)
    line = b"200 result=1 (" + b"x" * 30_000 + b")\n"
    items = [item for i in range(len(line)) for item in parser.feed(line[i : i + 1])]
    assert items == [AGIReply(200, 1, "x" * 30_000)]
    assert counter.examined <= 2 * (len(ENV) + len(line))


# -- any input: bounded, only the documented error --------------------------------

TOKENS = st.sampled_from(
    [
        b"agi_x: ",
        b"agi_network_script: answer",
        b"\n",
        b"\r\n",
        b"200 result=",
        b"1",
        b"(",
        b")",
        b" ",
        b"=",
        b"endpos=1",
        b"520-",
        b"520 ",
        b"HANGUP",
        b"\xff\xfe",
        b"\xc2\xb2",
        b"x" * 40,
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(TOKENS, max_size=30).map(b"".join), max_size=30))
def test_given_any_stream_when_fed_then_bounded_and_only_protocol_errors(
    chunks: list[bytes],
) -> None:
    parser = AGIParser(max_line=64, max_block_size=200, max_block_lines=6)
    for chunk in chunks:
        try:
            items = parser.feed(chunk)
        except AGIProtocolError as exc:
            items = exc.items
        assert all(isinstance(i, AGIItem.__args__) for i in items)  # type: ignore[attr-defined]
        assert parser.retained_bytes <= 64 + 200
        assert parser.retained_lines <= 6


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.data())
def test_given_random_bytes_after_an_environment_then_only_protocol_errors(
    noise: bytes, data: st.DataObject
) -> None:
    parser = AGIParser(max_line=64, max_block_size=200, max_block_lines=6)
    parser.feed(b"agi_network_script: answer\n\n")
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(noise)), max_size=10))
    with contextlib.suppress(AGIProtocolError):
        feed_in_chunks(parser, noise, cuts)
    assert parser.retained_bytes <= 64 + 200


def test_given_a_single_line_reply_error_then_it_stays_an_error_reply() -> None:
    assert parse_reply("511 Command Not Permitted") == AGIErrorReply(511, "Command Not Permitted")
