"""CLI: `cobrador letters batch [--day YYYY-MM-DD]` (the day's letters as one PDF and a
manifest for the mail room) and `cobrador letters import FILE` (the carrier's tracking
numbers and acknowledgements of receipt)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    letters = subparsers.add_parser("letters", help="formal notices by post: batches and receipts")
    sub = letters.add_subparsers(dest="letters_command", metavar="ACTION", required=True)
    batch = sub.add_parser("batch", help="the day's letters as one PDF and a manifest")
    batch.add_argument("--day", type=date.fromisoformat, default=None,
                       help="YYYY-MM-DD, the letters' date (default: today where the debtors are: "
                            "the earliest date in the zones of the campaigns' countries, never "
                            "UTC's; a letter is dated on its debtor's date)")  # fmt: skip
    batch.set_defaults(func=_batch)
    receipts = sub.add_parser("import", help="import the carrier's tracking numbers and receipts")
    receipts.add_argument("file", type=Path, metavar="FILE.csv")
    receipts.set_defaults(func=_import)


def _batch(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from outreach.channels.letter import batch_day, batch_today
    from store.db import open_engine
    from store.models import Campaign

    engine = open_engine(settings)
    day = args.day
    if day is None:
        with Session(engine) as s:
            countries = s.scalars(select(Campaign.country).distinct()).all()
        day = batch_today(datetime.now(UTC), countries)
    done = batch_day(engine, settings.letters_dir, day)
    print(f"{done.letters} letters of {done.day}: {done.pdf} and {done.manifest}")
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from outreach.channels import Reply
    from outreach.channels.delivery import DeliveryBook
    from outreach.channels.letter import import_receipts, letter_channel, read_receipts
    from store.db import open_engine
    from store.importing.csv_source import MAX_LINE_CHARS, LineTooLong, bounded_lines

    try:
        with args.file.open(encoding="utf-8-sig", newline="") as fh:
            # Streamed, each line to a bound: a file with no line ends is not read whole.
            receipts = read_receipts(bounded_lines(fh))
    except OSError as exc:
        raise UserError(f"receipts file {args.file}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"receipts file {args.file}: not UTF-8 text; save it as CSV UTF-8") from exc
    except LineTooLong as exc:
        raise UserError(
            f"receipts file {args.file}: a line over {MAX_LINE_CHARS} characters"
        ) from exc
    engine = open_engine(settings)

    async def no_replies(reply: Reply) -> None:  # a letter has no reply channel
        raise UserError("letters take no replies")

    channel = letter_channel(engine, DeliveryBook(engine), settings.letters_dir, opt_out=no_replies)
    count = asyncio.run(import_receipts(channel, receipts))
    print(f"{count} receipts imported from {args.file}")
    return 0
