"""pbxsim as its own process (`python -m pbxsim`), and its synthetic MixMonitor recordings."""

from __future__ import annotations

import asyncio
import re
import sys
import wave
from pathlib import Path

import pytest
from support.polling import until

from dialer import channel_vars as cv
from dialer.ami import AMIClient
from dialer.fastagi import AGISession, FastAGIServer
from pbxsim.recording import RATE, write_synthetic_wav
from pbxsim.testing import WAIT, EventRecorder, Rig


async def test_given_pbxsim_run_as_a_module_when_a_call_is_placed_then_it_answers_and_asks_fastagi(
    tmp_path: Path,
) -> None:
    asked: list[str | None] = []

    async def answer(agi: AGISession) -> None:
        asked.append(await agi.get_variable(cv.ATTEMPT_ID))
        await agi.exec("MixMonitor", "2026/11/24/5.wav,a")  # relative: under --recordings
        await agi.set_variable(cv.ACTION, cv.ACTION_SAFE_HARBOR)

    agi = FastAGIServer(routes={cv.SCRIPT_ANSWER: answer})
    await agi.start("127.0.0.1", 0)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pbxsim", "--ami-port", "0", "--agi-port", str(agi.port),
        "--speed", "20", "--suffix-rules", "--secret", "s3cret",
        "--recordings", str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
        match = re.search(r"AMI on 127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        client = AMIClient(
            "127.0.0.1", int(match.group(1)), "cobrador", "s3cret", keepalive_interval=None
        )
        await client.connect()
        recorder = EventRecorder(client)
        await client.send_action(
            {
                "Action": "Originate",
                "Channel": cv.debtor_channel("5215550000101"),
                "Context": cv.CONTEXT_ANSWER,
                "Exten": "s",
                "Async": "true",
                "ChannelId": cv.originate_channel_id(5),
                "Variable": f"{cv.ATTEMPT_ID}=5",
            }
        )
        abandoned = await recorder.wait_for(
            lambda e: e.name == "VarSet" and e.get("Variable") == "COBRADOR_ABANDONED"
        )
        assert abandoned.get("Uniqueid") == "cobrador-5"
        await recorder.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == "cobrador-5")
        assert asked == ["5"]
        # Written as the channel goes, maybe just after its Hangup event (as on Asterisk).
        wav = tmp_path / "2026" / "11" / "24" / "5.wav"
        await until(wav.exists)
        await recorder.close()
        await client.close()
    finally:
        process.terminate()
        await process.wait()
        await agi.stop()


async def test_given_a_bridged_call_with_mixmonitor_when_it_ends_then_a_wav_of_its_length_is_written(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.login_agent(12)
    path = tmp_path / "2026" / "11" / "24" / "91.wav"

    async def bridge(agi: AGISession) -> None:
        await agi.exec("MixMonitor", f"{path},a")
        await agi.set_variable(cv.BRIDGE, cv.agent_bridge(12))
        await agi.set_variable(cv.ACTION, cv.ACTION_BRIDGE)

    rig.decisions["91"] = bridge
    await rig.originate_debtor(91, "5215550000101")
    await rig.recorder.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == "cobrador-91")
    with wave.open(str(path)) as recording:
        seconds = recording.getnframes() / recording.getframerate()
    # About 5.6 simulated seconds (greeting 2.6 s + 4 s talk, bridged after 1 s of
    # AMD); simulated time stretches on a loaded machine, so only bounds are checked.
    assert 0 < seconds <= 10.0
    assert rig.pbx.recordings == [path]
    assert [e.name for e in rig.recorder.for_call("cobrador-91") if "MixMonitor" in e.name] == [
        "MixMonitorStart"  # Asterisk 22 sends no MixMonitorStop at hangup
    ]


def test_given_a_long_call_when_written_then_capped(tmp_path: Path) -> None:
    assert write_synthetic_wav(tmp_path / "x.wav", 3600.0, cap=2.0) == 2.0
    with wave.open(str(tmp_path / "x.wav")) as recording:
        assert recording.getframerate() == RATE
        assert recording.getnframes() == 2 * RATE


@pytest.mark.parametrize("seconds", [-1.0, 0.0])
def test_given_no_connected_time_when_written_then_empty_but_valid(
    tmp_path: Path, seconds: float
) -> None:
    assert write_synthetic_wav(tmp_path / "y.wav", seconds) == 0.0
    with wave.open(str(tmp_path / "y.wav")) as recording:
        assert recording.getnframes() == 0
