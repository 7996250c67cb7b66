"""A first import into an empty accounts table, on PostgreSQL: the secondary
indexes and the phones' foreign key are dropped inside the import's transaction
and built again at its end, from their own definitions (one sort per index and
one check of every phone's account cost less than maintaining them row by row).

The DDL is part of the transaction: a rollback brings every index and constraint
back as it was. The tables are locked (ACCESS EXCLUSIVE) until the import
commits: other sessions wait to read accounts and phones, which are empty
anyway. When the lock cannot be had within a moment, the table is not empty, or
the user may not alter the tables, the import takes the ordinary path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

TABLES = ("accounts", "phones")
LOCK_TIMEOUT = "2s"  # a dialer or console reading the tables holds the lock that long at most

# Indexes that enforce nothing (not unique, not a primary key), with their definitions.
_PLAIN_INDEXES = text("""
    SELECT c.relname, pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = CAST(:table AS regclass) AND NOT i.indisunique AND NOT i.indisprimary
    ORDER BY c.relname
""")
# Foreign keys of the phones table that point at accounts.
_FOREIGN_KEYS = text("""
    SELECT conname, pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE conrelid = CAST('phones' AS regclass) AND confrelid = CAST('accounts' AS regclass)
      AND contype = 'f'
    ORDER BY conname
""")


@dataclass
class FreshLoad:
    """What was dropped, to be built again before the import commits."""

    indexes: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE INDEX ...)
    foreign_keys: list[tuple[str, str]] = field(default_factory=list)  # (name, definition)

    def rebuild(self, session: Session) -> None:
        for _, definition in self.indexes:
            session.execute(text(definition))
        for name, definition in self.foreign_keys:
            session.execute(text(f'ALTER TABLE phones ADD CONSTRAINT "{name}" {definition}'))


def begin_fresh_load(session: Session) -> FreshLoad | None:
    """In the import's transaction, before it writes: when accounts is empty, lock
    accounts and phones, drop their plain indexes and the phones' foreign key, and
    say what to build again; else (or when that cannot be done) None, nothing changed."""
    savepoint = session.begin_nested()
    try:
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        session.execute(text("LOCK TABLE accounts, phones IN ACCESS EXCLUSIVE MODE"))
        if session.execute(text("SELECT EXISTS (SELECT 1 FROM accounts)")).scalar_one():
            savepoint.rollback()  # releases the lock and the timeout
            return None
        load = FreshLoad()
        for table in TABLES:
            load.indexes += [tuple(r) for r in session.execute(_PLAIN_INDEXES, {"table": table})]  # type: ignore[misc]
        load.foreign_keys = [tuple(r) for r in session.execute(_FOREIGN_KEYS)]  # type: ignore[misc]
        for name, _ in load.indexes:
            session.execute(text(f'DROP INDEX "{name}"'))
        for name, _ in load.foreign_keys:
            session.execute(text(f'ALTER TABLE phones DROP CONSTRAINT "{name}"'))
        session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
        savepoint.commit()
        log.info("empty accounts table: %d indexes and %d foreign keys built after loading",
                 len(load.indexes), len(load.foreign_keys))  # fmt: skip
        return load
    except DBAPIError as exc:  # lock not granted in time, not the tables' owner...
        savepoint.rollback()
        log.info("import takes the ordinary path: %s", exc.orig)
        return None
