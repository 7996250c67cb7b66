"""Verifies the audit log against the signed checkpoints the witnesses keep.

Every entry's leaf is recomputed from its content and the tree is rebuilt
from them; its root must match every signed checkpoint, the checkpoints must
verify with a trusted key and link to each other, and no witness may hold a
checkpoint the log can no longer reach. Each problem is a Finding with a
stable code and a message that says what, where and since which checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, exists, func, select

from compliance.transparency import checkpoint as cp
from compliance.transparency import keys, merkle, tree_store
from compliance.transparency.witnesses import DirectoryWitness, Witness, WitnessError
from store.audit import AuditError, entry_leaf_hash
from store.models import (
    AuditCheckpoint,
    AuditEntry,
    AuditLeaf,
    AuditPending,
    AuditWitnessState,
)

DATABASE = "database"
PAGE = 5000


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    entry_id: int | None = None
    leaf_index: int | None = None
    seq: int | None = None
    # False: the verification could not be completed (a witness unreachable);
    # True: evidence of tampering.
    tampering: bool = True
    source: str | None = None  # the database or the witness it concerns, if one


@dataclass
class Source:
    """Checkpoints as one place holds them: the database or a witness."""

    name: str
    valid: dict[int, cp.SignedCheckpoint] = field(default_factory=dict)
    location: dict[int, str] = field(default_factory=dict)
    # The highest checkpoint number it holds at all (valid or not): a witness
    # whose lines were re-signed or edited has not lost them.
    highest: int = -1

    @property
    def latest(self) -> cp.SignedCheckpoint | None:
        return self.valid[max(self.valid)] if self.valid else None


@dataclass
class Report:
    entries: int = 0
    tree_size: int = 0
    pending: int = 0
    findings: list[Finding] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    trusted_key_ids: list[str] = field(default_factory=list)
    root: str = merkle.EMPTY_ROOT.hex()

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def tampered(self) -> bool:
        return any(f.tampering for f in self.findings)

    @property
    def latest(self) -> cp.SignedCheckpoint | None:
        best = None
        for source in self.sources:
            if source.latest and (
                best is None or source.latest.checkpoint.seq > best.checkpoint.seq
            ):
                best = source.latest
        return best

    def add(self, code: str, message: str, **where: Any) -> None:
        self.findings.append(Finding(code, message, **where))


def _when(signed: cp.SignedCheckpoint) -> str:
    return signed.checkpoint.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _name(signed: cp.SignedCheckpoint) -> str:
    c = signed.checkpoint
    return f"checkpoint #{c.seq} (tree size {c.tree_size}, signed {_when(signed)})"


def _check_records(
    report: Report,
    source_name: str,
    records: Sequence[tuple[str, cp.SignedCheckpoint | None, str | None]],
    trusted: dict[str, Ed25519PublicKey] | None,
) -> Source:
    """Signatures and links of one source's checkpoints; the valid ones are returned."""
    source = Source(source_name)
    is_witness = source_name != DATABASE

    def add(code: str, message: str, **where: Any) -> None:
        report.add(code, message, source=source_name, **where)

    untrusted: list[tuple[str, cp.SignedCheckpoint]] = []
    highest = -1
    for location, signed, error in records:
        if signed is not None:
            highest = max(highest, signed.checkpoint.seq)
        if signed is None:
            add(
                "witness_edited" if is_witness else "checkpoint_edited",
                f"{source_name} {location}: not a readable checkpoint ({error}): the "
                "witness file was edited",
            )
            continue
        c = signed.checkpoint
        if trusted is not None:
            key = trusted.get(c.key_id)
            if key is None:
                untrusted.append((location, signed))
                continue
            if not signed.verifies_with(key):
                add(
                    "witness_edited" if is_witness else "checkpoint_forged",
                    f"{source_name} {location}: {_name(signed)} does not match its signature: "
                    + ("the witness file was edited" if is_witness
                       else "the checkpoint row was edited or forged in the database"),
                    seq=c.seq,
                )  # fmt: skip
                continue
        if c.seq in source.valid and source.valid[c.seq].body != signed.body:
            add(
                "checkpoint_conflict",
                f"{source_name} holds two different signed checkpoints #{c.seq} "
                f"({source.location[c.seq]} and {location})",
                seq=c.seq,
            )
            continue
        source.valid[c.seq] = signed
        source.location[c.seq] = location
    source.highest = highest
    if untrusted:
        trusted_seqs = sorted(source.valid)
        ids = ", ".join(sorted(trusted or {}))
        first_trusted = trusted_seqs[0] if trusted_seqs else None
        swapped = [
            s for _, s in untrusted if first_trusted is None or s.checkpoint.seq < first_trusted
        ]
        for location, signed in untrusted:
            c = signed.checkpoint
            if signed in swapped:
                continue
            add(
                "foreign_signature",
                f"{source_name} {location}: {_name(signed)} is signed with another key "
                f"({c.key_id}), not the trusted key ({ids})",
                seq=c.seq,
            )
        if swapped:
            first, last = swapped[0].checkpoint, swapped[-1].checkpoint
            since = (
                f"since checkpoint #{first_trusted} the log is signed by the trusted key"
                if first_trusted is not None
                else "no checkpoint there verifies with the trusted key"
            )
            add(
                "key_swapped",
                f"{source_name}: checkpoints #{first.seq}..#{last.seq} were signed by key "
                f"{first.key_id}, and the trusted key is {ids}: the signing key was swapped "
                f"({since})",
                seq=first.seq,
            )
    # Each checkpoint names the one before it.
    for seq, signed in sorted(source.valid.items()):
        expected = cp.NO_PREVIOUS if seq == 0 else None
        before = source.valid.get(seq - 1)
        if before is not None:
            expected = before.hash
        if expected is not None and signed.checkpoint.prev != expected:
            add(
                "broken_link",
                f"{source_name} {source.location[seq]}: {_name(signed)} does not name "
                f"checkpoint #{seq - 1} as its previous one: the checkpoint chain was broken "
                f"at #{seq}",
                seq=seq,
            )
    return source


