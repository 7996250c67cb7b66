"""What an import tells the person running it: progress on a terminal, the
row errors, the rejects file, and a one-line summary."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from store.importing.csv_source import RowError
from store.spreadsheet import SafeWriter

MAX_ERRORS_PRINTED = 50
MAX_REASON_CHARS = 300


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    written: bool = False
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    rejects_path: Path | None = None
    sha256: str = ""
    seconds: float = 0.0

    def add_errors(self, errors: list[RowError], keep: int = 1000) -> None:
        self.error_count += len(errors)
        room = keep - len(self.errors)
        if room > 0:
            # A reason quotes the cell: a cell of 100 KB must not be kept 1000 times.
            self.errors.extend(
                e if len(e.reason) <= MAX_REASON_CHARS
                else replace(e, reason=e.reason[:MAX_REASON_CHARS] + "...")
                for e in errors[:room]
            )  # fmt: skip

    def summary(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        head = f"{self.kind}: {self.rows} rows in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
        if self.dry_run:
            verdict = (
                "valid, nothing written (dry run)"
                if not self.error_count
                else (f"{self.error_count} error(s), nothing written (dry run)")
            )
        elif not self.written:
            verdict = (
                f"{self.error_count} error(s): NOTHING written (fix the rows or use --skip-invalid)"
            )
        else:
            verdict = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
            if self.rejected:
                verdict += f", {self.rejected} rejected -> {self.rejects_path}"
        return f"{head}: {verdict}"


class RejectsWriter:
    """Bad rows as they came, plus line and reason columns, in FILE.rejects.csv."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self._fh = path.open("w", encoding="utf-8", newline="")
        self._writer = SafeWriter(self._fh)
        self._writer.writerow([*header, "line", "reason"])
        self.count = 0

    def write(self, line: int, raw: list[str], errors: list[RowError]) -> None:
        reason = "; ".join(f"{e.column}: {e.reason}" if e.column else e.reason for e in errors)
        self._writer.writerow([*raw, line, reason])
        self.count += 1

    def close(self) -> None:
        self._fh.close()


def rejects_path_for(source: Path) -> Path:
    name = source.name[:-4] if source.name.lower().endswith(".csv") else source.name
    return source.with_name(f"{name}.rejects.csv")


class Progress:
    """A progress line on a terminal (stderr); silent when not a terminal."""

    def __init__(
        self, total_bytes: int, label: str, stream: IO[str] | None = None, clock=time.monotonic
    ) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total = max(total_bytes, 1)
        self.label = label
        self.clock = clock
        self.started = clock()
        self._last = 0.0

    def update(self, bytes_done: int, rows: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last < 0.2:
            return
        self._last = now
        frac = min(bytes_done / self.total, 1.0)
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        rate = rows / max(now - self.started, 1e-9)
        self.stream.write(f"\r{self.label} [{bar}] {frac:6.1%} {rows:,} rows {rate:,.0f}/s")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def print_errors(result: ImportResult, stream: IO[str] | None = None) -> None:
    out = stream or sys.stderr
    for err in result.errors[:MAX_ERRORS_PRINTED]:
        print(f"  {err}", file=out)
    if result.error_count > MAX_ERRORS_PRINTED:
        print(f"  ... and {result.error_count - MAX_ERRORS_PRINTED} more", file=out)
