"""CLI commands of the store: `db upgrade` and the CSV imports."""

from __future__ import annotations

import argparse
from typing import Any

from cobrador.settings import Settings


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    up.set_defaults(func=_db_upgrade)


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.runtime import open_engine
    from store.migrate import current_revision

    engine = open_engine(settings, migrate=True)
    print(f"database at revision {current_revision(engine)}")
    return 0