def _db_records(engine: Engine) -> list[tuple[str, cp.SignedCheckpoint | None, str | None]]:
    out: list[tuple[str, cp.SignedCheckpoint | None, str | None]] = []
    with engine.connect() as conn:
        for row in conn.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)):
            try:
                out.append((f"row seq={row.seq}", cp.parse(row.body, row.signature), None))
            except cp.CheckpointFormatError as exc:
                out.append((f"row seq={row.seq}", None, str(exc)))
    return out


def _leaves(engine: Engine) -> Iterator[Any]:
    """(leaf_index, entry_id, stored leaf hash, entry row or None) in leaf order."""
    table = AuditEntry.__table__
    last = -1
    with engine.connect() as conn:
        while True:
            rows = conn.execute(
                select(AuditLeaf.leaf_index, AuditLeaf.entry_id, AuditLeaf.leaf_hash,
                       table.c.id, table.c.created_at, table.c.kind, table.c.actor,
                       table.c.subject, table.c.payload, table.c.prev_hash)
                .outerjoin(table, table.c.id == AuditLeaf.entry_id)
                .where(AuditLeaf.leaf_index > last)
                .order_by(AuditLeaf.leaf_index)
                .limit(PAGE)
            ).all()  # fmt: skip
            if not rows:
                return
            yield from rows
            last = rows[-1].leaf_index


