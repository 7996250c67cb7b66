"""The audit log against someone with write access to the database: every kind of
tampering is found and named by `verify_log`, a clean log verifies, and the
CLI's exit codes say which."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, select, text, update

from cobrador.cli import main
from compliance.transparency import checkpoint as cp
from compliance.transparency import keys, merkle
from compliance.transparency.checkpointer import Checkpointer
from compliance.transparency.integrator import integrate
from compliance.transparency.verify import Report, verify_log
from compliance.transparency.witnesses import DirectoryWitness
from store.audit import NewEntry, append_many, entry_leaf_hash
from store.db import transaction
from store.models import (
    AuditCheckpoint,
    AuditEntry,
    AuditLeaf,
    AuditNode,
    AuditPending,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Log:
    """One log under test: its engine, key, witness directory and a clock."""

    def __init__(self, engine: Engine, tmp_path: Path) -> None:
        self.engine = engine
        self.key_path = tmp_path / "keys" / "audit-signing.key"
        self.key = keys.generate(self.key_path)
        self.witness = DirectoryWitness(tmp_path / "witness")
        self.now = T0
        self.keeper = Checkpointer(
            engine, self.key, [self.witness], every_entries=1000, every_seconds=60,
            clock=lambda: self.now,
        )  # fmt: skip

    def add(self, n: int, *, checkpoint: bool = True) -> list[int]:
        with transaction(self.engine) as session:
            entries = append_many(
                session,
                [NewEntry("decision", {"n": i, "note": "ñ"}, subject=f"account:{i}") for i in range(n)],
                now=self.now,
            )  # fmt: skip
            ids = [e.id for e in entries]
        integrate(self.engine)
        if checkpoint:
            self.now += timedelta(seconds=61)
            self.keeper.run_once()
        return ids

    def verify(self, *, key: Ed25519PrivateKey | None = None, later: float = 0) -> Report:
        return verify_log(
            self.engine,
            witnesses=[self.witness],
            trusted_keys=[(key or self.key).public_key()],
            now=self.now + timedelta(seconds=later),
        )

    def witness_lines(self) -> tuple[Path, list[str]]:
        (path,) = sorted(self.witness.directory.glob("checkpoints-*.jsonl"))
        return path, path.read_text().splitlines()


@pytest.fixture
def log(engine: Engine, tmp_path: Path) -> Log:
    return Log(engine, tmp_path)


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def only(report: Report, code: str) -> str:
    assert codes(report) == [code], report.findings
    return report.findings[0].message


def rebuild_tree(engine: Engine) -> None:
    """What a careful forger does after editing entries: recompute every leaf and node."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(AuditLeaf.leaf_index, AuditLeaf.entry_id).order_by(AuditLeaf.leaf_index)
        ).all()
        table = AuditEntry.__table__
        frontier = merkle.Frontier()
        conn.execute(delete(AuditNode))
        for index, entry_id in rows:
            entry = conn.execute(select(table).where(table.c.id == entry_id)).one()
            h = entry_leaf_hash(entry)
            conn.execute(update(AuditLeaf).where(AuditLeaf.leaf_index == index).values(leaf_hash=h))
            conn.execute(
                update(AuditEntry.__table__).where(table.c.id == entry_id).values(hash=h.hex())
            )
            for level, idx, value in frontier.append(h):
                conn.execute(AuditNode.__table__.insert().values(level=level, idx=idx, hash=value))


def resign_database(engine: Engine, key: Ed25519PrivateKey) -> None:
    """Replace every stored checkpoint by one over today's tree signed with `key`."""
    from compliance.transparency import tree_store

    with engine.begin() as conn:
        rows = conn.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
        prev = cp.NO_PREVIOUS
        for row in rows:
            size = row.tree_size
            root = tree_store.root_at(conn, size).hex()
            signed = cp.sign(
                cp.Checkpoint(
                    row.seq, size, root, row.signed_at, prev, keys.key_id(key.public_key())
                ),
                key,
            )
            conn.execute(
                update(AuditCheckpoint).where(AuditCheckpoint.seq == row.seq).values(
                    root=root, body=signed.body, signature=signed.signature,
                    key_id=signed.checkpoint.key_id,
                )
            )  # fmt: skip
            prev = signed.hash


