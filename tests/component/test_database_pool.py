"""A PostgreSQL test database handed to the next test (tests/support/database_pool.py):
it shows no row of the test before, its ids start from 1 again, and one whose schema
or alembic_version a test changed is refused for reuse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool
from support.database_pool import Template, describe, reset

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="the pool is PostgreSQL's (DATABASE_URL)"
)

SCHEMA = [
    "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
    "INSERT INTO alembic_version VALUES ('0030')",
    "CREATE TABLE parents (id serial PRIMARY KEY, name text NOT NULL)",
    "CREATE TABLE children (id bigserial PRIMARY KEY,"
    " parent_id integer NOT NULL REFERENCES parents (id))",
    "CREATE TABLE notes (body text)",  # never written: left as it is
]


@pytest.fixture
def pooled(_databases: Any) -> Iterator[tuple[Connection, Template]]:
    """A database of its own with a small schema, described as a template is."""
    url = _databases.create(migrated=False)
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for sql in SCHEMA:
                conn.execute(text(sql))
            yield conn, describe(conn)
    finally:
        engine.dispose()
        _databases.drop(url)


def fill(conn: Connection) -> None:
    conn.execute(text("INSERT INTO parents (name) VALUES ('ana'), ('luis')"))
    conn.execute(text("INSERT INTO children (parent_id) SELECT id FROM parents"))


def test_given_rows_and_used_ids_when_reset_then_no_row_is_left_and_ids_start_again(
    pooled: tuple[Connection, Template],
) -> None:
    conn, template = pooled
    fill(conn)
    assert reset(conn, template) is None
    assert conn.execute(text("SELECT count(*) FROM parents")).scalar_one() == 0
    assert conn.execute(text("SELECT count(*) FROM children")).scalar_one() == 0
    fill(conn)  # as on a fresh copy: the first rows get ids 1 and 2
    assert conn.execute(text("SELECT id FROM parents ORDER BY id")).scalars().all() == [1, 2]
    assert conn.execute(text("SELECT id FROM children ORDER BY id")).scalars().all() == [1, 2]
    assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0030"


def test_given_a_connection_a_test_left_open_when_reset_then_it_is_ended(
    pooled: tuple[Connection, Template],
) -> None:
    conn, template = pooled
    url = conn.engine.url
    left = create_engine(url, poolclass=NullPool).connect()
    try:
        left.execute(text("INSERT INTO parents (name) VALUES ('ana')"))  # uncommitted: a lock
        assert reset(conn, template) is None
        others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        assert conn.execute(text(others)).scalar_one() == 1
    finally:
        left.invalidate()
    assert conn.execute(text("SELECT count(*) FROM parents")).scalar_one() == 0


@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE parents ADD COLUMN born date",
        "ALTER TABLE children ALTER COLUMN parent_id DROP NOT NULL",
        "CREATE INDEX ix_parents_name ON parents (name)",
        "DROP TABLE notes",
        "CREATE TABLE extra (id integer)",
        "CREATE TYPE mood AS ENUM ('calm')",
    ],
)
def test_given_a_schema_a_test_changed_when_reset_then_the_database_is_refused(
    pooled: tuple[Connection, Template], change: str
) -> None:
    conn, template = pooled
    conn.execute(text(change))
    assert reset(conn, template) == "its schema changed"


def test_given_alembic_version_stamped_elsewhere_when_reset_then_the_database_is_refused(
    pooled: tuple[Connection, Template],
) -> None:
    conn, template = pooled
    conn.execute(text("UPDATE alembic_version SET version_num = '0012'"))
    assert reset(conn, template) == "its alembic_version changed"


def test_given_a_template_that_holds_rows_then_describing_it_fails(
    pooled: tuple[Connection, Template],
) -> None:
    # A migration that seeds rows would have them deleted by every reset.
    conn, _ = pooled
    fill(conn)
    with pytest.raises(RuntimeError, match="holds rows"):
        describe(conn)