def verify_log(
    engine: Engine,
    *,
    witnesses: Sequence[Witness] = (),
    trusted_keys: Sequence[Ed25519PublicKey] | None = None,
    now: datetime | None = None,
    grace: timedelta = timedelta(minutes=5),
    progress: Callable[[int], None] | None = None,
    fresh_install: bool = False,
) -> Report:
    """Check entries, tree, checkpoints and witnesses; every problem becomes a Finding.

    `trusted_keys` None checks the database alone (no signatures: the quick
    consistency check the other components' tests run); otherwise every
    checkpoint must verify with one of them. `fresh_install` (no signing key
    exists yet): a witness directory not created yet is not a finding while
    nothing was ever signed.
    """
    now = now or datetime.now(UTC)
    report = Report()
    trusted = None if trusted_keys is None else {keys.key_id(k): k for k in trusted_keys}
    report.trusted_key_ids = sorted(trusted or {})

    # 1. Checkpoints: the database's and each witness's.
    report.sources.append(_check_records(report, DATABASE, _db_records(engine), trusted))
    never_signed = not report.sources[0].valid and not report.findings
    for witness in witnesses:
        try:
            records = [(r.location, r.signed, r.error) for r in witness.read()]
        except WitnessError as exc:
            if never_signed and fresh_install and isinstance(witness, DirectoryWitness):
                continue  # no key, nothing signed: the directory comes with the first checkpoint
            report.findings.append(
                Finding(
                    "witness_unavailable", f"{witness.name}: {exc}", tampering=False,
                    source=witness.name,
                )
            )  # fmt: skip
            continue
        report.sources.append(_check_records(report, witness.name, records, trusted))
    _compare_sources(report)

    # 2. The entries, recomputed, and the tree built from them.
    with engine.connect() as conn:
        report.entries = conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        report.pending = conn.execute(select(func.count()).select_from(AuditPending)).scalar_one()
        report.tree_size = tree_store.tree_size(conn)
        stored_state = {
            s.witness: s.last_seq for s in conn.execute(select(AuditWitnessState)).all()
        }
    targets = _checkpoint_sizes(report)
    frontier = merkle.Frontier()
    mismatched: list[tuple[int, int | None, bytes]] = []
    last_matching: cp.SignedCheckpoint | None = None
    first_bad_root: cp.SignedCheckpoint | None = None
    target_index = 0
    first_bad_leaf: int | None = None

    def check_roots_at(size: int) -> None:
        nonlocal target_index, last_matching, first_bad_root
        while target_index < len(targets) and targets[target_index][0] == size:
            _, signed = targets[target_index]
            target_index += 1
            if frontier.root().hex() == signed.checkpoint.root:
                if first_bad_root is None:
                    last_matching = signed
            elif first_bad_root is None:
                first_bad_root = signed

    check_roots_at(0)
    for row in _leaves(engine):
        index = row.leaf_index
        if index != frontier.size:
            report.add(
                "leaves_missing",
                f"leaves {frontier.size}..{index - 1} are missing from the tree "
                "(rows deleted from audit_leaves)",
                leaf_index=frontier.size,
            )
            break
        if row.id is None:
            report.add(
                "entry_deleted",
                f"entry {row.entry_id} (leaf {index}) was deleted from audit_entries",
                entry_id=row.entry_id, leaf_index=index,
            )  # fmt: skip
            h = bytes(row.leaf_hash)  # keep building with what was signed
        else:
            try:
                h = entry_leaf_hash(row)
            except AuditError:
                h = b""
            if h != bytes(row.leaf_hash):
                mismatched.append((index, row.entry_id, h))
        if first_bad_leaf is None and (row.id is None or h != bytes(row.leaf_hash)):
            first_bad_leaf = index
        frontier.append(h)
        check_roots_at(frontier.size)
        if progress is not None and frontier.size % 100_000 == 0:
            progress(frontier.size)
    report.root = frontier.root().hex()
    _name_mismatches(engine, report, mismatched)
    if first_bad_root is not None:
        since = (
            f"the last checkpoint that still matches is #{last_matching.checkpoint.seq} "
            f"(tree size {last_matching.checkpoint.tree_size})"
            if last_matching is not None
            else "no checkpoint matches"
        )
        lo = last_matching.checkpoint.tree_size if last_matching is not None else 0
        report.add(
            "root_mismatch",
            f"the log's first {first_bad_root.checkpoint.tree_size} leaves no longer hash to "
            f"the root signed in {_name(first_bad_root)}: entries among leaves "
            f"{lo}..{first_bad_root.checkpoint.tree_size - 1} were changed, re-ordered or "
            f"rewritten with recomputed hashes since then; {since}",
            seq=first_bad_root.checkpoint.seq, leaf_index=first_bad_leaf,
        )  # fmt: skip

    # 3. Nothing signed may be out of reach, nothing may sit outside the log.
    _check_truncation(report)
    _check_witnesses_current(report, stored_state, now, grace)
    _check_outside_log(engine, report)
    _check_unsigned_tail(engine, report, trusted is not None, now, grace)
    return report


