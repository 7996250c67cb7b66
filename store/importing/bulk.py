"""Fast bulk inserts: PostgreSQL's COPY where available, multi-row INSERTs elsewhere.

A million-row import spends most of its time here otherwise: psycopg parses a
multi-row INSERT's placeholders again for every batch, COPY streams rows as-is.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Connection, Table, insert, literal, text
from sqlalchemy import any_ as sa_any
from sqlalchemy.orm import Session


def any_of(column: Any, values: list[Any], on: Session | Connection) -> ColumnElement[bool]:
    """`column IN values`, as one array parameter on PostgreSQL (a 2,000-item
    IN list costs more to compile and parse than the query costs to run)."""
    dialect = on.dialect if isinstance(on, Connection) else on.get_bind().dialect
    if dialect.name == "postgresql":
        return column == sa_any(literal(values, ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, table, rows)
    else:
        conn.execute(insert(table), rows)


def insert_returning_ids(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows and return their new ids in the rows' order."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        ids = reserve_ids(conn, table, len(rows))
        _copy(conn, table, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
        return ids
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(conn.execute(stmt, rows).scalars())


def id_sequence(conn: Connection, table: Table) -> str:
    """The name of the sequence the table's ids come from (PostgreSQL)."""
    return str(conn.execute(
        text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
    ).scalar_one())  # fmt: skip


def reserve_ids(
    conn: Connection, table: Table, count: int, sequence: str | None = None
) -> list[int]:
    """`count` new ids from the table's sequence (PostgreSQL), in one array."""
    seq = sequence or id_sequence(conn, table)
    return list(conn.execute(
        text("SELECT array_agg(nextval(:seq)) FROM generate_series(1, :n)"), {"seq": seq, "n": count}
    ).scalar_one())  # fmt: skip


def copy_encoded_rows(conn: Connection, table: Table, columns: list[str], data: str) -> None:
    """COPY rows already encoded as COPY text lines (see copy_text.py) into the table."""
    cursor_owner = conn.connection.driver_connection
    assert cursor_owner is not None
    quoted = ", ".join(f'"{c}"' for c in columns)
    with (
        cursor_owner.cursor() as cur,
        cur.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
    ):
        copy.write(data)


def _copy(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    json_columns = {c for c in columns if table.c[c].type.__class__.__name__ == "JSON"}
    cursor_owner = conn.connection.driver_connection
    assert cursor_owner is not None
    quoted = ", ".join(f'"{c}"' for c in columns)
    with (
        cursor_owner.cursor() as cur,
        cur.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