def test_given_a_clean_log_then_it_verifies_against_every_witness(log: Log) -> None:
    log.add(5)
    log.add(3)
    report = log.verify()
    assert report.ok, report.findings
    assert report.tree_size == 8 and report.entries == 8
    assert [s.name for s in report.sources] == ["database", log.witness.name]
    assert all(s.latest and s.latest.checkpoint.tree_size == 8 for s in report.sources)


def test_given_entries_waiting_for_the_integrator_then_the_log_still_verifies(log: Log) -> None:
    log.add(3)
    with transaction(log.engine) as session:
        append_many(session, [NewEntry("decision", {"late": True})], now=log.now)
    report = log.verify()
    assert report.ok and report.pending == 1 and report.entries == 4


def test_given_the_last_entries_deleted_then_truncation_is_named(log: Log) -> None:
    ids = log.add(4)
    with log.engine.begin() as conn:  # everything a DBA would delete, checkpoints included
        gone = ids[2:]
        conn.execute(delete(AuditLeaf).where(AuditLeaf.entry_id.in_(gone)))
        conn.execute(delete(AuditEntry).where(AuditEntry.id.in_(gone)))
        conn.execute(delete(AuditNode))
        conn.execute(delete(AuditCheckpoint).where(AuditCheckpoint.tree_size > 2))
    message = only(log.verify(), "truncated")
    assert "leaves 2..3 were removed" in message and "checkpoint #0 (tree size 4" in message


def test_given_every_row_deleted_then_the_wipe_is_named(log: Log) -> None:
    log.add(3)
    with log.engine.begin() as conn:
        for model in (AuditPending, AuditLeaf, AuditNode, AuditCheckpoint, AuditEntry):
            conn.execute(delete(model))
    message = only(log.verify(), "wiped")
    assert "the log is empty" in message and "checkpoint #0 (tree size 3" in message


def test_given_an_entry_edited_then_that_entry_is_named(log: Log) -> None:
    ids = log.add(5)
    with log.engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(payload='{"n":99}'))
    report = log.verify()
    assert codes(report) == ["entry_edited", "root_mismatch"]
    assert f"entry {ids[2]} (leaf 2)" in report.findings[0].message
    assert report.findings[0].entry_id == ids[2]


def test_given_an_edit_with_every_hash_recomputed_then_the_signed_root_names_it(
    log: Log,
) -> None:
    ids = log.add(4)
    log.add(4)
    with log.engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(payload='{"n":99}'))
    rebuild_tree(log.engine)
    message = only(log.verify(), "root_mismatch")
    assert "no longer hash to the root signed in checkpoint #0 (tree size 4" in message
    assert "leaves 0..3" in message and "no checkpoint matches" in message


def test_given_an_edit_recomputed_and_the_database_resigned_with_a_new_key_then_the_swap_is_named(
    log: Log, tmp_path: Path
) -> None:
    ids = log.add(2)
    log.add(2)
    with log.engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(payload='{"n":99}'))
    rebuild_tree(log.engine)
    new_key = Ed25519PrivateKey.generate()
    resign_database(log.engine, new_key)
    # The forger now configures the new key: the witnesses still hold the old signatures.
    report = log.verify(key=new_key)
    assert "key_swapped" in codes(report)
    assert "witness_rolled_back" not in codes(report)  # its lines are there, just not ours
    message = next(f.message for f in report.findings if f.code == "key_swapped")
    assert log.witness.name in message and keys.key_id(log.key.public_key()) in message
    assert "checkpoints #0..#1" in message


def test_given_entries_appended_behind_cobradors_back_then_they_are_named(log: Log) -> None:
    log.add(3)
    with log.engine.begin() as conn:  # a row with a well-formed hash, no queue, no leaf
        conn.execute(
            text(
                "INSERT INTO audit_entries (created_at, kind, actor, subject, payload, prev_hash, hash)"
                " VALUES (:t, 'payment', 'system', NULL, '{}', '', :h)"
            ),
            {"t": log.now, "h": "ab" * 32},
        )
        forged = conn.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc())).scalar()
    message = only(log.verify(), "entry_outside_log")
    assert f"entry {forged}" in message and "forged append" in message


def test_given_leaves_appended_without_a_signature_then_they_are_named_once_late(
    log: Log,
) -> None:
    log.add(3)
    log.add(2, checkpoint=False)  # in the tree, signed by nobody (the forger has no key)
    assert log.verify().ok  # within the checkpoint interval: not yet suspicious
    message = only(log.verify(later=3600), "unsigned_leaves")
    assert "leaves 3..4 are not covered" in message and "after checkpoint #0" in message


