"""Where recording files live: a small storage interface and the directory storage.

Keys partition by the call's UTC date, `YYYY/MM/DD/<attempt_id>.<ext>`, so no
directory ever holds millions of files and no key ever holds a phone number.
Only keys of exactly that shape are accepted, so a key can never reach a file
outside the storage's root.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK_BYTES = 64 * 1024
_KEY_RE = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})/([1-9][0-9]{0,18})\.([a-z0-9]{1,8})")
_EXT_RE = re.compile(r"[a-z0-9]{1,8}")


class BadKey(ValueError):
    """A storage key that is not `YYYY/MM/DD/<attempt_id>.<ext>`."""


def key_for(attempt_id: int, started_at: datetime, ext: str = "wav") -> str:
    """The key of an attempt's recording: its UTC start date, then the attempt id."""
    if started_at.tzinfo is None:
        raise ValueError("naive datetime given for a recording's start; attach a time zone")
    if attempt_id <= 0:
        raise ValueError(f"attempt id must be positive, got {attempt_id}")
    ext = ext.lower().lstrip(".")
    if not _EXT_RE.fullmatch(ext):
        raise ValueError(f"recording extension must be 1-8 letters or digits, got {ext!r}")
    day = started_at.astimezone(UTC)
    return f"{day:%Y/%m/%d}/{attempt_id}.{ext}"


def check_key(key: str) -> str:
    """The key itself when it has the one allowed shape; BadKey otherwise."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise BadKey(f"not a recording key (YYYY/MM/DD/<attempt_id>.<ext>): {key!r}")
    return key


def attempt_of(key: str) -> int:
    """The attempt id a key names."""
    match = _KEY_RE.fullmatch(check_key(key))
    assert match is not None
    return int(match.group(4))


def extension_of(key: str) -> str:
    return check_key(key).rsplit(".", 1)[1]


class RecordingStorage(Protocol):
    """What the recordings code needs from a place that keeps files."""

    def key_for(self, attempt_id: int, started_at: datetime, ext: str = "wav") -> str: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """Size in bytes, or None when there is no file."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The file for reading (binary); FileNotFoundError when there is none."""
        ...

    def iter_range(
        self, key: str, start: int, end: int, chunk: int = CHUNK_BYTES
    ) -> Iterator[bytes]:
        """Bytes start..end (inclusive) in chunks, for HTTP range requests."""
        ...

    def sha256(self, key: str) -> str:
        """Hex SHA-256 of the file, read in chunks (never the whole file in memory)."""
        ...

    def files(self) -> Iterator[str]:
        """Every file it holds, as a relative `/` path (a valid key or not), in order."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the file; False when there was none."""
        ...


class DirectoryStorage:
    """Recording files under one directory (a named volume in docker-compose)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DirectoryStorage({str(self.root)!r})"

    def key_for(self, attempt_id: int, started_at: datetime, ext: str = "wav") -> str:
        return key_for(attempt_id, started_at, ext)

    def path(self, key: str) -> Path:
        """The file's path (for the writer, e.g. Asterisk's MixMonitor, and for the tests)."""
        return self.root.joinpath(*check_key(key).split("/"))

    def ensure_dir(self, key: str) -> Path:
        """Create the key's date directory (before a writer opens the file); returns the path."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return os.stat(self.path(key)).st_size
        except FileNotFoundError:
            return None

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def iter_range(
        self, key: str, start: int, end: int, chunk: int = CHUNK_BYTES
    ) -> Iterator[bytes]:
        if start < 0 or end < start:
            raise ValueError(f"bad byte range {start}-{end}")
        with self.open(key) as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                data = fh.read(min(chunk, left))
                if not data:
                    return
                left -= len(data)
                yield data

    def sha256(self, key: str) -> str:
        return sha256_of(self.open(key))

    def files(self) -> Iterator[str]:
        """Every file under the root as a key-shaped relative path (`/`-separated), in
        order, one directory at a time: a path that is not a valid key comes out as it is."""
        for top, dirs, files in os.walk(self.root):
            dirs.sort()
            rel = Path(top).relative_to(self.root)
            for name in sorted(files):
                yield (rel / name).as_posix()

    def delete(self, key: str) -> bool:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True


def sha256_of(fh: BinaryIO) -> str:
    """Hash an open file in chunks and close it."""
    digest = hashlib.sha256()
    with fh:
        while data := fh.read(CHUNK_BYTES):
            digest.update(data)
    return digest.hexdigest()
