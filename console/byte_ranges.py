"""HTTP Range headers (RFC 9110, section 14): which bytes of a file of known size to send.

Pure: no aiohttp, no files. One `bytes=` range is served as 206; a header
this server does not serve (another unit, several ranges, bad syntax) is
ignored and the whole file is sent with 200, as RFC 9110 allows; a range
that starts beyond the end is unsatisfiable (416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")


class Unsatisfiable(ValueError):
    """The range starts past the end of the file (answer 416 with `bytes */size`)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range to send, or None to send the whole file.

    Raises Unsatisfiable when a well-formed single range cannot be served.
    """
    if header is None:
        return None
    match = _SPEC.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None  # several ranges, another unit or garbage: send it all
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid syntax per RFC 9110: ignored
    if start >= size:
        raise Unsatisfiable(header)
    end = min(int(last), size - 1) if last else size - 1
    return ByteRange(start, end)
