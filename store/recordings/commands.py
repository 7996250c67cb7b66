"""CLI: `cobrador recordings purge|hold|release` (verify is `cobrador audit verify --recordings`)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    rec = subparsers.add_parser("recordings", help="call recordings: retention and legal hold")
    sub = rec.add_subparsers(dest="recordings_command", metavar="ACTION", required=True)
    purge = sub.add_parser(
        "purge", help="delete files past their retention date (never under legal hold)"
    )
    purge.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    purge.set_defaults(func=_purge)
    hold = sub.add_parser("hold", help="put an attempt's recording under legal hold")
    hold.add_argument("attempt_id", type=_attempt_id, metavar="ATTEMPT_ID")
    hold.add_argument("--reason", required=True, help="why (case, request, dispute reference)")
    hold.add_argument("--by", default="", help="who asks (recorded as the audit actor)")
    hold.set_defaults(func=_hold)
    release = sub.add_parser("release", help="lift the legal hold of an attempt's recording")
    release.add_argument("attempt_id", type=_attempt_id, metavar="ATTEMPT_ID")
    release.add_argument("--reason", default="", help="why the hold ends")
    release.add_argument("--by", default="", help="who asks (recorded as the audit actor)")
    release.set_defaults(func=_release)


def _attempt_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an attempt id (a number)") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not an attempt id (a positive number)")
    return number


def _actor(by: str) -> str:
    by = by.strip()
    if len(by) > 60 or any(ch.isspace() for ch in by):
        raise UserError("--by: one word of at most 60 characters (a user name)")
    return f"cli:{by}" if by else "cli"


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    from store.db import open_engine
    from store.recordings.purge import PurgeReport, purge_expired
    from store.recordings.storage import DirectoryStorage
    from store.recordings.verify import files_kept

    engine = open_engine(settings)
    if not settings.recordings_dir.is_dir():
        if files_kept(engine) == 0:
            # A new installation: nothing was ever recorded, so nothing can expire.
            print(f"nothing to purge: no recording has been stored yet "
                  f"({settings.recordings_dir} is created with the first one)")  # fmt: skip
            return 0
        # A wrong path would make every expired file look already gone: the rows
        # would say purged while the files stay. Refuse instead.
        raise UserError(f"recordings directory {settings.recordings_dir} does not exist "
                         "(COBRADOR_RECORDINGS_DIR); nothing purged")  # fmt: skip
    storage = DirectoryStorage(settings.recordings_dir)

    def progress(report: PurgeReport) -> None:
        if report.expired % 100 == 0:
            print(f"... {report.expired} expired so far, {report.purged} "
                  f"{'would be ' if report.dry_run else ''}purged, {report.held} held",
                  file=sys.stderr)  # fmt: skip

    report = purge_expired(
        engine, storage, datetime.now(UTC), dry_run=args.dry_run, progress=progress
    )
    for failure in report.failures:
        print(f"cobrador: {failure}", file=sys.stderr)
    print(report.summary())
    return 1 if report.failed else 0


def _hold(args: argparse.Namespace, settings: Settings) -> int:
    from store.db import open_engine
    from store.recordings.hold import HoldError, NoRecording, set_hold

    actor = _actor(args.by)
    try:
        state = set_hold(open_engine(settings), args.attempt_id, reason=args.reason, actor=actor,
                         now=datetime.now(UTC))  # fmt: skip
    except (HoldError, NoRecording) as exc:
        raise UserError(str(exc)) from exc
    print(f"recording of attempt {state.attempt_id} under legal hold: {state.hold_reason}")
    return 0


def _release(args: argparse.Namespace, settings: Settings) -> int:
    from store.db import open_engine
    from store.recordings.hold import HoldError, NoRecording, release_hold

    actor = _actor(args.by)
    try:
        state = release_hold(open_engine(settings), args.attempt_id, actor=actor,
                             now=datetime.now(UTC), reason=args.reason)  # fmt: skip
    except (HoldError, NoRecording) as exc:
        raise UserError(str(exc)) from exc
    print(f"legal hold of the recording of attempt {state.attempt_id} released")
    return 0
