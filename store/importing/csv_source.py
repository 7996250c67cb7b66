"""Streaming CSV reading shared by every import: header checks, row numbering,
UTF-8 with or without BOM, comma or semicolon. The file is never loaded whole:
a physical line is read up to MAX_LINE_CHARS and a cell up to the csv module's
field limit, so a file without line ends or a giant cell costs bounded memory."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# A physical line longer than this is refused: no row of ours comes near it, and a
# file with no line ends (a binary, a dump) must not be read whole into one string.
MAX_LINE_CHARS = 1 << 20
# The csv module's own bound on one cell (its default field_size_limit).
MAX_CELL_CHARS = csv.field_size_limit()


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not a row problem)."""


class LineTooLong(Exception):
    """A physical line over MAX_LINE_CHARS (bounded_lines)."""


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass
class CsvRow:
    line: int
    values: dict[str, str]
    raw: list[str]
    errors: list[RowError] = field(default_factory=list)


def make_row(header: list[str], line: int, raw: list[str]) -> CsvRow:
    """A row's cells by (lower-case) column name, trimmed; a wrong width is an error."""
    width = len(header)
    row = CsvRow(line=line, values={}, raw=raw)
    if len(raw) != width:
        row.errors.append(
            RowError(line, "", f"row has {len(raw)} fields but the header has {width}")
        )
    cells = raw if len(raw) >= width else raw + [""] * (width - len(raw))
    row.values = dict(zip(header, map(str.strip, cells), strict=False))
    joined = "".join(raw)
    if "\x00" in joined:
        # PostgreSQL text cannot hold it, and no name, number or date has one: the
        # file is most likely a spreadsheet's binary or UTF-16 saved under .csv.
        column = next((h for h, c in zip(header, raw, strict=False) if "\x00" in c), "")
        row.errors.append(
            RowError(
                line, column, "contains a NUL character (byte 0x00); save the file as UTF-8 CSV"
            )
        )
    elif _HIDDEN.search(joined):
        for column, cell in zip(header, raw, strict=False):
            if found := _HIDDEN.search(cell):
                row.errors.append(RowError(line, column, _hidden_reason(found.group())))
                break
    return row


