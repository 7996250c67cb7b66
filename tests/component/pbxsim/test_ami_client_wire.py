"""AMIClient against a scripted peer over TCP: interleaving and malformed input that
pbxsim never produces (a list broken up by events, an oversize message, noise)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from dialer.ami import AMIClient, AMIParser, Message, encode_message
from pbxsim.testing import WAIT

Script = Callable[[Message, asyncio.StreamWriter], None]


@pytest.fixture
async def peer() -> AsyncIterator[tuple[list[Script], int]]:
    """A one-connection AMI peer: logs in anyone, then runs the test's script per action."""
    scripts: list[Script] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = AMIParser()
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        while data := await reader.read(65536):
            for action in parser.feed(data):
                if action.name == "Login":
                    writer.write(
                        encode_message([("Response", "Success"), ("ActionID", action["ActionID"])])
                    )
                else:
                    for script in scripts:
                        script(action, writer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield scripts, server.sockets[0].getsockname()[1]
    server.close()


async def connect(port: int, **kwargs: object) -> AMIClient:
    client = AMIClient("127.0.0.1", port, "u", "s", keepalive_interval=None, **kwargs)  # type: ignore[arg-type]
    await client.connect()
    return client


async def test_given_events_inside_a_list_when_collected_then_list_and_stream_each_get_theirs(
    peer: tuple[list[Script], int],
) -> None:
    scripts, port = peer

    def core_show(action: Message, writer: asyncio.StreamWriter) -> None:
        aid = action["ActionID"]
        writer.write(
            encode_message([("Response", "Success"), ("ActionID", aid), ("EventList", "start")])
            + encode_message([("Event", "Newstate"), ("Uniqueid", "x")])
            + encode_message([("Event", "CoreShowChannel"), ("ActionID", aid), ("Uniqueid", "a")])
            + b"\x00\xff junk\r\n\r\n"
            + encode_message([("Event", "Hangup"), ("Uniqueid", "y")])
            + encode_message([("Event", "CoreShowChannel"), ("ActionID", aid), ("Uniqueid", "b")])
            + encode_message(
                [
                    ("Event", "CoreShowChannelsComplete"),
                    ("ActionID", aid),
                    ("EventList", "Complete"),
                ]
            )
        )

    scripts.append(core_show)
    client = await connect(port)
    events = client.events()
    _, items = await client.send_list_action({"Action": "CoreShowChannels"})
    assert [i["Uniqueid"] for i in items] == ["a", "b"]
    first = await asyncio.wait_for(events.__anext__(), WAIT)
    second = await asyncio.wait_for(events.__anext__(), WAIT)
    assert [first.name, second.name] == ["Newstate", "Hangup"]
    await client.close()


async def test_given_an_oversize_message_when_received_then_dropped_and_the_link_kept(
    peer: tuple[list[Script], int],
) -> None:
    scripts, port = peer

    def huge_then_pong(action: Message, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Event: Huge\r\nData: " + b"x" * 5000 + b"\r\n\r\n")
        writer.write(encode_message([("Response", "Success"), ("ActionID", action["ActionID"])]))

    scripts.append(huge_then_pong)
    client = await connect(port, max_message_size=1000)
    events = client.events()
    reply = await client.send_action({"Action": "Ping"})
    assert reply.name == "Success"
    assert client.connected
    events.close()
    assert [e async for e in events] == []  # the huge event never reached the stream
    await client.close()


async def test_given_old_style_command_output_when_received_then_matched_by_action_id(
    peer: tuple[list[Script], int],
) -> None:
    scripts, port = peer

    def follows(action: Message, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"Response: Follows\r\nPrivilege: Command\r\nActionID: "
            + action["ActionID"].encode()
            + b"\r\nline one\r\n\r\nline three\r\n--END COMMAND--\r\n\r\n"
        )

    scripts.append(follows)
    client = await connect(port)
    reply = await client.send_action({"Action": "Command", "Command": "core show uptime"})
    assert reply.output == ["line one", "", "line three"]
    await client.close()
