"""AMIClient against a scripted peer over TCP: interleaving and malformed input that
pbxsim never produces (a list broken up by events, an oversize message, noise)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from dialer.ami import AMIClient, AMIDisconnected, AMIParser, Message, encode_message
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


async def test_given_an_oversize_message_when_received_then_dropped_the_link_closed_and_reconnected(
    peer: tuple[list[Script], int], caplog: pytest.LogCaptureFixture
) -> None:
    scripts, port = peer

    def huge_on_ping(action: Message, writer: asyncio.StreamWriter) -> None:
        aid = action["ActionID"]
        if action.name == "Ping":
            # The response may be this oversize message, or follow it: either way
            # something was lost, so the link goes and the calls are reconciled.
            writer.write(b"Event: Huge\r\nData: " + b"x" * 5000 + b"\r\n\r\n")
        elif action.name == "CoreShowChannels":
            writer.write(
                encode_message([("Response", "Success"), ("ActionID", aid), ("EventList", "start")])
                + encode_message(
                    [
                        ("Event", "CoreShowChannelsComplete"),
                        ("ActionID", aid),
                        ("EventList", "Complete"),
                    ]
                )
            )

    scripts.append(huge_on_ping)
    reconciled: list[list[Message]] = []
    client = await connect(
        port,
        max_message_size=1000,
        action_timeout=3.0,
        reconnect_backoff=(0.01, 0.05),
        on_reconnect=reconciled.append,
    )
    events = client.events()
    with pytest.raises(AMIDisconnected, match="NOT re-sent"):
        await client.send_action({"Action": "Ping"})
    for _ in range(int(WAIT / 0.01)):
        if reconciled:
            break
        await asyncio.sleep(0.01)
    assert reconciled == [[]] and client.reconnects == 1 and client.connected
    events.close()
    assert [e async for e in events] == []  # the huge event never reached the stream
    assert any(
        "protocol error" in r.getMessage() and "larger than 1000 bytes" in r.getMessage()
        for r in caplog.records
    )
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
