"""Audit log benchmark: appends/s, integration, checkpoint, verify, proofs.

    .venv/bin/python bench/audit_log_bench.py [--entries 50000] [--processes 2] [--writers 4]
        [--batch 1 100]
        [--verify-entries 1000000] [--database-url postgresql://postgres@127.0.0.1:5432/audit_bench]

1. appends: `--processes` x `--writers` threads write `--entries` entries in transactions of
   `--batch` entries (`append_many`, as a hopper batch does; 1 = one entry per
   transaction, as a pop or a recording does). No lock is taken; each entry is
   queued for the tree in the writer's own transaction.
2. integration: the integrator puts the queued entries into the Merkle tree.
3. a log of `--verify-entries` entries (written in batches of 1000, then
   integrated and checkpointed) is verified end to end: every leaf recomputed
   from its entry, the root compared with the signed checkpoints in the
   database and a witness directory, signatures checked.
4. proofs: inclusion proofs for 200 random entries (JSON size, time), and one
   consistency proof between the first and the last checkpoint.
SQLite in a temporary directory unless --database-url (an empty database).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from compliance.transparency import keys
from compliance.transparency.checkpointer import Checkpointer
from compliance.transparency.integrator import integrate
from compliance.transparency.proofs import consistency, prove_entry
from compliance.transparency.verify import verify_log
from compliance.transparency.witnesses import DirectoryWitness
from store.audit import NewEntry, append_many
from store.db import make_engine, transaction
from store.migrate import upgrade
from store.models import AuditCheckpoint, AuditEntry

PAYLOAD = {
    "attempt_id": 123456, "account_id": 98765, "result": "contact", "reason": None,
    "campaign": "mora-temprana", "caller_id": "+525511112222", "agent_id": 17,
    "started_at": "2026-12-05T10:00:00Z", "hangup_cause": 16,
}  # fmt: skip


def write(engine: Engine, n: int, batch: int, start: int) -> None:
    done = 0
    while done < n:
        size = min(batch, n - done)
        with transaction(engine) as session:
            append_many(
                session,
                [NewEntry("attempt", {**PAYLOAD, "n": start + done + i},
                          subject=f"account:{start + done + i}") for i in range(size)],
            )  # fmt: skip
        done += size


def _process(url: str, per: int, batch: int, start: int, threads: int, go: Any) -> None:
    engine = (
        make_engine(url, pool_size=threads + 1)
        if url.startswith("postgresql")
        else make_engine(url)
    )
    workers = [
        threading.Thread(target=write, args=(engine, per // threads, batch, start + t * per))
        for t in range(threads)
    ]
    go.wait()
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def appends(url: str, entries: int, processes: int, threads: int, batch: int) -> float:
    """Writers in `processes` processes of `threads` threads (one Python process is
    bound by its GIL; the dialer and console are separate processes anyway)."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    per = entries // processes
    procs = [
        ctx.Process(target=_process, args=(url, per, batch, p * per * 10, threads, go))
        for p in range(processes)
    ]
    for p in procs:
        p.start()
    time.sleep(3)  # let every process import and connect before the clock starts
    t0 = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    return (per // threads) * threads * processes / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--writers", type=int, default=4, help="threads per process")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    results: dict[str, object] = {"database": engine.dialect.name}

    for batch in args.batch:
        rate = appends(url, args.entries, args.processes, args.writers, batch)
        results[f"appends_per_s_batch_{batch}"] = round(rate)
        print(f"appends, {args.processes} processes x {args.writers} writers, "
              f"{batch}/transaction: {rate:,.0f} entries/s")  # fmt: skip
        t0 = time.perf_counter()
        done = integrate(engine)
        took = time.perf_counter() - t0
        assert done is not None
        results[f"integrate_per_s_after_batch_{batch}"] = round(done.added / took)
        print(f"  integrated {done.added:,} in {took:.2f} s ({done.added / took:,.0f}/s)")

    key = keys.generate(tmp / "key")
    witness = DirectoryWitness(tmp / "witness")
    clock = [datetime.now(UTC)]
    signer = Checkpointer(engine, key, [witness], clock=lambda: clock[0])
    signer.run_once(force=True)
    with engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    missing = max(0, args.verify_entries - have)
    t0 = time.perf_counter()
    chunk = 100_000
    while missing:
        n = min(chunk, missing)
        write(engine, n, 1000, have)
        have += n
        missing -= n
        integrate(engine)
        signer.run_once(force=True)
        print(f"  ... {have:,} entries", file=sys.stderr)
    print(f"log of {have:,} entries written, integrated and checkpointed in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip

    t0 = time.perf_counter()
    report = verify_log(engine, witnesses=[witness], trusted_keys=[key.public_key()],
                        now=clock[0])  # fmt: skip
    took = time.perf_counter() - t0
    assert report.ok, report.findings
    results["verify_entries"] = report.tree_size
    results["verify_seconds"] = round(took, 1)
    print(f"verify: {report.tree_size:,} leaves recomputed, {len(report.sources)} sources, "
          f"{took:.1f} s ({report.tree_size / took:,.0f} leaves/s)")  # fmt: skip

    with engine.connect() as conn:
        ids = list(conn.execute(select(AuditEntry.id)).scalars())
        seqs = list(
            conn.execute(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)).scalars()
        )
    sample = random.Random(7).sample(ids, min(200, len(ids)))
    times, sizes, hashes = [], [], []
    for entry_id in sample:
        t0 = time.perf_counter()
        doc = prove_entry(engine, entry_id)
        times.append(time.perf_counter() - t0)
        sizes.append(len(json.dumps(doc, ensure_ascii=False, indent=2).encode()))
        hashes.append(len(doc["inclusion_proof"]))
    results["proof_ms_p50"] = round(statistics.median(times) * 1000, 2)
    results["proof_ms_max"] = round(max(times) * 1000, 2)
    results["proof_bytes_p50"] = int(statistics.median(sizes))
    results["proof_hashes_max"] = max(hashes)
    print(f"prove: p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; "
          f"JSON p50 {statistics.median(sizes):,.0f} bytes, {min(hashes)}-{max(hashes)} hashes")  # fmt: skip
    t0 = time.perf_counter()
    doc = consistency(engine, seqs[0], seqs[-1])
    took = time.perf_counter() - t0
    results["consistency_ms"] = round(took * 1000, 2)
    print(f"consistency #{seqs[0]}..#{seqs[-1]}: {len(doc['consistency_proof'])} hashes, "
          f"{took * 1000:.1f} ms")  # fmt: skip
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
