"""The integrator: every committed entry gets exactly one leaf, in queue order,
whatever order the writers' transactions commit in; the tree it stores gives
the same roots as the RFC's definition."""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from compliance.transparency import merkle, tree_store
from compliance.transparency.integrator import integrate
from store.audit import append, entry_leaf_hash
from store.db import transaction
from store.models import AuditEntry, AuditLeaf, AuditPending


def test_given_a_transaction_that_commits_late_then_its_entry_joins_the_tree_later(
    engine: Engine,
) -> None:
    if engine.dialect.name == "postgresql":
        # Real concurrency: a writer holding a smaller id commits after another.
        late = Session(engine)
        late.begin()
        early_id = append(late, "decision", {"who": "late writer"}).id
        with transaction(engine) as session:
            append(session, "decision", {"who": "quick writer"})
        assert integrate(engine, wait=False) is not None
        with engine.connect() as conn:
            assert tree_store.tree_size(conn) == 1
        late.commit()
        late.close()
    else:
        # SQLite has one writer at a time: the late commit is its queue row
        # appearing only after the integrator's first pass.
        with transaction(engine) as session:
            early_id = append(session, "decision", {"who": "late writer"}).id
            append(session, "decision", {"who": "quick writer"})
        with engine.begin() as conn:
            conn.execute(delete(AuditPending).where(AuditPending.entry_id == early_id))
        assert integrate(engine, wait=False) is not None
        with engine.begin() as conn:
            assert tree_store.tree_size(conn) == 1
            conn.execute(insert(AuditPending).values(entry_id=early_id))
    done = integrate(engine)
    assert done is not None and done.added == 1
    with engine.connect() as conn:
        order = list(
            conn.execute(select(AuditLeaf.entry_id).order_by(AuditLeaf.leaf_index)).scalars()
        )
        assert order[1] == early_id
        assert conn.execute(select(func.count()).select_from(AuditPending)).scalar_one() == 0


def test_given_many_batches_then_the_stored_tree_gives_the_rfc_root_at_every_size(
    engine: Engine,
) -> None:
    with transaction(engine) as session:
        for i in range(37):
            append(session, "decision", {"i": i})
    assert integrate(engine, batch=5) is not None
    assert integrate(engine) is not None  # nothing left: a no-op
    with engine.connect() as conn:
        table = AuditEntry.__table__
        rows = conn.execute(
            select(table)
            .join(AuditLeaf, AuditLeaf.entry_id == table.c.id)
            .order_by(AuditLeaf.leaf_index)
        ).all()
        leaves = [entry_leaf_hash(r) for r in rows]
        assert len(leaves) == 37
        for size in (0, 1, 2, 5, 16, 31, 37):
            assert tree_store.root_at(conn, size) == merkle.root_of(leaves[:size])
