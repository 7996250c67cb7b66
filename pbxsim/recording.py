"""pbxsim's MixMonitor: a short synthetic wav per recorded call, so the recording path
can be exercised without Asterisk: a tone, then silence, as long as the call (capped)."""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

RATE = 8000  # Hz, what Asterisk's wav format writes
TONE_HZ = 440.0
TONE_SECONDS = 0.5
DEFAULT_CAP_SECONDS = 10.0


def write_synthetic_wav(path: Path, seconds: float, cap: float = DEFAULT_CAP_SECONDS) -> float:
    """Write `path` (mono, 16-bit, 8 kHz); return the duration written."""
    duration = max(0.0, min(seconds, cap))
    frames = int(duration * RATE)
    tone = min(frames, int(TONE_SECONDS * RATE))
    samples = bytearray()
    for i in range(tone):
        value = int(8000 * math.sin(2 * math.pi * TONE_HZ * i / RATE))
        samples += struct.pack("<h", value)
    samples += bytes(2 * (frames - tone))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(samples))
    tmp.replace(path)  # appears complete or not at all
    return frames / RATE


# What pbxsim.PBX.recording_faults can make a MixMonitor do, as Asterisk does when
# it cannot open the file ("missing": no file at all) or writes no audio ("empty").
FAULTS = ("missing", "empty")


@dataclass
class MixMonitor:
    """One channel's MixMonitor: the file and the simulated seconds recorded so far."""

    path: Path
    since: float | None = None  # start of the running segment (simulated time)
    seconds: float = 0.0  # closed segments (MixMonitor's `a` option appends)
    fault: str | None = None

    def stop(self, now: float) -> None:
        if self.since is not None:
            self.seconds += max(0.0, now - self.since)
            self.since = None

    def write(self, cap: float) -> None:
        """Leave the file as Asterisk would after this segment (or no file on a fault)."""
        if self.fault == "missing":
            return
        write_synthetic_wav(self.path, 0.0 if self.fault == "empty" else self.seconds, cap)
