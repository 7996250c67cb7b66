"""The integrator: gives queued audit entries their leaf indexes and stores the
tree above them. One process at a time (an advisory lock of its own, never
taken by the writers of entries, so the pop and recording paths do not wait)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, delete, insert, select

from compliance.transparency import tree_store
from store.audit import entry_leaf_hash
from store.models import AuditEntry, AuditLeaf, AuditNode, AuditPending

BATCH = 20_000


@dataclass(frozen=True)
class Integrated:
    before: int
    after: int

    @property
    def added(self) -> int:
        return self.after - self.before


def integrate(engine: Engine, *, batch: int = BATCH, wait: bool = True) -> Integrated | None:
    """Integrate every committed entry in the queue, in entry id order per batch.

    None when another process holds the integrator's lock and `wait` is False.
    """
    entries = cast(Table, AuditEntry.__table__)
    pending = cast(Table, AuditPending.__table__)
    before: int | None = None
    with engine.connect() as conn:  # idle most seconds: no write lock for nothing
        if conn.execute(select(pending.c.entry_id).limit(1)).first() is None:
            size = tree_store.tree_size(conn)
            return Integrated(size, size)
    while True:
        with engine.begin() as conn:
            if not tree_store.lock_for_integration(conn, wait=wait):
                return None
            size = tree_store.tree_size(conn)
            before = size if before is None else before
            # One read: the queue joined with its entries, and whether an entry
            # is somehow in the tree already (then it only leaves the queue).
            rows = conn.execute(
                select(pending.c.entry_id, entries, AuditLeaf.leaf_index.label("in_tree"))
                .join(entries, entries.c.id == pending.c.entry_id, isouter=True)
                .join(AuditLeaf, AuditLeaf.entry_id == pending.c.entry_id, isouter=True)
                .order_by(pending.c.entry_id)
                .limit(batch)
            ).all()  # fmt: skip
            if not rows:
                return Integrated(before, size)
            front = tree_store.frontier(conn, size)
            leaves: list[dict[str, Any]] = []
            nodes: list[dict[str, Any]] = []
            for row in rows:
                if row.id is None or row.in_tree is not None:
                    continue
                h = entry_leaf_hash(row)
                leaves.append({"leaf_index": front.size, "entry_id": row.id, "leaf_hash": h})
                nodes.extend(
                    {"level": level, "idx": idx, "hash": value}
                    for level, idx, value in front.append(h)
                )
            if leaves:
                conn.execute(insert(AuditLeaf), leaves)
            if nodes:
                conn.execute(insert(AuditNode), nodes)
            # Exactly the rows read: an entry committed meanwhile stays queued.
            conn.execute(
                delete(pending).where(pending.c.entry_id == bindparam("done")),
                [{"done": row.entry_id} for row in rows],
            )
            after = front.size
        if len(rows) < batch:
            return Integrated(before, after)
