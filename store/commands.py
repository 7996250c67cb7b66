"""CLI commands of the store: `db upgrade` and the CSV imports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from cobrador.ground.settings import Settings

# Told the accounts a payments import made paid (their status is in SQL already),
# registered by the layers that act on it: the dialer hangs up their ringing calls.
PAID_HOOKS: list[Callable[[Settings, set[int]], None]] = []
# The debtor's date of an instant, by which a payments import keeps and breaks
# promises (store/plan_tracking.py DebtorDay): the store knows no zones, compliance
# registers its own (compliance/debtor_time.py account_day).
DEBTOR_DAY: list[Any] = []
# The same date from an account's time zone, country and region (before the account
# row exists), by which `cobrador import accounts` starts a new account's stage
# (store/importing/accounts.py DebtorDate; compliance/debtor_time.py debtor_day).
DEBTOR_DATE: list[Any] = []


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    up.set_defaults(func=_db_upgrade)

    imp = subparsers.add_parser("import", help="import accounts, contact history or payments (CSV)")
    imp_sub = imp.add_subparsers(dest="import_kind", metavar="KIND", required=True)
    acc = imp_sub.add_parser("accounts", help="accounts and their phones")
    acc.add_argument("file", type=Path)
    acc.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write the good rows; bad ones go to FILE.rejects.csv",
    )
    acc.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    acc.add_argument("--today", type=date.fromisoformat, help=argparse.SUPPRESS)
    acc.set_defaults(func=_import_accounts)
    att = imp_sub.add_parser("attempts", help="contact history from a previous system")
    att.add_argument("file", type=Path)
    att.add_argument("--skip-invalid", action="store_true")
    att.add_argument("--dry-run", action="store_true")
    att.set_defaults(func=_import_attempts)
    pay = imp_sub.add_parser("payments", help="payments: reduce balances, settle promises")
    pay.add_argument("file", type=Path)
    pay.add_argument("--skip-invalid", action="store_true")
    pay.add_argument("--dry-run", action="store_true")
    pay.set_defaults(func=_import_payments)


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from store.db import open_engine
    from store.migrate import current_revision

    engine = open_engine(settings, migrate=True)
    print(f"database at revision {current_revision(engine)}")
    return 0


def _finish(result: Any) -> int:
    from store.importing.report import print_errors

    if result.error_count:
        print_errors(result)
    print(result.summary())
    # Bad rows with nothing written (all-or-nothing, or a dry run) is exit 2;
    # with --skip-invalid the good rows are in and the rejects file says the rest.
    return 2 if result.error_count and not result.written else 0


def _run_import(args: argparse.Namespace, settings: Settings, fn: Any, **extra: Any) -> int:
    from cobrador.ground.errors import UserError
    from store.db import open_engine
    from store.importing.csv_source import ImportFileError

    engine = open_engine(settings)
    try:
        result = fn(engine, args.file, skip_invalid=args.skip_invalid, dry_run=args.dry_run,
                    progress_stream=sys.stderr, **extra)  # fmt: skip
    except ImportFileError as exc:
        raise UserError(str(exc)) from exc
    finally:
        engine.dispose()
    return _finish(result)


def _import_accounts(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.errors import UserError
    from store.importing.accounts import import_accounts

    if args.today is None and not DEBTOR_DATE:  # fails closed: never UTC's date
        raise UserError(
            "accounts not imported: no debtor's local date to count days past due by "
            "(compliance.commands registers it; run the full `cobrador` command)"
        )
    return _run_import(args, settings, import_accounts, today=args.today,
                       debtor_day=DEBTOR_DATE[0] if DEBTOR_DATE else None)  # fmt: skip


def _import_attempts(args: argparse.Namespace, settings: Settings) -> int:
    from store.importing.attempts import import_attempts

    return _run_import(args, settings, import_attempts)


def _import_payments(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.errors import UserError
    from store.importing.payments import import_payments

    def on_paid(account_ids: set[int]) -> None:
        for hook in PAID_HOOKS:
            hook(settings, account_ids)

    if not DEBTOR_DAY:  # fails closed: never a promise broken by UTC's date
        raise UserError(
            "payments not imported: no debtor's local date to keep and break promises by "
            "(compliance.commands registers it; run the full `cobrador` command)"
        )
    return _run_import(args, settings, import_payments, on_paid=on_paid,
                       debtor_day=DEBTOR_DAY[0])  # fmt: skip
