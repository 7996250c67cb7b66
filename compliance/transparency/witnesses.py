"""Witnesses: places outside the database that keep every signed checkpoint.

A directory of append-only files (one a day) is the default; an HTTP endpoint
(POST a checkpoint line, GET returns all lines) is optional. A witness that
cannot take a checkpoint raises WitnessError: the caller counts it, records it
and alerts; it is never skipped silently.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from compliance.transparency.checkpoint import CheckpointFormatError, SignedCheckpoint, parse_line

FILE_PREFIX = "checkpoints-"
FILE_SUFFIX = ".jsonl"


class WitnessError(RuntimeError):
    """The witness could not take or give back checkpoints (unreachable, unwritable)."""


@dataclass(frozen=True)
class WitnessRecord:
    """One checkpoint as a witness holds it; `error` when its line is not a checkpoint."""

    location: str  # file:line, or url#line
    signed: SignedCheckpoint | None
    error: str | None = None


class Witness(Protocol):
    @property
    def name(self) -> str: ...

    def publish(self, signed: SignedCheckpoint) -> None: ...

    def read(self) -> list[WitnessRecord]: ...


def _records(lines: list[str], where: str) -> list[WitnessRecord]:
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(WitnessRecord(f"{where}:{number}", parse_line(line)))
        except CheckpointFormatError as exc:
            out.append(WitnessRecord(f"{where}:{number}", None, str(exc)))
    return out


@dataclass(frozen=True)
class DirectoryWitness:
    """checkpoints-YYYY-MM-DD.jsonl files, appended to and fsynced, never rewritten."""

    directory: Path

    @property
    def name(self) -> str:
        return f"dir:{self.directory}"

    def publish(self, signed: SignedCheckpoint) -> None:
        day = signed.checkpoint.time.strftime("%Y-%m-%d")
        path = self.directory / f"{FILE_PREFIX}{day}{FILE_SUFFIX}"
        try:
            # The directory itself is not created with its parents: a volume that
            # is not mounted must fail here, not fill the container's own disk.
            self.directory.mkdir(exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (signed.line() + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise WitnessError(f"{self.name}: cannot append to {path}: {exc}") from exc

    def read(self) -> list[WitnessRecord]:
        if not self.directory.is_dir():
            raise WitnessError(f"{self.name}: directory does not exist")
        out: list[WitnessRecord] = []
        try:
            for path in sorted(self.directory.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}")):
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                out.extend(_records(lines, path.name))
        except OSError as exc:
            raise WitnessError(f"{self.name}: cannot read: {exc}") from exc
        return out


# The most of a witness's answer read: a line per checkpoint (a few hundred bytes,
# one a minute at most) is years within it, while a hostile or broken endpoint
# streaming without end grew `cobrador audit verify` until the timeout.
MAX_ANSWER_BYTES = 256 * 1024 * 1024
# The time to read that answer in full: urlopen's timeout bounds each socket read, so
# an endpoint sending a byte now and then held a verification for as long as it liked.
READ_SECONDS = 300.0
_CHUNK = 64 * 1024


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A witness's 3xx is its failure: following it let the answer choose where our
    checkpoint went and whose lines we read (an address inside our network)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


@dataclass(frozen=True)
class HttpWitness:
    """An endpoint that appends what is POSTed and returns every line on GET."""

    url: str
    timeout: float = 5.0
    max_bytes: int = MAX_ANSWER_BYTES
    read_seconds: float = READ_SECONDS

    @property
    def name(self) -> str:
        return f"http:{self.url}"

    def publish(self, signed: SignedCheckpoint) -> None:
        request = urllib.request.Request(
            self.url,
            data=signed.line().encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                if not 200 <= response.status < 300:
                    raise WitnessError(f"{self.name}: answered {response.status}")
        except (urllib.error.URLError, OSError) as exc:
            raise WitnessError(f"{self.name}: {exc}") from exc

    def read(self) -> list[WitnessRecord]:
        deadline = time.monotonic() + self.read_seconds
        data = bytearray()
        try:
            with _OPENER.open(self.url, timeout=self.timeout) as response:
                while chunk := response.read1(_CHUNK):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise WitnessError(f"{self.name}: answer over {self.max_bytes} "
                                           "bytes; not read")  # fmt: skip
                    if time.monotonic() > deadline:
                        raise WitnessError(f"{self.name}: not answered in full within "
                                           f"{self.read_seconds:g} s; not read")  # fmt: skip
        except (urllib.error.URLError, OSError) as exc:
            raise WitnessError(f"{self.name}: {exc}") from exc
        return _records(data.decode("utf-8", errors="replace").splitlines(), self.url)


def configured(directory: Path | None, urls: str) -> list[Witness]:
    """The witnesses named by the settings (a directory, comma-separated HTTP URLs)."""
    out: list[Witness] = []
    if directory is not None:
        out.append(DirectoryWitness(directory))
    out.extend(HttpWitness(u.strip()) for u in urls.split(",") if u.strip())
    return out