def _compare_sources(report: Report) -> None:
    """The same checkpoint number must be the same checkpoint everywhere."""
    seen: dict[int, tuple[str, cp.SignedCheckpoint]] = {}
    for source in report.sources:
        for seq, signed in sorted(source.valid.items()):
            if seq in seen and seen[seq][1].body != signed.body:
                report.add(
                    "checkpoint_conflict",
                    f"checkpoint #{seq} differs between {seen[seq][0]} and {source.name} "
                    f"({source.location[seq]}): one of them was replaced",
                    seq=seq,
                )
            seen.setdefault(seq, (source.name, signed))


def _checkpoint_sizes(report: Report) -> list[tuple[int, cp.SignedCheckpoint]]:
    unique: dict[str, cp.SignedCheckpoint] = {}
    for source in report.sources:
        for signed in source.valid.values():
            unique.setdefault(signed.body, signed)
    return sorted(((s.checkpoint.tree_size, s) for s in unique.values()),
                  key=lambda t: (t[0], t[1].checkpoint.seq))  # fmt: skip


def _name_mismatches(
    engine: Engine, report: Report, mismatched: list[tuple[int, int | None, bytes]]
) -> None:
    """A recomputed leaf found at another index is a re-order; else an edit."""
    if not mismatched:
        return
    with engine.connect() as conn:
        found = {
            bytes(h): int(i)
            for i, h in conn.execute(
                select(AuditLeaf.leaf_index, AuditLeaf.leaf_hash).where(
                    AuditLeaf.leaf_hash.in_([h for _, _, h in mismatched if h])
                )
            )
        }
    for index, entry_id, h in mismatched:
        other = found.get(h)
        if other is not None and other != index:
            report.add(
                "entry_reordered",
                f"entry {entry_id} sits at leaf {index} but its content was logged at leaf "
                f"{other}: entries were re-ordered",
                entry_id=entry_id, leaf_index=index,
            )  # fmt: skip
        else:
            report.add(
                "entry_edited",
                f"entry {entry_id} (leaf {index}) no longer matches the leaf hash it was "
                "logged with: its content was edited",
                entry_id=entry_id, leaf_index=index,
            )  # fmt: skip


def _check_truncation(report: Report) -> None:
    best: tuple[cp.SignedCheckpoint, str] | None = None
    for source in report.sources:
        for signed in source.valid.values():
            if best is None or signed.checkpoint.tree_size > best[0].checkpoint.tree_size:
                best = (signed, source.name)
    if best is None or best[0].checkpoint.tree_size <= report.tree_size:
        return
    signed, where = best
    if report.tree_size == 0 and report.entries == 0:
        report.add(
            "wiped",
            f"the log is empty, but {where} holds {_name(signed)}: every entry was deleted",
            seq=signed.checkpoint.seq,
        )
    else:
        report.add(
            "truncated",
            f"the log has {report.tree_size} leaves, but {where} holds {_name(signed)}: leaves "
            f"{report.tree_size}..{signed.checkpoint.tree_size - 1} were removed from the end",
            seq=signed.checkpoint.seq, leaf_index=report.tree_size,
        )  # fmt: skip


