"""A short synthetic wav per connected call, so the recording path can be exercised
without Asterisk's MixMonitor: a tone, then silence, as long as the call (capped)."""

from __future__ import annotations

import math
import struct
import wave
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