def test_given_a_witness_rolled_back_then_it_is_named(log: Log) -> None:
    log.add(2)
    log.add(2)
    log.add(2)
    path, lines = log.witness_lines()
    path.write_text("\n".join(lines[:2]) + "\n")  # back to checkpoint #1
    message = only(log.verify(), "witness_rolled_back")
    assert "up to #2 but now holds only up to #1" in message


def test_given_a_witness_line_edited_then_it_is_named(log: Log) -> None:
    log.add(2)
    log.add(2)
    path, lines = log.witness_lines()
    doc = json.loads(lines[1])
    doc["checkpoint"] = doc["checkpoint"].replace('"tree_size":4', '"tree_size":3')
    lines[1] = json.dumps(doc)
    path.write_text("\n".join(lines) + "\n")
    report = log.verify()
    assert "witness_edited" in codes(report)
    message = next(f.message for f in report.findings if f.code == "witness_edited")
    assert f"{path.name}:2" in message and "checkpoint #1" in message


def test_given_a_witness_line_made_unreadable_then_it_is_named(log: Log) -> None:
    log.add(2)
    path, lines = log.witness_lines()
    path.write_text(lines[0] + "\n{garbage\n" + "\n".join(lines[1:]) + "\n")
    message = only(log.verify(), "witness_edited")
    assert f"{path.name}:2" in message


def test_given_a_checkpoint_signed_with_another_key_then_it_is_named(log: Log) -> None:
    log.add(2)
    log.add(2)
    path, lines = log.witness_lines()
    last = cp.parse_line(lines[-1])
    other = Ed25519PrivateKey.generate()
    c = last.checkpoint
    forged = cp.sign(
        cp.Checkpoint(c.seq + 1, c.tree_size, c.root, c.time, last.hash,
                      keys.key_id(other.public_key())),
        other,
    )  # fmt: skip
    with path.open("a") as fh:
        fh.write(forged.line() + "\n")
    message = only(log.verify(), "foreign_signature")
    assert f"checkpoint #{c.seq + 1}" in message and "signed with another key" in message


def test_given_two_entries_swapped_then_the_reorder_is_named(log: Log) -> None:
    ids = log.add(4)
    cols = ("created_at", "kind", "actor", "subject", "payload", "prev_hash", "hash")
    with log.engine.begin() as conn:
        table = AuditEntry.__table__
        a = conn.execute(select(*[table.c[c] for c in cols]).where(table.c.id == ids[0])).one()
        b = conn.execute(select(*[table.c[c] for c in cols]).where(table.c.id == ids[3])).one()
        conn.execute(update(table).where(table.c.id == ids[0]).values(**b._asdict()))
        conn.execute(update(table).where(table.c.id == ids[3]).values(**a._asdict()))
    report = log.verify()
    assert codes(report)[:2] == ["entry_reordered", "entry_reordered"]
    assert f"entry {ids[0]} sits at leaf 0 but its content was logged at leaf 3" in (
        report.findings[0].message
    )


def test_given_a_checkpoint_whose_previous_link_is_broken_then_it_is_named(log: Log) -> None:
    log.add(2)
    log.add(2)
    with log.engine.begin() as conn:
        last = conn.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc())).first()
        assert last is not None
        c = cp.parse(last.body, last.signature).checkpoint
        relinked = cp.sign(
            cp.Checkpoint(c.seq, c.tree_size, c.root, c.time, "11" * 32, c.key_id), log.key
        )
        conn.execute(
            update(AuditCheckpoint).where(AuditCheckpoint.seq == c.seq).values(
                body=relinked.body, signature=relinked.signature
            )
        )  # fmt: skip
    report = log.verify()
    assert "broken_link" in codes(report)
    message = next(f.message for f in report.findings if f.code == "broken_link")
    assert "database" in message and "broken at #1" in message


def test_given_a_database_checkpoint_edited_then_it_is_named(log: Log) -> None:
    log.add(2)
    with log.engine.begin() as conn:
        conn.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.seq == 0)
            .values(body=AuditCheckpoint.body + " ")
        )
    assert "checkpoint_forged" in codes(log.verify())


def test_given_a_witness_directory_gone_then_verification_is_incomplete(log: Log) -> None:
    log.add(2)
    for path in log.witness.directory.iterdir():
        path.unlink()
    log.witness.directory.rmdir()
    report = log.verify()
    assert codes(report) == ["witness_unavailable"] and not report.tampered