# Characters no name, address, number or reference holds, that change what a
# person reads: C0/C1 controls (an ESC sequence recolours or rewrites the
# terminal a log or `cobrador check` prints to) and the bidirectional embeddings,
# overrides and isolates (a name that shows reversed on the agent's screen).
# Tab, line feed and carriage return stay: a quoted address may span lines.
_HIDDEN = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hidden_reason(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
        return (
            f"contains a text-direction control ({code}) that changes how the text reads; remove it"
        )
    return f"contains a control character ({code}); remove it (was the file exported as text?)"


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def bounded_lines(text: IO[str]) -> Iterator[str]:
    """The physical lines of `text`, each read to MAX_LINE_CHARS at most (LineTooLong
    past it); what a csv reader iterates instead of the file itself."""
    readline = text.readline
    while line := readline(MAX_LINE_CHARS):
        if len(line) >= MAX_LINE_CHARS and line[-1] not in "\r\n":
            raise LineTooLong
        yield line


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class HashingReader(io.RawIOBase):
    """Wraps a binary file: hashes and counts every byte read (sha256 for evidence,
    bytes for the progress bar)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.bytes_read += n
        return n


class CsvSource:
    """Iterates the data rows of a CSV file with normalised (lower-case) headers."""

    def __init__(self, path: Path, required: set[str], allowed: set[str] | None = None) -> None:
        self.path = path
        self.required = required
        self.allowed = allowed  # None: any extra column is accepted
        try:
            self.size = path.stat().st_size
            self._binary: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        self._hashing = HashingReader(self._binary)
        # Decoding and line splitting in C; "utf-8-sig" drops a BOM. newline="" as
        # the csv module wants it: quoted fields may hold line breaks.
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._hashing, buffer_size=1 << 16), encoding="utf-8-sig", newline=""
        )
        first = self._read_header_line()
        delimiter = ";" if first.count(";") > first.count(",") else ","
        self.header = self._parse_header(first, delimiter)
        self._reader = csv.reader(bounded_lines(self._text), delimiter=delimiter)
        self.rows_read = 0

    @property
    def bytes_read(self) -> int:
        return self._hashing.bytes_read

    def sha256_hex(self) -> str:
        """The file's sha256; reads what is left so the digest covers every byte."""
        while self._hashing.readinto(bytearray(1 << 16)):
            pass
        return self._hashing.sha256.hexdigest()

    def _not_utf8(self, exc: UnicodeDecodeError) -> ImportFileError:
        """The error for a file that is not UTF-8, naming the first bad line (found by
        reading the file again: the decoder works on blocks, not lines)."""
        with self.path.open("rb") as fh:
            if fh.read(2) in UTF16_BOMS:
                return ImportFileError(
                    f'{self.path}: the file is UTF-16 text ("Unicode text" in Excel); '
                    'save it as "CSV UTF-8"'
                )
            fh.seek(0)
            bad = None
            # Lines read to a bound: a file with no line ends is not read whole.
            for number, raw in enumerate(iter(lambda: fh.readline(MAX_LINE_CHARS), b""), 1):
                if not _is_utf8(raw):
                    bad = number
                    break
        where = f"line {bad}" if bad else "the file"
        return ImportFileError(
            f"{self.path}: {where} is not UTF-8 text; save the file as UTF-8 CSV"
        )

    def _read_header_line(self) -> str:
        try:
            line = self._text.readline(MAX_LINE_CHARS)
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from exc
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise ImportFileError(
                f"{self.path}: the first line is longer than {MAX_LINE_CHARS} characters "
                "(is this a CSV file?)"
            )
        if not line.strip():
            raise ImportFileError(f"{self.path}: the file is empty (a header row is required)")
        return line

    def _parse_header(self, line: str, delimiter: str) -> list[str]:
        try:
            cells = next(csv.reader([line], delimiter=delimiter))
        except csv.Error as exc:
            raise ImportFileError(f"{self.path}: line 1: malformed CSV header ({exc})") from exc
        names = [h.strip().lower() for h in cells]
        seen: set[str] = set()
        for pos, name in enumerate(names, start=1):
            if not name:
                raise ImportFileError(f"{self.path}: header column {pos} has no name")
            if "\x00" in name:
                raise ImportFileError(
                    f"{self.path}: the header holds NUL characters (byte 0x00); "
                    "save the file as UTF-8 CSV"
                )
            if name in seen:
                raise ImportFileError(f"{self.path}: header column {name!r} appears twice")
            seen.add(name)
        missing = sorted(self.required - seen)
        if missing:
            raise ImportFileError(
                f"{self.path}: required column(s) missing from the header: {', '.join(missing)}"
            )
        if self.allowed is not None:
            unknown = sorted(seen - self.allowed)
            if unknown:
                raise ImportFileError(
                    f"{self.path}: unknown column(s) {', '.join(unknown)}; "
                    f"expected {', '.join(sorted(self.allowed))}"
                )
        return names

    def __iter__(self) -> Iterator[CsvRow]:
        for line, raw in self.raw_rows():
            yield make_row(self.header, line, raw)

    def raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line, cells) of every non-blank row: the cheap part, for callers that
        build the rows elsewhere (worker processes)."""
        reader = self._reader
        while True:
            line = reader.line_num + 2  # where the row starts: after the header and the lines read
            try:
                raw = next(reader)
            except StopIteration:
                return
            except LineTooLong:
                raise ImportFileError(
                    f"{self.path}: line {line}: a line is longer than {MAX_LINE_CHARS} "
                    "characters; nothing imported"
                ) from None
            except csv.Error as exc:
                reason = (
                    f"a cell is longer than {MAX_CELL_CHARS} characters"
                    if "field limit" in str(exc)
                    else f"malformed CSV ({exc})"
                )
                raise ImportFileError(f"{self.path}: line {line}: {reason}") from exc
            except UnicodeDecodeError as exc:
                raise self._not_utf8(exc) from exc
            if not "".join(raw).strip():
                continue  # blank lines are not rows
            self.rows_read += 1
            yield line, raw

    def close(self) -> None:
        self._binary.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
