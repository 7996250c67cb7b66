"""`cobrador registry import`: read a registry file, load it beside the current
version, swap atomically, and record the import (SQL row with its numbers +
audit entry). Redis is reloaded from those numbers (compliance/registry_sync.py)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
from sqlalchemy import Engine, insert

from compliance.numbers import BadNumber, NumberNormaliser
from compliance.registry import RegistryBusy, RegistryWriter, file_sha256, pack_buckets
from store import audit
from store.db import transaction
from store.importing.csv_source import MAX_LINE_CHARS, LineTooLong, bounded_lines
from store.importing.report import rejects_path_for
from store.models import RegistryBucket, RegistryImport
from store.spreadsheet import SafeWriter

MAX_REPORTED = 50  # as account imports print
# Past this many bad lines the file is not a registry (a wrong file, a binary): the
# import stops instead of holding a reject per line of a file of any size.
MAX_REJECTS = 1_000_000
BUCKET_ROWS_PER_INSERT = 2000


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    content: str


class RegistryImportError(ValueError):
    """The file cannot be imported as a whole; nothing was changed."""

    def __init__(self, message: str, rejects: list[Reject] | None = None) -> None:
        self.rejects = rejects or []
        lines = [message]
        for r in self.rejects[:MAX_REPORTED]:
            lines.append(f"  line {r.line}: {r.reason}")
        if len(self.rejects) > MAX_REPORTED:
            lines.append(f"  ... and {len(self.rejects) - MAX_REPORTED} more")
        super().__init__("\n".join(lines))


@dataclass
class ImportReport:
    name: str
    version: str
    count: int
    sha256: str
    replaced: str | None
    rejects: list[Reject] = field(default_factory=list)
    rejects_file: Path | None = None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, phone text) from a one-number-per-line file or a CSV with a `phone` column.
    Every line is read to a bound (LineTooLong past it), as the CSV imports read theirs."""
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        lines = bounded_lines(fh)
        first = next(lines, "")
        header = [h.strip().lower() for h in next(csv.reader(io.StringIO(first)), [])]
        is_csv = len(header) > 1 or header == ["phone"]
        if not is_csv:
            for number, line in enumerate(itertools.chain([first], lines), start=1):
                text = line.strip()
                if text and not text.startswith("#"):
                    yield number, text
            return
        if "phone" not in header:
            raise RegistryImportError(f"{path}: CSV header has no `phone` column ({header})")
        column = header.index("phone")
        for number, row in enumerate(csv.reader(lines), start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            yield number, row[column] if column < len(row) else ""


def read_registry_file(
    path: Path, country: str | None, max_rejects: int = MAX_REJECTS
) -> tuple[list[int], list[Reject]]:
    try:
        normaliser = NumberNormaliser(country)
    except ValueError as exc:
        raise RegistryImportError(f"--country: {exc}") from exc
    numbers: list[int] = []
    rejects: list[Reject] = []
    normalise = normaliser.normalise
    append = numbers.append
    line = 0
    try:
        for line, text in _lines(path):
            try:
                append(normalise(text))
            except BadNumber as exc:
                rejects.append(Reject(line, str(exc), text[:200]))
                if len(rejects) > max_rejects:
                    raise RegistryImportError(
                        f"{path}: over {max_rejects} bad lines; nothing imported (is it "
                        "a registry file?)", rejects[:MAX_REPORTED]) from None  # fmt: skip
    except OSError as exc:
        raise RegistryImportError(f"cannot read {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        with path.open("rb") as fh:
            utf16 = fh.read(2) in (b"\xff\xfe", b"\xfe\xff")
        what = "is UTF-16 text; save it as UTF-8" if utf16 else f"is not UTF-8 text: {exc}"
        raise RegistryImportError(f"{path} {what}") from exc
    except LineTooLong:
        raise RegistryImportError(
            f"{path}: line {line + 1} is longer than {MAX_LINE_CHARS} characters; nothing imported"
        ) from None
    except csv.Error as exc:
        where = f"after line {line}" if line else "in its first lines"
        reason = "a cell is longer than 131072 characters" if "field limit" in str(exc) else exc
        raise RegistryImportError(f"{path}: malformed CSV {where} ({reason})") from exc
    return numbers, rejects


def write_rejects(path: Path, rejects: list[Reject]) -> None:
    """Like account imports' rejects: the value as it came, then line and reason."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = SafeWriter(fh)
        writer.writerow(["phone", "line", "reason"])
        for r in rejects:
            writer.writerow([r.content, r.line, r.reason])


def import_registry(
    engine: Engine,
    client: redis.Redis,
    *,
    name: str,
    path: Path,
    country: str | None = None,
    skip_invalid: bool = False,
    rejects_file: Path | None = None,
    actor: str = "cli",
    now: datetime | None = None,
) -> ImportReport:
    if not name.isidentifier() or name != name.lower() or len(name) > 40:
        raise RegistryImportError(f"registry name must be a lower-case word, got {name!r}")
    if not path.is_file():
        raise RegistryImportError(f"{path} is not a file")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    sha256 = file_sha256(str(path))
    numbers, rejects = read_registry_file(path, country)
    if rejects and not skip_invalid:
        raise RegistryImportError(
            f"{path}: {len(rejects)} bad line(s); nothing imported "
            "(fix them or use --skip-invalid to write them to a rejects file)",
            rejects,
        )
    if not numbers:
        # An empty list would quietly allow every call: refuse it.
        raise RegistryImportError(f"{path}: no numbers in the file; nothing imported")
    if rejects:
        rejects_file = rejects_file or rejects_path_for(path)
        write_rejects(rejects_file, rejects)

    count = len(set(numbers))
    version = f"{now:%Y%m%dT%H%M%SZ}-{sha256[:8]}"
    writer = RegistryWriter(client, name)
    try:
        with writer.exclusive():
            replaced = _load_and_swap(
                engine, writer, numbers, version=version, count=count, sha256=sha256,
                country=country, path=path, rejected=len(rejects), actor=actor, now=now,
            )  # fmt: skip
    except RegistryBusy as exc:
        raise RegistryImportError(str(exc)) from exc
    return ImportReport(
        name, version, count, sha256, replaced, rejects, rejects_file if rejects else None
    )


def _load_and_swap(
    engine: Engine,
    writer: RegistryWriter,
    numbers: list[int],
    *,
    version: str,
    count: int,
    sha256: str,
    country: str | None,
    path: Path,
    rejected: int,
    actor: str,
    now: datetime,
) -> str | None:
    """Load the new version beside the current one, record it, swap; returns the replaced one."""
    name = writer.name
    # Kept twice: in Redis for lookups, in SQL (registry_buckets) to reload Redis from.
    buckets = list(pack_buckets(numbers))
    writer.load(
        version,
        buckets,
        imported_at=now,
        count=count,
        sha256=sha256,
        country=country,
    )
    replaced = writer.current_version()
    try:
        with transaction(engine) as session:
            row = RegistryImport(
                name=name,
                country=country.upper() if country else None,
                version=version,
                count=count,
                rejected=rejected,
                sha256=sha256,
                source_file=str(path)[-500:],
                imported_at=now,
            )
            session.add(row)
            session.flush()
            for start in range(0, len(buckets), BUCKET_ROWS_PER_INSERT):
                session.execute(
                    insert(RegistryBucket),
                    [
                        {"import_id": row.id, "bucket": bucket, "numbers": blob}
                        for bucket, blob in buckets[start : start + BUCKET_ROWS_PER_INSERT]
                    ],
                )
            audit.append(
                session,
                "registry_import",
                {
                    "name": name,
                    "version": version,
                    "count": count,
                    "rejected": rejected,
                    "sha256": sha256,
                    "source_file": path.name,
                    "country": country,
                    "replaced": replaced,
                },
                actor=actor,
                subject=f"registry:{name}",
                now=now,
            )
            # Swap inside the transaction: if recording fails, the old list comes back.
            replaced = writer.swap(version)
    except BaseException:
        writer.restore(replaced)
        writer.delete_except(replaced)
        raise
    writer.delete_except(version)
    return replaced