# --- the CLI -----------------------------------------------------------------


@pytest.fixture
def cli_log(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Log:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COBRADOR_AUDIT_SIGNING_KEY", str(tmp_path / "keys" / "audit-signing.key"))
    monkeypatch.setenv("COBRADOR_AUDIT_WITNESS_DIR", str(tmp_path / "witness"))
    return Log(engine, tmp_path)


def test_cli_verify_exit_codes(cli_log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    ids = cli_log.add(3)
    assert main(["audit", "checkpoint"]) == 0
    assert main(["audit", "verify"]) == 0
    assert "audit log intact: 3 entries" in capsys.readouterr().out
    with cli_log.engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(kind="payment"))
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "TAMPERED [entry_edited]" in err and f"entry {ids[1]}" in err
    assert main(["audit", "verify", "--witness-dir", "/nonexistent/witness"]) == 1
    assert main(["audit", "verify", "--public-key", "/nonexistent.pem"]) == 2


def test_cli_verify_with_a_witness_missing_and_no_tampering_exits_3(
    cli_log: Log, tmp_path: Path
) -> None:
    cli_log.add(2)
    assert main(["audit", "verify", "--witness-dir", str(tmp_path / "nowhere")]) == 3


def test_cli_keygen_refuses_to_overwrite(cli_log: Log, tmp_path: Path) -> None:
    assert main(["audit", "keygen"]) == 2  # the fixture made the configured key already
    fresh = tmp_path / "other.key"
    assert main(["audit", "keygen", "-o", str(fresh)]) == 0
    assert keys.load_public(keys.public_path(fresh))
    assert oct(fresh.stat().st_mode & 0o777) == "0o600"


def test_a_proof_checks_offline_and_fails_after_one_byte_of_the_payload_changes(
    cli_log: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = cli_log.add(7)
    proof = tmp_path / "proof.json"
    assert main(["audit", "prove", "--entry", str(ids[4]), "-o", str(proof)]) == 0
    public = keys.public_path(cli_log.key_path)
    assert main(["audit", "check-proof", str(proof), "--public-key", str(public)]) == 0
    assert f"entry {ids[4]}" in capsys.readouterr().out

    doc = json.loads(proof.read_text())
    assert doc["leaf_index"] == 4 and len(doc["inclusion_proof"]) == 3
    doc["entry"]["payload"] = doc["entry"]["payload"].replace('"n":4', '"n":5')
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    assert main(["audit", "check-proof", str(changed), "--public-key", str(public)]) == 1
    assert "does not hash to the leaf" in capsys.readouterr().err

    # the leaf hash recomputed by a forger still does not reach the signed root
    doc["leaf_hash"] = merkle.leaf_hash(b"x").hex()
    from compliance.transparency.proofs import _leaf_of, check_proof

    doc["leaf_hash"] = _leaf_of(doc["entry"]).hex()
    assert not check_proof(doc, keys.load_public(public)).ok

    other = tmp_path / "other.key"
    keys.generate(other)
    assert (
        main(["audit", "check-proof", str(proof), "--public-key", str(keys.public_path(other))])
        == 1
    )
    assert "does not verify with this public key" in capsys.readouterr().err


def test_given_bad_proof_inputs_then_clear_errors(
    cli_log: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = cli_log.add(1, checkpoint=False)
    assert main(["audit", "prove", "--entry", str(ids[0])]) == 2
    assert "not covered by a signed checkpoint" in capsys.readouterr().err
    assert main(["audit", "prove", "--entry", "999999"]) == 2
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    public = str(keys.public_path(cli_log.key_path))
    assert main(["audit", "check-proof", str(garbage), "--public-key", public]) == 2
    garbage.write_text('{"format": "something else"}')
    assert main(["audit", "check-proof", str(garbage), "--public-key", public]) == 1


def test_consistency_between_two_checkpoints(
    cli_log: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_log.add(3)
    cli_log.add(4)
    public = str(keys.public_path(cli_log.key_path))
    out = tmp_path / "c.json"
    assert main(["audit", "consistency", "0", "1", "--public-key", public, "-o", str(out)]) == 0
    assert "checkpoint #1 (size 7) extends #0 (size 3)" in capsys.readouterr().out
    assert json.loads(out.read_text())["consistency_proof"]
    assert main(["audit", "consistency", "1", "0"]) == 2
    assert main(["audit", "consistency", "1", "9"]) == 2
