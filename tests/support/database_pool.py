"""Migrated PostgreSQL test databases handed from one test to the next (tests/conftest.py).

A copy of the migrated template is some 540 files, and its DROP waits for a checkpoint
that fsyncs them (tests/support/database_drops.py): one database a test cost the unit
tier minutes. A worker therefore keeps the migrated database a test is done with and
empties it for the next one. `Resetter.reset` ends every connection still on it,
checks that its schema is still the template's (a test that migrated, altered or
stamped it gets its database dropped, never reused), deletes the rows of every table
that holds any, restarts the sequences that were used, and checks that no table holds
a row: the next test sees what a fresh copy of the template would show (the schema,
alembic_version, no rows, ids from 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

# Every schema but PostgreSQL's own (pg_catalog, pg_toast, a session's pg_temp_N).
USER_SCHEMA = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
USER_SCHEMAS = f"(SELECT n.oid FROM pg_namespace n WHERE {USER_SCHEMA})"

# What a test may change besides rows, in one digest: schemas, relations, columns and
# their defaults, constraints, indexes, triggers, functions, types and enum labels,
# extensions, large objects, the database's settings and prepared transactions.
FINGERPRINT = f"""
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
  SELECT 'n ' || n.nspname FROM pg_namespace n WHERE {USER_SCHEMA}
  UNION ALL
  SELECT 'c ' || c.oid::regclass::text || ' ' || c.relkind::text
              || c.relpersistence::text || c.relrowsecurity::text
    FROM pg_class c WHERE c.relnamespace IN {USER_SCHEMAS}
  UNION ALL
  SELECT 'a ' || a.attrelid::regclass::text || '.' || a.attname || ' '
              || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
              || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace IN {USER_SCHEMAS} AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'k ' || k.conrelid::regclass::text || ' ' || k.conname || ' '
              || pg_get_constraintdef(k.oid)
    FROM pg_constraint k WHERE k.connamespace IN {USER_SCHEMAS}
  UNION ALL
  SELECT 'i ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE c.relnamespace IN {USER_SCHEMAS}
  UNION ALL
  SELECT 't ' || t.tgrelid::regclass::text || ' ' || t.tgname || ' ' || t.tgenabled::text
    FROM pg_trigger t WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'f ' || p.oid::regprocedure::text || ' ' || md5(coalesce(p.prosrc, ''))
    FROM pg_proc p WHERE p.pronamespace IN {USER_SCHEMAS}
  UNION ALL
  SELECT 'y ' || t.oid::regtype::text FROM pg_type t WHERE t.typnamespace IN {USER_SCHEMAS}
  UNION ALL
  SELECT 'e ' || e.enumtypid::regtype::text || ' ' || e.enumlabel FROM pg_enum e
  UNION ALL
  SELECT 'x ' || x.extname || ' ' || x.extversion FROM pg_extension x
  UNION ALL
  SELECT 'l ' || count(*) FROM pg_largeobject_metadata
  UNION ALL
  SELECT 's ' || array_to_string(s.setconfig, ',') FROM pg_db_role_setting s
   WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT 'p ' || count(*) FROM pg_prepared_xacts x WHERE x.database = current_database()
) AS schema(item)
"""

# Every table but alembic_version, quoted for SQL and as a literal.
TABLES = f"""
SELECT format('%I.%I', n.nspname, c.relname), quote_literal(format('%I.%I', n.nspname, c.relname))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND {USER_SCHEMA} AND c.oid <> to_regclass('public.alembic_version')
 ORDER BY 1
"""

# Ends every other connection to this database, waiting up to 5 s for each to go (a
# test's engine left open, a subprocess's pool). Its result is not read: a backend
# that exits on its own between the listing and the signal answers false (it was
# counted as one that did not end, and a clean database was dropped); `CONNECTED`
# then says whether any is left.
TERMINATE = """
SELECT pg_terminate_backend(pid, 5000)
  FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
"""
CONNECTED = """
SELECT count(*) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
"""

RESTART_SEQUENCES = """
SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)
  FROM pg_sequences
 WHERE last_value IS NOT NULL AND schemaname <> 'information_schema'
   AND schemaname NOT LIKE 'pg\\_%'
"""


@dataclass(frozen=True)
class Template:
    """What a fresh copy of the migrated template holds besides its tables' rows."""

    fingerprint: str
    revision: tuple[str, ...]
    tables: tuple[tuple[str, str], ...]  # (identifier, literal)


def describe(conn: Connection) -> Template:
    """The template as a fresh copy of it shows it (conn: AUTOCOMMIT)."""
    tables = tuple((ident, literal) for ident, literal in conn.execute(text(TABLES)))
    if any(filled_tables(conn, tables)):
        raise RuntimeError("the migrated template holds rows: a reset would delete them")
    return Template(fingerprint=fingerprint(conn), revision=revision(conn), tables=tables)


def fingerprint(conn: Connection) -> str:
    return str(conn.execute(text(FINGERPRINT)).scalar_one())


def revision(conn: Connection) -> tuple[str, ...]:
    return tuple(
        sorted(v for (v,) in conn.execute(text("SELECT version_num FROM alembic_version")))
    )


def filled_tables(conn: Connection, tables: tuple[tuple[str, str], ...]) -> list[str]:
    """The tables that hold at least one row, in one round trip."""
    if not tables:
        return []
    probe = " UNION ALL ".join(
        f"SELECT {literal} WHERE EXISTS (SELECT 1 FROM {ident})" for ident, literal in tables
    )
    return [name for (name,) in conn.execute(text(probe))]


def reset(conn: Connection, template: Template) -> str | None:
    """Empty the database of `conn` (AUTOCOMMIT) for the next test: None when it now
    shows what a fresh copy of the template would, else why it must be dropped."""
    conn.execute(text(TERMINATE))
    if conn.execute(text(CONNECTED)).scalar_one():
        return "a connection did not end"
    conn.execute(text("SET lock_timeout = '5s'"))
    if fingerprint(conn) != template.fingerprint:
        return "its schema changed"
    if revision(conn) != template.revision:
        return "its alembic_version changed"
    filled = filled_tables(conn, template.tables)
    if filled:
        # DELETE, not TRUNCATE: a truncated table gets new files, which the next
        # checkpoint fsyncs; the few rows a test writes are cheaper to delete. The
        # replica role (a superuser's, as CI's) skips foreign keys and triggers, so
        # any order does; without it TRUNCATE ... CASCADE empties them.
        try:
            conn.execute(text("SET session_replication_role = replica"))
        except DBAPIError:
            conn.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))
        else:
            for ident in filled:
                conn.execute(text(f"DELETE FROM {ident}"))
            conn.execute(text("RESET session_replication_role"))
    conn.execute(text(RESTART_SEQUENCES))
    if filled_tables(conn, template.tables):
        return "rows came back"
    return None
