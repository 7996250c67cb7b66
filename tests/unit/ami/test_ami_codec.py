"""AMI codec: framing, banner, Follows output, noise, oversize, encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ami.codec import AMIParser, Message, encode_action, encode_message
from dialer.ami.errors import AMIMessageTooLarge
from dialer.ami.eventlist import EventListCollector

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
LOGIN_OK = b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
FULLY_BOOTED = (
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 3\r\nLastReload: 3\r\n"
    b"Status: Fully Booted\r\n\r\n"
)
NEWCHANNEL = (
    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/5215512345101@cobrador-outbound-00000001;1\r\n"
    b"ChannelState: 0\r\nChannelStateDesc: Down\r\nUniqueid: cobrador-42\r\n"
    b"ChanVariable: COBRADOR_ATTEMPT_ID=42\r\nChanVariable: COBRADOR_CAMPAIGN=mx-1\r\n\r\n"
)
CORESHOW = (
    b"Response: Success\r\nActionID: 7\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
    b"Event: CoreShowChannel\r\nActionID: 7\r\nChannel: PJSIP/agent-1-00000001\r\n\r\n"
    b"Event: CoreShowChannel\r\nActionID: 7\r\nChannel: Local/1@x-00000002;2\r\n\r\n"
    b"Event: CoreShowChannelsComplete\r\nActionID: 7\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
)
STREAM = BANNER + FULLY_BOOTED + LOGIN_OK + NEWCHANNEL + CORESHOW


def parse_all(data: bytes, parser: AMIParser | None = None) -> list[Message]:
    return (parser or AMIParser()).feed(data)


def test_given_banner_and_messages_in_one_read_when_fed_then_all_parsed_and_banner_kept() -> None:
    parser = AMIParser()
    messages = parser.feed(STREAM)
    assert parser.banner == "Asterisk Call Manager/9.0.0"
    assert [m.name for m in messages] == [
        "FullyBooted",
        "Success",
        "Newchannel",
        "Success",
        "CoreShowChannel",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    ]


def test_given_a_message_split_byte_by_byte_when_fed_then_it_appears_once_complete() -> None:
    parser = AMIParser()
    out: list[Message] = []
    for i in range(len(NEWCHANNEL) - 1):
        out += parser.feed(NEWCHANNEL[i : i + 1])
    assert out == []
    out += parser.feed(NEWCHANNEL[-1:])
    assert len(out) == 1
    assert out[0]["Uniqueid"] == "cobrador-42"


def test_given_headers_when_looked_up_then_case_insensitive_and_repeats_kept() -> None:
    (message,) = parse_all(NEWCHANNEL)
    assert message.get("uniqueid") == "cobrador-42"
    assert message.is_event and not message.is_response
    assert message.get_all("ChanVariable") == ["COBRADOR_ATTEMPT_ID=42", "COBRADOR_CAMPAIGN=mx-1"]
    assert message.variables() == {"COBRADOR_ATTEMPT_ID": "42", "COBRADOR_CAMPAIGN": "mx-1"}
    assert "Channel" in message and "Nope" not in message
    with pytest.raises(KeyError):
        message["Nope"]


def test_given_a_value_with_colons_when_parsed_then_only_the_first_colon_splits() -> None:
    (message,) = parse_all(b"Event: VarSet\r\nValue: a: b:c\r\nEmpty:\r\n\r\n")
    assert message["Value"] == "a: b:c"
    assert message.get("Empty") == ""


def test_given_a_response_when_parsed_then_action_id_and_kind_known() -> None:
    (message,) = parse_all(LOGIN_OK)
    assert message.is_response
    assert message.action_id == "1"
    assert message.get("Message") == "Authentication accepted"


def test_given_old_style_follows_output_with_blank_lines_when_parsed_then_one_message() -> None:
    data = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 9\r\n"
        b"Channel   Location\r\n\r\nfoo: bar baz\r\n--END COMMAND--\r\n\r\n" + FULLY_BOOTED
    )
    messages = parse_all(data)
    assert [m.name for m in messages] == ["Follows", "FullyBooted"]
    assert messages[0].action_id == "9"
    assert messages[0].output == ["Channel   Location", "", "foo: bar baz"]


def test_given_new_style_command_output_when_parsed_then_output_lines_in_order() -> None:
    (message,) = parse_all(
        b"Response: Success\r\nActionID: 3\r\nMessage: Command output follows\r\n"
        b"Output: line one\r\nOutput: line two\r\n\r\n"
    )
    assert message.output == ["line one", "line two"]


def test_given_binary_noise_before_a_message_when_fed_then_noise_dropped_and_message_kept() -> None:
    parser = AMIParser()
    noise = b"\x00\xff\xfe garbage without colon\r\n\x01\x02"
    messages = parser.feed(noise + b"\r\n" + LOGIN_OK + b"\x00\x00\r\n\r\n" + FULLY_BOOTED)
    assert [m.name for m in messages] == ["Success", "FullyBooted"]
    assert parser.noise_bytes > 0


def test_given_invalid_utf8_in_a_value_when_parsed_then_replaced_not_raised() -> None:
    (message,) = parse_all(b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\n\r\n")
    assert message["CallerIDName"].startswith("Jos")


def test_given_bare_lf_line_ends_when_parsed_then_accepted() -> None:
    messages = parse_all(b"Event: A\nX: 1\n\nEvent: B\n\n")
    assert [m.name for m in messages] == ["A", "B"]


def test_given_an_oversize_message_when_fed_then_clear_error_and_next_message_survives() -> None:
    parser = AMIParser(max_message_size=100)
    big = b"Event: Big\r\n" + b"X: " + b"y" * 500 + b"\r\n\r\n"
    with pytest.raises(AMIMessageTooLarge) as info:
        parser.feed(LOGIN_OK + big + FULLY_BOOTED)
    assert "100 bytes" in str(info.value)
    assert [m.name for m in info.value.messages] == ["Success", "FullyBooted"]


def test_given_an_unterminated_oversize_stream_when_fed_then_error_then_resync() -> None:
    parser = AMIParser(max_message_size=100)
    with pytest.raises(AMIMessageTooLarge):
        parser.feed(b"Event: Big\r\nX: " + b"y" * 300)
    assert parser.feed(b"y" * 300) == []  # still skipping the oversize message
    messages = parser.feed(b"yyy\r\n\r\n" + FULLY_BOOTED)
    assert [m.name for m in messages] == ["FullyBooted"]


def test_given_stray_blank_lines_between_messages_when_fed_then_ignored() -> None:
    messages = parse_all(b"\r\n\r\n" + LOGIN_OK + b"\r\n" + FULLY_BOOTED)
    assert [m.name for m in messages] == ["Success", "FullyBooted"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_given_any_chunking_when_fed_then_same_messages(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    parser = AMIParser()
    out: list[Message] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    assert out == AMIParser().feed(STREAM)
    assert parser.banner == "Asterisk Call Manager/9.0.0"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,10}", fullmatch=True),
            st.text(st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=20),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=5,
    ),
    st.data(),
)
def test_given_encoded_actions_when_parsed_back_with_any_chunking_then_round_trip(
    actions: list[dict[str, str]], data: st.DataObject
) -> None:
    fields = [
        {"Action": "Test"} | {k: v for k, v in a.items() if k.lower() != "action"} for a in actions
    ]
    stream = b"".join(encode_action(f) for f in fields)
    cut = data.draw(st.integers(min_value=0, max_value=len(stream)))
    parser = AMIParser()
    messages = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
    assert [m.headers for m in messages] == [list(f.items()) for f in fields]


def test_given_list_values_when_encoded_then_repeated_headers() -> None:
    data = encode_action({"Action": "Originate", "Variable": ["A=1", "B=2"], "Async": True})
    assert data == b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n"


@pytest.mark.parametrize(
    "fields",
    [
        {"Action": "Originate", "CallerID": "x\r\nAction: Hangup"},
        {"Action": "Originate", "Bad Key": "x"},
        {"Action": "Ping", "Key": "line\nbreak"},
        {"NoAction": "x"},
        {},
    ],
)
def test_given_unsafe_or_incomplete_fields_when_encoded_then_refused(fields: dict) -> None:
    with pytest.raises(ValueError):
        encode_action(fields)


def test_given_encode_message_without_headers_then_refused() -> None:
    with pytest.raises(ValueError):
        encode_message([])


def test_given_an_eventlist_when_collected_then_items_and_completion() -> None:
    messages = parse_all(CORESHOW)
    collector = EventListCollector()
    done = [collector.add(m) for m in messages]
    assert done == [False, False, False, True]
    assert [m["Channel"] for m in collector.items] == [
        "PJSIP/agent-1-00000001",
        "Local/1@x-00000002;2",
    ]
    assert collector.complete_event is not None


def test_given_an_error_response_to_a_list_action_then_done_at_once() -> None:
    (response,) = parse_all(b"Response: Error\r\nActionID: 2\r\nMessage: Permission denied\r\n\r\n")
    collector = EventListCollector()
    assert collector.add(response)
    assert collector.items == []


def test_given_originate_response_event_when_parsed_then_it_is_an_event_not_a_response() -> None:
    (message,) = parse_all(
        b"Event: OriginateResponse\r\nActionID: 5\r\nResponse: Failure\r\nReason: 5\r\n\r\n"
    )
    assert message.is_event and not message.is_response
    assert message.name == "OriginateResponse"


def test_given_headers_before_the_start_line_when_parsed_then_kept_in_the_message() -> None:
    (message,) = parse_all(b"ActionID: 9\r\nResponse: Success\r\nPing: Pong\r\n\r\n")
    assert message.is_response and message.action_id == "9"


def test_given_noise_glued_to_a_start_line_when_parsed_then_the_message_survives() -> None:
    parser = AMIParser()
    (message,) = parser.feed(b"\x00\x17\xffEvent: Hangup\r\nCause: 16\r\n\r\n")
    assert message.name == "Hangup" and message["Cause"] == "16"
    assert parser.noise_bytes > 0


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=1, max_size=64).filter(
        lambda b: b":" not in b and b"\n" not in b and b"\r" not in b
    )
)
def test_given_any_noise_glued_before_a_message_then_it_is_parsed(noise: bytes) -> None:
    messages = AMIParser().feed(LOGIN_OK + noise + FULLY_BOOTED)
    assert [m.name for m in messages] == ["Success", "FullyBooted"]
    assert messages[1] == AMIParser().feed(FULLY_BOOTED)[0]
