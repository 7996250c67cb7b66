"""The Merkle tree of the audit log as SQL keeps it: leaves (audit_leaves) and
the perfect subtrees above them (audit_nodes), read as RFC 9162 subtree hashes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, and_, func, or_, select, text

from compliance.transparency import merkle
from store.models import AuditLeaf, AuditNode

# pg_advisory_xact_lock key of the integrator: one process at a time gives
# leaf indexes. Writers of entries never take it.
INTEGRATOR_LOCK_KEY = 0x636F62_6D6B6C  # "cob" "mkl"

T = TypeVar("T")


class TreeError(RuntimeError):
    """The stored tree lacks a node it should have (damaged or edited tables)."""


def tree_size(conn: Connection) -> int:
    last = conn.execute(select(func.max(AuditLeaf.leaf_index))).scalar_one_or_none()
    return 0 if last is None else int(last) + 1


def read_pieces(conn: Connection, pieces: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The hashes of perfect subtrees (level, index): level 0 from the leaves."""
    found: dict[tuple[int, int], bytes] = {}
    leaves = [idx for level, idx in pieces if level == 0]
    nodes = [(level, idx) for level, idx in pieces if level > 0]
    if leaves:
        rows = conn.execute(
            select(AuditLeaf.leaf_index, AuditLeaf.leaf_hash).where(
                AuditLeaf.leaf_index.in_(leaves)
            )
        )
        found.update({(0, int(i)): bytes(h) for i, h in rows})
    if nodes:
        # One `level = ? AND idx IN (...)` per level, not a row-value IN: SQLite
        # answers the former from the primary key and scans the table for the latter.
        by_level: dict[int, list[int]] = {}
        for level, idx in nodes:
            by_level.setdefault(level, []).append(idx)
        node_rows = conn.execute(
            select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(
                or_(*(and_(AuditNode.level == lv, AuditNode.idx.in_(ix))
                      for lv, ix in by_level.items()))
            )
        )  # fmt: skip
        found.update({(int(lv), int(i)): bytes(h) for lv, i, h in node_rows})
    missing = [p for p in pieces if p not in found]
    if missing:
        raise TreeError(f"the stored tree lacks subtree(s) {missing[:5]} (tables damaged)")
    return found


def frontier(conn: Connection, size: int) -> merkle.Frontier:
    positions = merkle.frontier_positions(size)
    found = read_pieces(conn, positions)
    return merkle.Frontier.restore(size, [found[p] for p in positions])


def root_at(conn: Connection, size: int) -> bytes:
    return frontier(conn, size).root()


def prefetched(conn: Connection, proof: Callable[[merkle.SubtreeHash], T]) -> T:
    """Run a proof generator with every subtree it needs read in one or two queries.

    Which subtrees a proof reads depends only on the index and sizes, never on
    the hashes, so a dry run with placeholder hashes lists them all first.
    """
    wanted: dict[tuple[int, int], None] = {}

    def record(start: int, end: int) -> bytes:
        wanted.update(dict.fromkeys(merkle.perfect_ranges(start, end)))
        return bytes(merkle.HASH_SIZE)

    proof(record)
    found = read_pieces(conn, list(wanted)) if wanted else {}
    return proof(
        lambda start, end: merkle.fold_right([found[p] for p in merkle.perfect_ranges(start, end)])
    )


def lock_for_integration(conn: Connection, *, wait: bool) -> bool:
    """Take the integrator's lock for this transaction; False if busy and not waiting."""
    if conn.dialect.name == "postgresql":
        if wait:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INTEGRATOR_LOCK_KEY})
            return True
        return bool(
            conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": INTEGRATOR_LOCK_KEY}
            ).scalar_one()
        )
    # SQLite has one writer: a write that touches no row takes the write lock now.
    conn.execute(text("UPDATE audit_nodes SET level = level WHERE 0"))
    return True
