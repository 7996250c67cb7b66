"""What a closed recording file is: size, SHA-256 and (for wav) duration, or why not."""

from __future__ import annotations

import logging
import wave
from dataclasses import dataclass
from decimal import Decimal

from store.models import RecordingStatus
from store.recordings.storage import RecordingStorage, extension_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileFacts:
    status: RecordingStatus
    reason: str | None = None  # why the status is not ok (stable text, no personal data)
    size_bytes: int | None = None
    sha256: str | None = None
    duration_s: Decimal | None = None

    @property
    def metric_reason(self) -> str:
        """The `reason` label of cobrador_recordings_failed_total."""
        return {"missing": "missing", "empty": "empty"}.get(self.status.value, "unreadable")


def wav_duration(storage: RecordingStorage, key: str) -> Decimal | None:
    """Seconds of audio from the wav header, or None when the header cannot be read."""
    try:
        with storage.open(key) as fh, wave.open(fh, "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except (wave.Error, EOFError) as exc:
        log.warning("recording %s: wav header unreadable (%s)", key, exc)
        return None
    if rate <= 0:
        return None
    return (Decimal(frames) / Decimal(rate)).quantize(Decimal("0.001"))


def inspect_file(storage: RecordingStorage, key: str) -> FileFacts:
    """Size, hash and duration of the file at `key`; a status and reason when it is not usable."""
    try:
        size = storage.size(key)
        if size is None:
            return FileFacts(RecordingStatus.missing, f"no file at {key}")
        if size == 0:
            return FileFacts(RecordingStatus.empty, "file has 0 bytes", size_bytes=0)
        digest = storage.sha256(key)
        duration = wav_duration(storage, key) if extension_of(key) == "wav" else None
    except FileNotFoundError:  # removed between the size and the read
        return FileFacts(RecordingStatus.missing, f"no file at {key}")
    except OSError as exc:
        return FileFacts(
            RecordingStatus.failed, f"unreadable: {type(exc).__name__}: {exc.strerror}"
        )
    if duration is not None and duration == 0:
        return FileFacts(
            RecordingStatus.empty, "wav has no audio frames", size_bytes=size, sha256=digest,
            duration_s=duration,
        )  # fmt: skip
    return FileFacts(RecordingStatus.ok, None, size, digest, duration)
