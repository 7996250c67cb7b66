"""The dialer's audit-log upkeep: integrate queued entries every second, sign a
checkpoint when one is due, hand it to every witness, and keep the metrics
(pending entries, tree size, checkpoint age per witness, witness failures)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from compliance.transparency import tree_store
from compliance.transparency.checkpointer import Checkpointer, WitnessOutcome, latest
from compliance.transparency.integrator import integrate
from metrics import definitions as m
from store.models import AuditCheckpoint, AuditPending, AuditWitnessState

log = logging.getLogger(__name__)


def witness_labels(names: Sequence[str]) -> dict[str, str]:
    """Bounded metric labels for witness names (which carry paths and URLs)."""
    out = {}
    http = 0
    for name in names:
        if name.startswith("dir:"):
            out[name] = "directory"
        else:
            http += 1
            out[name] = f"http_{http}"
    return out


class AuditLogKeeper:
    def __init__(self, engine: Engine, checkpointer: Checkpointer, *, every: float = 1.0) -> None:
        self.engine = engine
        self.checkpointer = checkpointer
        self.every = every
        self.labels = witness_labels([w.name for w in checkpointer.witnesses])
        checkpointer.on_outcome = self._count
        for label in self.labels.values():  # every witness's series exists from the start, at 0
            m.AUDIT_WITNESS_FAILURES.labels(witness=label)

    def _count(self, outcome: WitnessOutcome) -> None:
        if outcome.error is not None:
            m.AUDIT_WITNESS_FAILURES.labels(witness=self.labels[outcome.witness]).inc()

    def run_once(self) -> None:
        integrate(self.engine, wait=False)
        self.checkpointer.run_once()
        self._observe()

    def _observe(self) -> None:
        from sqlalchemy.orm import Session

        with Session(self.engine) as session:
            m.AUDIT_PENDING.set(session.scalar(select(func.count()).select_from(AuditPending)) or 0)
            m.AUDIT_LOG_SIZE.set(tree_store.tree_size(session.connection()))
            newest = latest(session)
            if newest is not None:
                m.AUDIT_CHECKPOINT_AGE.mark(newest.signed_at.timestamp(), witness="database")
            for state in session.scalars(select(AuditWitnessState)):
                label = self.labels.get(state.witness)
                if label is None or state.last_seq is None:
                    continue
                held = session.get(AuditCheckpoint, state.last_seq)
                if held is not None:
                    m.AUDIT_CHECKPOINT_AGE.mark(held.signed_at.timestamp(), witness=label)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("audit log upkeep failed: %s; tried again", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every)
