"""FastAGI server over real TCP, driven by a scripted Asterisk-like peer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from support.polling import WITHIN, until, within

from dialer.fastagi import AGIHangup, AGISession, FastAGIServer, encode_environment
from metrics.definitions import REGISTRY

ENV = {
    "agi_network": "yes",
    "agi_network_script": "answer",
    "agi_channel": "Local/5215512345101@cobrador-outbound-00000001;2",
    "agi_uniqueid": "cobrador-42",
}


class FakeAsterisk:
    """Plays Asterisk's side of one FastAGI request: answers commands from a script."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.commands: list[str] = []

    async def request(
        self, env: dict[str, str], answers: dict[str, str], hangup_after: int = -1
    ) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(encode_environment(env))
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                break
            command = line.decode().rstrip("\n")
            self.commands.append(command)
            if len(self.commands) == hangup_after:
                writer.write(b"HANGUP\n")
            verb = " ".join(command.split()[:2])
            writer.write((answers.get(verb, "200 result=1") + "\n").encode())
            await writer.drain()
        writer.close()


@pytest.fixture
async def started() -> AsyncIterator[tuple[FastAGIServer, dict[str, object]]]:
    seen: dict[str, object] = {}

    async def answer(agi: AGISession) -> None:
        seen["attempt"] = await agi.get_variable("COBRADOR_ATTEMPT_ID")
        seen["missing"] = await agi.get_variable("NOPE")
        await agi.set_variable("COBRADOR_ACTION", 'bridge "now"')
        seen["done"] = True

    async def boom(agi: AGISession) -> None:
        raise RuntimeError("bug in handler")

    async def hangs_up(agi: AGISession) -> None:
        try:
            await agi.command("EXEC Playback beep")
            await agi.command("EXEC Playback beep")
        except AGIHangup:
            seen["hangup"] = True
            raise

    server = FastAGIServer(
        routes={"answer": answer, "boom": boom, "hangs_up": hangs_up},
        # A bound for a hang, as polling.WITHIN: a loaded machine's normal request must
        # not meet it (the timeout's own test runs a server of its own with a short one).
        request_timeout=WITHIN,
    )
    await server.start("127.0.0.1", 0)
    yield server, seen
    await server.stop()


async def test_given_a_request_when_handled_then_variables_read_and_set(started) -> None:
    server, seen = started
    peer = FakeAsterisk(server.port)
    answers = {"GET VARIABLE": "200 result=1 (42)"}
    await within(peer.request(ENV, answers), "the request served")
    assert seen["attempt"] == "42"
    assert peer.commands[2] == 'SET VARIABLE COBRADOR_ACTION "bridge \\"now\\""'
    assert seen["done"] is True
    assert server.failures == 0


async def test_given_a_handler_exception_when_handled_then_call_goes_to_failure_context(
    started,
) -> None:
    server, _ = started
    peer = FakeAsterisk(server.port)
    before = (
        REGISTRY.get_sample_value("cobrador_fastagi_failures_total", {"reason": "handler_error"})
        or 0.0
    )
    await within(peer.request(ENV | {"agi_network_script": "boom"}, {}), "the request served")
    assert peer.commands == [
        'SET VARIABLE COBRADOR_AGI_ERROR "handler_error"',
        'EXEC Goto "cobrador-failure,s,1"',
    ]
    assert server.failures == 1
    after = REGISTRY.get_sample_value(
        "cobrador_fastagi_failures_total", {"reason": "handler_error"}
    )
    assert after == before + 1


async def test_given_a_slow_handler_when_timeout_passes_then_failure_context() -> None:
    async def slow(agi: AGISession) -> None:
        await asyncio.Event().wait()  # never answers

    server = FastAGIServer(routes={"slow": slow}, request_timeout=0.3)
    await server.start("127.0.0.1", 0)
    try:
        peer = FakeAsterisk(server.port)
        await within(
            peer.request(ENV | {"agi_network_script": "slow"}, {}), "the request timed out"
        )
    finally:
        await server.stop()
    assert peer.commands[-1] == 'EXEC Goto "cobrador-failure,s,1"'
    assert 'SET VARIABLE COBRADOR_AGI_ERROR "timeout"' in peer.commands


async def test_given_an_unknown_script_when_requested_then_failure_context(started) -> None:
    server, _ = started
    peer = FakeAsterisk(server.port)
    await within(peer.request(ENV | {"agi_network_script": "nope"}, {}), "the request served")
    assert peer.commands[-1] == 'EXEC Goto "cobrador-failure,s,1"'


async def test_given_a_hangup_mid_request_then_handler_sees_agihangup_and_no_failure_goto(
    started,
) -> None:
    server, seen = started
    peer = FakeAsterisk(server.port)
    await within(
        peer.request(ENV | {"agi_network_script": "hangs_up"}, {}, hangup_after=1),
        "the request served",
    )
    assert seen["hangup"] is True
    assert peer.commands == ["EXEC Playback beep"]
    assert server.failures == 0


