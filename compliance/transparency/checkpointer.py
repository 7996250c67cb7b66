"""Makes signed checkpoints of the audit log's tree and hands them to every witness.

A checkpoint is due every `every_entries` new leaves or `every_seconds` (with
at least one new leaf), and once at the start (the empty tree, so a wipe
before the first entry is visible too). It is written to the database first,
then to each witness; a witness that fails is recorded (audit_witness_state),
counted in a metric and retried on the next pass with everything it lacks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.transparency import checkpoint as cp
from compliance.transparency import keys, tree_store
from compliance.transparency.witnesses import Witness, WitnessError
from store.models import AuditCheckpoint, AuditWitnessState

log = logging.getLogger(__name__)

CATCH_UP_LIMIT = 1000


@dataclass(frozen=True)
class WitnessOutcome:
    witness: str
    published: int
    error: str | None = None


def stored(row: AuditCheckpoint) -> cp.SignedCheckpoint:
    return cp.parse(row.body, row.signature)


def latest(session: Session) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)
    ).first()


@dataclass
class Checkpointer:
    engine: Engine
    key: Ed25519PrivateKey
    witnesses: Sequence[Witness]
    every_entries: int = 1000
    every_seconds: float = 60.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_outcome: Callable[[WitnessOutcome], None] | None = None

    def run_once(
        self, *, force: bool = False
    ) -> tuple[cp.SignedCheckpoint | None, list[WitnessOutcome]]:
        made = self.sign_if_due(force=force)
        return made, self.publish()

    def _due(self, session: Session, force: bool) -> bool:
        last = latest(session)
        if last is None:
            return True
        size = tree_store.tree_size(session.connection())
        grown = size - last.tree_size
        waited = (self.clock() - last.signed_at).total_seconds()
        if grown <= 0 and not (force and size >= last.tree_size):
            return False
        return force or grown >= self.every_entries or waited >= self.every_seconds

    def sign_if_due(self, *, force: bool = False) -> cp.SignedCheckpoint | None:
        # Read first, lock only when due: on SQLite the lock is the database's one
        # write lock, not to be taken every second for nothing.
        with Session(self.engine) as session:
            if not self._due(session, force):
                return None
        key_id = keys.key_id(self.key.public_key())
        with Session(self.engine) as session, session.begin():
            tree_store.lock_for_integration(session.connection(), wait=True)
            if not self._due(session, force):  # another process signed meanwhile
                return None
            last = latest(session)
            size = tree_store.tree_size(session.connection())
            now = self.clock()
            root = tree_store.root_at(session.connection(), size).hex()
            previous = cp.NO_PREVIOUS if last is None else cp.body_hash(last.body)
            seq = 0 if last is None else last.seq + 1
            signed = cp.sign(cp.Checkpoint(seq, size, root, now, previous, key_id), self.key)
            session.add(
                AuditCheckpoint(
                    seq=seq, tree_size=size, root=root, signed_at=now, key_id=key_id,
                    body=signed.body, signature=signed.signature,
                )
            )  # fmt: skip
        log.info("audit: checkpoint %d signed (tree size %d, root %s)", seq, size, root[:16])
        return signed

    def publish(self) -> list[WitnessOutcome]:
        """Give every witness the checkpoints it has not acknowledged yet, in order."""
        outcomes = []
        for witness in self.witnesses:
            outcome = self._publish_to(witness)
            outcomes.append(outcome)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        return outcomes

    def _publish_to(self, witness: Witness) -> WitnessOutcome:
        with Session(self.engine) as session:
            state = session.get(AuditWitnessState, witness.name)
            after = -1 if state is None or state.last_seq is None else state.last_seq
            rows = session.scalars(
                select(AuditCheckpoint)
                .where(AuditCheckpoint.seq > after)
                .order_by(AuditCheckpoint.seq)
                .limit(CATCH_UP_LIMIT)
            ).all()
        if not rows and (state is None or state.last_error is None) and after >= 0:
            return WitnessOutcome(witness.name, 0)  # nothing new, nothing to record
        published = 0
        error = None
        last_seq = after
        for row in rows:
            try:
                witness.publish(stored(row))
            except WitnessError as exc:
                error = str(exc)
                log.error("audit: witness %s refused checkpoint %d: %s", witness.name, row.seq, exc)
                break
            published += 1
            last_seq = row.seq
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            state = session.get(AuditWitnessState, witness.name)
            if state is None:
                state = AuditWitnessState(witness=witness.name)
                session.add(state)
            if published:
                state.last_seq = last_seq
                state.last_ok_at = now
            if error is not None:
                state.last_error = error[:500]
                state.last_error_at = now
            else:
                state.last_error = None
        return WitnessOutcome(witness.name, published, error)
