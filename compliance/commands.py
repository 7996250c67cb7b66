"""CLI commands of compliance: `audit verify|export`, `registry import`, `check`."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from cobrador.cli import UserError
from cobrador.settings import Settings


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="the tamper-evident audit chain")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="check every entry of the chain")
    verify.set_defaults(func=_audit_verify)
    export = audit_sub.add_parser("export", help="write entries as CSV or JSON lines")
    export.add_argument("--from", dest="start", help="ISO 8601 instant (inclusive)")
    export.add_argument("--to", dest="end", help="ISO 8601 instant (exclusive)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    export.add_argument("--output", "-o", help="file to write (default: stdout)")
    export.set_defaults(func=_audit_export)


def parse_instant(value: str, what: str) -> datetime:
    """An ISO 8601 instant with a zone (or a date, meaning UTC midnight); else UserError."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"{what}: {value!r} is not an ISO 8601 date or time") from exc
    if len(text) == 10:  # a bare date
        return parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is None:
        raise UserError(f"{what}: {value!r} has no time zone; add Z or an offset like -06:00")
    return parsed


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.runtime import open_engine
    from compliance.audit import verify

    engine = open_engine(settings)
    result = verify(engine)
    if result.ok:
        print(f"audit chain intact: {result.checked} entries, head {result.head_hash}")
        return 0
    print(
        f"audit chain BROKEN at entry {result.first_bad_id}: {result.problem} "
        f"({result.checked} entries before it are intact)",
        file=sys.stderr,
    )
    return 1


EXPORT_FIELDS = ("id", "created_at", "kind", "actor", "subject", "payload", "prev_hash", "hash")


def _audit_export(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.runtime import open_engine
    from compliance.audit import canonical_json, iter_export

    start = parse_instant(args.start, "--from") if args.start else None
    end = parse_instant(args.end, "--to") if args.end else None
    if start and end and end <= start:
        raise UserError("--to must be later than --from")
    engine = open_engine(settings)
    out: TextIO
    with _open_output(args.output) as out:
        count = 0
        writer = csv.writer(out) if args.format == "csv" else None
        if writer:
            writer.writerow(EXPORT_FIELDS)
        for row in iter_export(engine, start, end):
            if writer:
                writer.writerow(
                    [canonical_json(row[f]) if f == "payload" else row[f] for f in EXPORT_FIELDS]
                )
            else:
                out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    print(f"exported {count} audit entries", file=sys.stderr)
    return 0


class _open_output:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.fh: TextIO | None = None

    def __enter__(self) -> TextIO:
        if not self.path or self.path == "-":
            return sys.stdout
        try:
            self.fh = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise UserError(f"cannot write {self.path}: {exc}") from exc
        return self.fh

    def __exit__(self, *exc: object) -> None:
        if self.fh:
            self.fh.close()
