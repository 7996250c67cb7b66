"""Per-record evidence: one entry, its inclusion proof and the signed checkpoint it
leads to, as one JSON document an auditor can check offline with the public key
alone; and consistency proofs between two checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select

from compliance.transparency import checkpoint as cp
from compliance.transparency import merkle, tree_store
from store.audit import canonical_json, leaf_bytes
from store.models import AuditCheckpoint, AuditEntry, AuditLeaf

PROOF_FORMAT = "cobrador-audit-proof/v1"
CONSISTENCY_FORMAT = "cobrador-audit-consistency/v1"


class ProofUnavailable(LookupError):
    """No proof can be made (unknown entry, not in the tree or not signed yet)."""


def _entry_json(row: Any) -> dict[str, Any]:
    # created_at as the canonical text the leaf was made of; payload as the exact
    # canonical JSON text (re-encoding a decoded payload could change its bytes).
    return {
        "id": row.id,
        "created_at": canonical_json(row.created_at).strip('"'),
        "kind": row.kind,
        "actor": row.actor,
        "subject": row.subject,
        "payload": row.payload,
        "prev_hash": row.prev_hash,
    }


def _leaf_of(entry: dict[str, Any]) -> bytes:
    return merkle.leaf_hash(
        leaf_bytes(
            created_at=entry["created_at"],
            kind=entry["kind"],
            actor=entry["actor"],
            subject=entry["subject"],
            payload_json=entry["payload"],
            prev_hash=entry["prev_hash"],
        )
    )


def prove_entry(engine: Engine, entry_id: int) -> dict[str, Any]:
    """The proof document of one entry against the newest checkpoint that covers it."""
    table = AuditEntry.__table__
    with engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == entry_id)).first()
        if row is None:
            raise ProofUnavailable(f"no audit entry {entry_id}")
        leaf = conn.execute(select(AuditLeaf).where(AuditLeaf.entry_id == entry_id)).first()
        if leaf is None:
            raise ProofUnavailable(
                f"entry {entry_id} is not in the log yet (the integrator adds it within seconds)"
            )
        stored = conn.execute(
            select(AuditCheckpoint)
            .where(AuditCheckpoint.tree_size > leaf.leaf_index)
            .order_by(AuditCheckpoint.seq.desc())
            .limit(1)
        ).first()
        if stored is None:
            raise ProofUnavailable(
                f"entry {entry_id} (leaf {leaf.leaf_index}) is not covered by a signed "
                "checkpoint yet; try again after the next one (`cobrador audit checkpoint`)"
            )
        signed = cp.parse(stored.body, stored.signature)
        size = signed.checkpoint.tree_size
        path = tree_store.prefetched(
            conn, lambda subtree: merkle.inclusion_path(leaf.leaf_index, size, subtree)
        )
    entry = _entry_json(row)
    leaf_hash = _leaf_of(entry)
    if not merkle.verify_inclusion(
        leaf_hash, leaf.leaf_index, size, path, bytes.fromhex(signed.checkpoint.root)
    ):
        raise ProofUnavailable(
            f"entry {entry_id} does not prove against {signed.checkpoint.seq}: run "
            "`cobrador audit verify` (the log or its tree tables were changed)"
        )
    return {
        "format": PROOF_FORMAT,
        "entry": entry,
        "leaf_index": leaf.leaf_index,
        "leaf_hash": leaf_hash.hex(),
        "inclusion_proof": [p.hex() for p in path],
        "checkpoint": signed.as_json(),
        "how_to_check": (
            "leaf = SHA-256(0x00 || canonical JSON of the entry without its id, payload as "
            "text); fold the proof per RFC 9162 section 2.1.3.2 to the checkpoint's root; the "
            "checkpoint text verifies with the log's Ed25519 public key. "
            "`cobrador audit check-proof FILE --public-key KEY` does all three."
        ),
    }


@dataclass(frozen=True)
class ProofCheck:
    ok: bool
    message: str


def check_proof(doc: Any, public: Ed25519PublicKey) -> ProofCheck:
    """Check a proof document offline: signature, leaf, path to the signed root."""
    try:
        if doc.get("format") != PROOF_FORMAT:
            return ProofCheck(False, f"not a {PROOF_FORMAT} document")
        signed = cp.parse(doc["checkpoint"]["checkpoint"], doc["checkpoint"]["signature"])
        entry = doc["entry"]
        index = doc["leaf_index"]
        path = [bytes.fromhex(p) for p in doc["inclusion_proof"]]
        leaf = _leaf_of(entry)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        return ProofCheck(False, f"unreadable proof document: {exc}")
    if not isinstance(index, int):
        return ProofCheck(False, "leaf_index is not an integer")
    c = signed.checkpoint
    if not signed.verifies_with(public):
        return ProofCheck(
            False,
            f"the checkpoint #{c.seq} does not verify with this public key (signed by key "
            f"{c.key_id}, or changed after signing)",
        )
    if doc.get("leaf_hash") != leaf.hex():
        return ProofCheck(
            False, f"entry {entry.get('id')} does not hash to the leaf in the proof: it was changed"
        )
    if not merkle.verify_inclusion(leaf, index, c.tree_size, path, bytes.fromhex(c.root)):
        return ProofCheck(
            False,
            f"entry {entry.get('id')} at leaf {index} does not lead to the root signed in "
            f"checkpoint #{c.seq}: the entry or the proof was changed",
        )
    when = c.time.strftime("%Y-%m-%d %H:%M:%SZ")
    return ProofCheck(
        True,
        f"entry {entry.get('id')} ({entry.get('kind')}, {entry.get('created_at')}) is leaf "
        f"{index} of the log signed in checkpoint #{c.seq} (tree size {c.tree_size}, "
        f"{when}, key {c.key_id})",
    )


def consistency(engine: Engine, old_seq: int, new_seq: int) -> dict[str, Any]:
    """Consistency proof between two stored checkpoints (old must not be after new)."""
    with engine.connect() as conn:
        rows = {
            r.seq: r
            for r in conn.execute(
                select(AuditCheckpoint).where(AuditCheckpoint.seq.in_([old_seq, new_seq]))
            )
        }
        for seq in (old_seq, new_seq):
            if seq not in rows:
                raise ProofUnavailable(f"no checkpoint #{seq}")
        old = cp.parse(rows[old_seq].body, rows[old_seq].signature)
        new = cp.parse(rows[new_seq].body, rows[new_seq].signature)
        if old.checkpoint.tree_size > new.checkpoint.tree_size:
            raise ProofUnavailable(
                f"checkpoint #{old_seq} covers more leaves than #{new_seq}: give the older first"
            )
        a, b = old.checkpoint.tree_size, new.checkpoint.tree_size
        proof = tree_store.prefetched(conn, lambda subtree: merkle.consistency_path(a, b, subtree))
    return {
        "format": CONSISTENCY_FORMAT,
        "old": old.as_json(),
        "new": new.as_json(),
        "consistency_proof": [p.hex() for p in proof],
    }


def check_consistency(doc: dict[str, Any], public: Ed25519PublicKey | None) -> ProofCheck:
    old = cp.parse(doc["old"]["checkpoint"], doc["old"]["signature"])
    new = cp.parse(doc["new"]["checkpoint"], doc["new"]["signature"])
    if public is not None:
        for signed in (old, new):
            if not signed.verifies_with(public):
                return ProofCheck(
                    False, f"checkpoint #{signed.checkpoint.seq} does not verify with the key"
                )
    a, b = old.checkpoint, new.checkpoint
    proof = [bytes.fromhex(p) for p in doc["consistency_proof"]]
    if merkle.verify_consistency(
        a.tree_size, b.tree_size, bytes.fromhex(a.root), bytes.fromhex(b.root), proof
    ):
        return ProofCheck(
            True,
            f"checkpoint #{b.seq} (size {b.tree_size}) extends #{a.seq} (size {a.tree_size}): "
            "nothing signed in the older one was changed or removed",
        )
    return ProofCheck(
        False,
        f"checkpoint #{b.seq} does NOT extend #{a.seq}: the first {a.tree_size} leaves differ",
    )
