"""FastAGI codec: environment, replies, HANGUP, 5xx errors, chunking, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.fastagi.codec import (
    AGIEnvironment,
    AGIErrorReply,
    AGIHangupNotice,
    AGIParser,
    AGIReply,
    encode_command,
    encode_environment,
    parse_reply,
    quote_arg,
)
from dialer.fastagi.errors import AGIProtocolError

ENV = (
    b"agi_network: yes\n"
    b"agi_network_script: answer\n"
    b"agi_request: agi://127.0.0.1:4573/answer\n"
    b"agi_channel: Local/5215512345101@cobrador-outbound-00000001;2\n"
    b"agi_uniqueid: cobrador-42\n"
    b"agi_callerid: 5500000000\n"
    b"agi_arg_1: first\n"
    b"agi_arg_2: second arg\n"
    b"\n"
)
REPLIES = (
    b"200 result=1 (42)\n"
    b"200 result=0\n"
    b"HANGUP\n"
    b"520-Invalid command syntax.  Proper usage follows:\n"
    b"Usage: GET VARIABLE <variablename>\n"
    b"520 End of proper usage.\n"
    b"511 Command Not Permitted on a dead channel or intercept routine\n"
)


def test_given_an_environment_when_parsed_then_variables_script_and_args() -> None:
    (env,) = AGIParser().feed(ENV)
    assert isinstance(env, AGIEnvironment)
    assert env.script == "answer"
    assert env.variables["agi_uniqueid"] == "cobrador-42"
    assert env.args == ["first", "second arg"]


@pytest.mark.parametrize(
    ("raw", "script"),
    [("answer", "answer"), ("/answer", "answer"), ("answer?x=1", "answer"), ("", "")],
)
def test_given_script_forms_when_read_then_route_name(raw: str, script: str) -> None:
    assert AGIEnvironment({"agi_network_script": raw}).script == script


def test_given_replies_hangup_and_errors_when_parsed_then_items_in_order() -> None:
    items = AGIParser().feed(ENV + REPLIES)
    assert items[1:] == [
        AGIReply(200, 1, "42"),
        AGIReply(200, 0),
        AGIHangupNotice(),
        AGIErrorReply(
            520,
            "Invalid command syntax.  Proper usage follows:\nUsage: GET VARIABLE <variablename>\n"
            "520 End of proper usage.",
        ),
        AGIErrorReply(511, "Command Not Permitted on a dead channel or intercept routine"),
    ]


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (
            "200 result=1 (hello world) endpos=1234",
            AGIReply(200, 1, "hello world", {"endpos": "1234"}),
        ),
        ("200 result=-1", AGIReply(200, -1)),
        ("200 result=1 (a (b) c)", AGIReply(200, 1, "a (b) c")),
        ("200 result=1 (x) endpos=5)", AGIReply(200, 1, "x) endpos=5")),
        ("200 result=0 endpos=99", AGIReply(200, 0, None, {"endpos": "99"})),
        ("200 result=1 ()", AGIReply(200, 1, "")),
        ("510 Invalid or unknown command", AGIErrorReply(510, "Invalid or unknown command")),
        ("200 result= (timeout)", AGIReply(200, 0, "timeout")),
        ("200 result=0 Gosub complete", AGIReply(200, 0)),
        ("100 result=0 Trying...", AGIReply(100, 0)),
    ],
)
def test_given_reply_lines_when_parsed_then_code_result_data(line: str, reply: object) -> None:
    assert parse_reply(line) == reply


def test_given_get_data_digits_when_parsed_then_raw_result_keeps_them() -> None:
    reply = parse_reply("200 result=12*3")
    assert isinstance(reply, AGIReply)
    assert reply.raw_result == "12*3" and not reply.interim
    assert parse_reply("100 result=0 Trying...").interim  # type: ignore[union-attr]


@pytest.mark.parametrize("line", ["hello", "2 result=1", "200 result=1 (unclosed"])
def test_given_garbage_reply_when_parsed_then_protocol_error(line: str) -> None:
    with pytest.raises(AGIProtocolError):
        parse_reply(line)


def test_given_an_environment_line_without_colon_when_parsed_then_protocol_error() -> None:
    with pytest.raises(AGIProtocolError):
        AGIParser().feed(b"agi_network yes\n\n")


def test_given_an_endless_line_when_fed_then_refused() -> None:
    parser = AGIParser(max_line=100)
    with pytest.raises(AGIProtocolError, match="longer than 100"):
        parser.feed(b"x" * 200)


def test_given_binary_bytes_in_env_when_parsed_then_replaced_not_raised() -> None:
    (env,) = AGIParser().feed(b"agi_callerid: Jos\xe9\n\n")
    assert isinstance(env, AGIEnvironment)
    assert env.variables["agi_callerid"].startswith("Jos")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(ENV + REPLIES)), max_size=20))
def test_given_any_chunking_when_fed_then_same_items(cuts: list[int]) -> None:
    stream = ENV + REPLIES
    points = sorted(set(cuts))
    parser = AGIParser()
    items = []
    for a, b in zip([0, *points], [*points, len(stream)], strict=True):
        items += parser.feed(stream[a:b])
    assert items == AGIParser().feed(stream)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_characters="\r\n", codec="utf-8")))
def test_given_any_value_when_quoted_then_asterisk_style_unquote_restores_it(value: str) -> None:
    quoted = quote_arg(value)
    assert quoted[0] == quoted[-1] == '"'
    out, escaped = [], False
    for ch in quoted[1:-1]:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            assert ch != '"'
            out.append(ch)
    assert "".join(out) == value


@pytest.mark.parametrize("bad", ["a\nb", "x\r"])
def test_given_line_breaks_when_encoding_then_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        quote_arg(bad)
    with pytest.raises(ValueError):
        encode_command(f"SET VARIABLE X {bad}")


def test_given_an_empty_command_when_encoded_then_refused() -> None:
    with pytest.raises(ValueError):
        encode_command("  ")


def test_given_variables_when_environment_encoded_then_parser_reads_them_back() -> None:
    variables = {"agi_network_script": "answer", "agi_channel": "Local/1@x;2"}
    (env,) = AGIParser().feed(encode_environment(variables))
    assert isinstance(env, AGIEnvironment)
    assert env.variables == variables


def test_given_a_debtor_channel_when_masked_for_logs_then_only_last_four_digits_show() -> None:
    from dialer.fastagi.server import mask_digits

    assert mask_digits("Local/5215512345678@cobrador-outbound-0000000a;1") == (
        "Local/*********5678@cobrador-outbound-0000000a;1"
    )
    assert mask_digits("PJSIP/agent-7-0000") == "PJSIP/agent-7-0000"