async def test_given_a_peer_that_connects_and_closes_then_it_costs_nothing(started) -> None:
    server, _ = started
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.close()
        await writer.wait_closed()
    # Every connection task ends on its own (no spinning reader left behind).
    await until(lambda: not server._tasks, "every connection task ended")
    assert server.failures == 0


async def test_given_a_partial_environment_then_close_then_no_handler_runs(started) -> None:
    server, seen = started
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\nagi_network_scr")
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await until(lambda: not server._tasks, "every connection task ended")
    assert "attempt" not in seen


async def test_given_an_interim_trying_reply_when_a_command_runs_then_the_final_reply_is_returned() -> (
    None
):
    replies: list[object] = []

    async def gosub(agi: AGISession) -> None:
        replies.append(await agi.command("GOSUB sub s 1"))
        replies.append(await agi.get_variable("X"))

    server = FastAGIServer(routes={"answer": gosub})
    await server.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode_environment(ENV))
        assert await reader.readline() == b"GOSUB sub s 1\n"
        writer.write(b"100 result=0 Trying...\n200 result=0 Gosub complete\n")
        assert await reader.readline() == b"GET VARIABLE X\n"
        writer.write(b"200 result=1 (y)\n")
        assert await reader.read() == b""  # the handler returned and the server closed
        writer.close()
    finally:
        await server.stop()
    assert [getattr(r, "code", r) for r in replies] == [200, "y"]


async def test_given_endless_environment_lines_when_sent_then_refused_closed_and_logged(
    started, caplog: pytest.LogCaptureFixture
) -> None:
    server, seen = started
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = b"".join(f"agi_flood_{i}: {'v' * 60}\n".encode() for i in range(5_000))
    try:
        writer.write(lines)
        await writer.drain()
    except ConnectionError:
        pass  # closed while we were still writing: what the test expects
    # The server closes (a reset, as it leaves our flood unread, or an end of stream)
    # at the codec's bound, not at the 5 s environment timeout: the log says which.
    with contextlib.suppress(ConnectionError):
        assert await within(reader.read(), "the flooding connection closed") == b""
    writer.close()
    assert "attempt" not in seen and server.failures == 0
    assert any(
        "refused before a complete request" in r.getMessage() and "environment" in r.getMessage()
        for r in caplog.records
    )


async def test_given_a_reply_the_codec_refuses_when_a_handler_reads_it_then_failure_context(
    started,
) -> None:
    server, seen = started
    peer = FakeAsterisk(server.port)
    before = (
        REGISTRY.get_sample_value("cobrador_fastagi_failures_total", {"reason": "protocol_error"})
        or 0.0
    )
    # Issue 20 row 8: a result of 4 301 digits (no Asterisk command answers that).
    answers = {"GET VARIABLE": "200 result=" + "1" * 4301}
    await within(peer.request(ENV, answers), "the request served")
    assert peer.commands == [
        "GET VARIABLE COBRADOR_ATTEMPT_ID",
        'SET VARIABLE COBRADOR_AGI_ERROR "protocol_error"',
        'EXEC Goto "cobrador-failure,s,1"',
    ]
    assert "done" not in seen and server.failures == 1
    after = REGISTRY.get_sample_value(
        "cobrador_fastagi_failures_total", {"reason": "protocol_error"}
    )
    assert after == before + 1


async def test_given_the_connection_limit_reached_when_another_call_connects_then_it_is_refused_counted_and_the_others_served() -> (
    None
):
    release = asyncio.Event()
    served: asyncio.Queue[str] = asyncio.Queue()

    async def waits(agi: AGISession) -> None:  # an inbound caller waiting in queue
        served.put_nowait(agi.uniqueid)
        await release.wait()

    server = FastAGIServer(routes={"answer": waits}, request_timeout=30.0, max_connections=2)
    await server.start("127.0.0.1", 0)
    refused_before = (
        REGISTRY.get_sample_value(
            "cobrador_fastagi_failures_total", {"reason": "too_many_connections"}
        )
        or 0.0
    )
    try:
        held = [asyncio.create_task(FakeAsterisk(server.port).request(
            {**ENV, "agi_uniqueid": f"u{i}"}, {})) for i in range(2)]  # fmt: skip
        assert {await served.get(), await served.get()} == {"u0", "u1"}
        # A third call: closed at once, before its environment is even read (Asterisk
        # then sends the call to cobrador-failure).
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with contextlib.suppress(ConnectionResetError):  # closed as hard: refused all the same
            assert await within(reader.read(), "the third connection closed") == b""
        writer.close()
        assert server.refused == 1 and served.empty()
        refused = REGISTRY.get_sample_value(
            "cobrador_fastagi_failures_total", {"reason": "too_many_connections"}
        )
        assert refused == refused_before + 1
        # Room again once the calls end: the next one is served.
        release.set()
        await asyncio.gather(*held)
        later = asyncio.create_task(
            FakeAsterisk(server.port).request({**ENV, "agi_uniqueid": "u3"}, {})
        )
        assert await within(served.get(), "the next call served") == "u3"
        await later
        assert server.refused == 1
    finally:
        release.set()
        await server.stop()