def _check_witnesses_current(
    report: Report, acknowledged: dict[str, int | None], now: datetime, grace: timedelta
) -> None:
    newest = report.latest
    if newest is None:
        return
    for source in report.sources:
        if source.name == DATABASE:
            continue
        held = max(source.valid) if source.valid else -1
        if held >= newest.checkpoint.seq or source.highest >= newest.checkpoint.seq:
            continue  # (lines it holds that do not verify are findings of their own)
        acked = acknowledged.get(source.name)
        if acked is not None and acked > source.highest:
            report.add(
                "witness_rolled_back",
                f"{source.name} took checkpoints up to #{acked} but now holds only up to "
                f"#{source.highest}: the witness was rolled back (checkpoints since "
                f"#{source.highest + 1} are gone)",
                seq=source.highest + 1,
                source=source.name,
            )
        elif now - newest.checkpoint.time > grace:
            report.add(
                "witness_behind",
                f"{source.name} holds checkpoints up to #{held}, but {_name(newest)} exists: "
                f"the witness lacks every checkpoint since #{held + 1}",
                seq=held + 1,
                source=source.name,
            )


def _check_outside_log(engine: Engine, report: Report) -> None:
    table = AuditEntry.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.id)
            .where(~exists().where(AuditLeaf.entry_id == table.c.id))
            .where(~exists().where(AuditPending.entry_id == table.c.id))
            .order_by(table.c.id)
            .limit(20)
        ).scalars().all()  # fmt: skip
    for entry_id in rows:
        report.add(
            "entry_outside_log",
            f"entry {entry_id} is in audit_entries but neither in the log nor queued for it: "
            "it was inserted behind cobrador's back (forged append)",
            entry_id=entry_id,
        )


def _check_unsigned_tail(
    engine: Engine, report: Report, signatures: bool, now: datetime, grace: timedelta
) -> None:
    """Leaves no checkpoint covers are normal for a few seconds (the next checkpoint
    signs them); older than `grace`, someone appended them without the key."""
    if not signatures:
        return
    newest = report.latest
    covered = newest.checkpoint.tree_size if newest else 0
    if report.tree_size <= covered:
        return
    table = AuditEntry.__table__
    with engine.connect() as conn:
        written = conn.execute(
            select(table.c.created_at)
            .join(AuditLeaf, AuditLeaf.entry_id == table.c.id)
            .where(AuditLeaf.leaf_index == covered)
        ).scalar_one_or_none()
    since_signed = now - newest.checkpoint.time if newest else None
    if (written is not None and now - written <= grace) or (
        since_signed is not None and since_signed <= grace
    ):
        return
    since = f"after {_name(newest)}" if newest else "and no checkpoint exists"
    report.add(
        "unsigned_leaves",
        f"leaves {covered}..{report.tree_size - 1} are not covered by any signed checkpoint "
        f"{since}: appended without cobrador's signature (forged appends), or the "
        "checkpointer has stopped (`cobrador audit checkpoint` signs them if they are yours)",
        leaf_index=covered, seq=newest.checkpoint.seq if newest else None,
    )  # fmt: skip


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None
    head_hash: str = merkle.EMPTY_ROOT.hex()


def verify(engine: Engine) -> VerifyResult:
    """The database's own consistency: every entry matches its leaf or waits for one,
    and the tree matches the checkpoints stored beside it (no signatures, no witnesses:
    `cobrador audit verify` checks those too)."""
    report = verify_log(engine)
    first = report.findings[0] if report.findings else None
    return VerifyResult(
        ok=report.ok,
        checked=report.entries,
        first_bad_id=first.entry_id if first else None,
        problem=f"{first.code}: {first.message}" if first else None,
        head_hash=report.root,
    )
