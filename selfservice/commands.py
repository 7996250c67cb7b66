"""CLI: `cobrador portal identities FILE.csv` (the identity check's keyed hashes),
`cobrador portal attach REF FILE` (a document a disputing debtor may download),
`cobrador portal unlock REF` (a way in locked by wrong answers). A signed link to send
by hand: `cobrador outreach link REF --url ...`."""

from __future__ import annotations

import argparse
import csv
import itertools
import mimetypes
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings
from store.importing.csv_source import MAX_LINE_CHARS, LineTooLong, bounded_lines

MAX_ROWS = 5_000_000
TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".txt": "text/plain"}  # fmt: skip


def register(subparsers: Any) -> None:
    portal = subparsers.add_parser("portal", help="the debtors' self-service portal")
    sub = portal.add_subparsers(dest="portal_command", metavar="ACTION", required=True)
    ids = sub.add_parser(
        "identities",
        help="import the identity check's answers: a CSV (comma or semicolon) with "
        "external_ref,document; only "
        "a keyed hash of the document's last 4 digits is stored (all rows or none)",
    )
    ids.add_argument("file", type=Path, metavar="FILE.csv")
    ids.add_argument("--by", default="operator", help="who imports it (for the audit log)")
    ids.set_defaults(func=_identities)
    attach = sub.add_parser("attach", help="attach a document (PDF, PNG, JPEG, text) to an "
                            "account: a debtor who disputes the debt downloads it")  # fmt: skip
    attach.add_argument("account", metavar="REF")
    attach.add_argument("file", type=Path)
    attach.add_argument("--title", required=True, help="what the debtor reads, e.g. Contrato")
    attach.add_argument("--by", default="operator", help="who attaches it (for the audit log)")
    attach.set_defaults(func=_attach)
    unlock = sub.add_parser("unlock", help="lift the lock of an account's reference way in "
                            "(or of one link: --token) after the debtor was identified")  # fmt: skip
    unlock.add_argument("account", metavar="REF")
    unlock.add_argument("--token", help="the locked link's token (the part after /p/)")
    unlock.add_argument("--by", required=True, help="who lifts it (for the audit log)")
    unlock.set_defaults(func=_unlock)


def _key(settings: Settings) -> bytes:
    """The identity check's hash key: portal_identity_key, else the one kept in the data
    dir (the demo's: cobrador/ground/kept_keys.py), so identities imported on the demo's
    data dir are the ones its portal checks."""
    from cobrador.ground.kept_keys import PORTAL_IDENTITY, key_path, with_kept_keys
    from selfservice.identity import IdentityError, identity_key

    encoded = with_kept_keys(settings).portal_identity_key
    if not encoded:
        raise UserError(
            f"portal_identity_key is not set, nor kept in "
            f"{key_path(settings.data_dir, PORTAL_IDENTITY)} (where the demo keeps its own): "
            "no identity can be hashed. Set COBRADOR_PORTAL_IDENTITY_KEY to the console's "
            "portal_identity_key (32+ bytes, base64), or COBRADOR_DATA_DIR to the demo's data dir"
        )
    try:
        return identity_key(encoded)
    except IdentityError as exc:
        raise UserError(str(exc)) from exc


def read_identities(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, external_ref, document) of each row; UserError for a file not in shape."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        # Every line read to a bound, the header's too: a file with no line ends is
        # not read whole.
        lines = bounded_lines(handle)
        try:
            first = next(lines, "")
            delimiter = ";" if first.count(";") > first.count(",") else ","
            reader = csv.DictReader(itertools.chain([first], lines), delimiter=delimiter)
            if not reader.fieldnames or not {"external_ref", "document"} <= set(reader.fieldnames):
                raise UserError(f"{path}: the header must name external_ref and document")
            for number, row in enumerate(reader, start=2):
                if number > MAX_ROWS:
                    raise UserError(f"{path}: more than {MAX_ROWS} rows; split the file")
                yield number, str(row.get("external_ref") or ""), str(row.get("document") or "")
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: not a UTF-8 CSV file ({exc})") from exc
        except LineTooLong:
            raise UserError(f"{path}: a line over {MAX_LINE_CHARS} characters") from None


def _identities(args: argparse.Namespace, settings: Settings) -> int:
    from selfservice.identity import import_identities
    from store.db import open_engine

    key = _key(settings)
    result = import_identities(open_engine(settings), list(read_identities(args.file)), key,
                               args.by, datetime.now(UTC))  # fmt: skip
    if result.errors:
        shown = "\n".join(result.errors[:50])
        more = f"\n... and {len(result.errors) - 50} more" if len(result.errors) > 50 else ""
        raise UserError(f"nothing imported; fix these rows:\n{shown}{more}")
    print(f"{result.stored} identities stored (keyed hashes only)")
    return 0


def _attach(args: argparse.Namespace, settings: Settings) -> int:
    from selfservice.debtor_actions import MAX_DOCUMENT_BYTES, attach_document
    from store.db import open_engine

    path: Path = args.file
    kind = TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or ""
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise UserError(f"{path} is larger than {MAX_DOCUMENT_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        doc = attach_document(open_engine(settings), args.account, args.title, path.name, kind,
                              data, args.by, datetime.now(UTC))  # fmt: skip
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    print(f"document {doc} attached to account {args.account}")
    return 0


def _unlock(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from selfservice.identity import link_gate, unlock, unlock_account_in
    from store.db import open_engine, transaction
    from store.models import Account

    engine = open_engine(settings)
    with transaction(engine) as session:
        account_id = session.scalar(select(Account.id).where(Account.external_ref == args.account))
    if account_id is None:
        raise UserError(f"no account {args.account!r}")
    now = datetime.now(UTC)
    if args.token:
        unlocked = unlock(engine, link_gate(args.token), args.by[:80], now)
    else:  # the account's reference: its shared row and its anonymous path's
        with transaction(engine) as session:
            unlocked = unlock_account_in(session, account_id, args.by[:80], now)
    if not unlocked:
        raise UserError("that way in is not locked")
    print("unlocked")
    return 0
