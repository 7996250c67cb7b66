"""`cobrador audit keygen|checkpoint|verify|prove|check-proof|consistency`.

Exit codes of `audit verify` (docs/audit-log.md): 0 the log and every witness
agree and every signature verifies; 1 tampering found (each finding named);
2 bad usage; 3 the verification could not be completed (a witness unreachable,
no trusted key) and no tampering was found in what could be checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings

EXIT_INTACT = 0
EXIT_TAMPERED = 1
EXIT_INCOMPLETE = 3


def register(audit_sub: Any) -> None:
    keygen = audit_sub.add_parser(
        "keygen", help="create the Ed25519 key that signs checkpoints (and its .pub)"
    )
    keygen.add_argument(
        "--output", "-o", help="key file to write (default: COBRADOR_AUDIT_SIGNING_KEY)"
    )
    keygen.set_defaults(func=_keygen)

    checkpoint = audit_sub.add_parser(
        "checkpoint",
        help="add waiting entries to the log, sign a checkpoint now, send it to witnesses",
    )
    checkpoint.set_defaults(func=_checkpoint)

    prove = audit_sub.add_parser(
        "prove", help="one entry, its inclusion proof and the signed checkpoint, as one JSON file"
    )
    prove.add_argument("--entry", type=int, required=True, help="audit entry id")
    prove.add_argument("--output", "-o", help="file to write (default: stdout)")
    prove.set_defaults(func=_prove)

    check = audit_sub.add_parser(
        "check-proof", help="check a proof file offline with the public key (no database)"
    )
    check.add_argument("file", help="a file written by `audit prove`")
    check.add_argument("--public-key", required=True, help="the log's public key (PEM)")
    check.set_defaults(func=_check_proof)

    consistency = audit_sub.add_parser(
        "consistency", help="prove checkpoint B extends checkpoint A (nothing older changed)"
    )
    consistency.add_argument("old", type=int, help="older checkpoint number")
    consistency.add_argument("new", type=int, help="newer checkpoint number")
    consistency.add_argument("--public-key", help="check signatures with this key (PEM)")
    consistency.add_argument("--output", "-o", help="also write the proof as JSON here")
    consistency.set_defaults(func=_consistency)


def add_verify_arguments(verify: argparse.ArgumentParser) -> None:
    verify.add_argument(
        "--public-key",
        action="append",
        default=[],
        help="trust this public key (PEM; repeatable) instead of the configured signing key's",
    )
    verify.add_argument(
        "--witness-dir",
        action="append",
        default=[],
        help="check against this witness directory too (e.g. an auditor's copy)",
    )


def _public_key(path: str) -> Any:
    from compliance.transparency import keys

    try:
        return keys.load_public(Path(path))
    except keys.KeyFileError as exc:
        raise UserError(str(exc)) from exc


def _keygen(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.transparency import keys

    path = Path(args.output) if args.output else settings.audit_signing_key
    try:
        key = keys.generate(path)
    except keys.KeyFileError as exc:
        raise UserError(str(exc)) from exc
    print(f"signing key written to {path} (mode 0600); public key {keys.public_path(path)}")
    print(f"key id {keys.key_id(key.public_key())}: give the public key to your auditors")
    return 0


def _checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.transparency import runtime
    from compliance.transparency.integrator import integrate
    from store.db import open_engine

    engine = open_engine(settings)
    done = integrate(engine)
    keeper = runtime.checkpointer(settings, engine)
    signed, outcomes = keeper.run_once(force=True)
    added = done.added if done else 0
    if signed is not None:
        c = signed.checkpoint
        print(f"{added} entries added; checkpoint #{c.seq}: tree size {c.tree_size}, root {c.root}")
    else:
        print(f"{added} entries added; the newest checkpoint already covers the whole log")
    status = 0
    for outcome in outcomes:
        if outcome.error:
            print(f"witness {outcome.witness} FAILED: {outcome.error}", file=sys.stderr)
            status = EXIT_INCOMPLETE
        else:
            print(f"witness {outcome.witness}: {outcome.published} checkpoint(s) written")
    return status


def run_verify(args: argparse.Namespace, settings: Settings, engine: Any) -> int:
    from compliance.transparency import runtime

    report = runtime.verify_configured(
        settings,
        engine,
        public_keys=[_public_key(p) for p in args.public_key],
        extra_witness_dirs=[Path(d) for d in args.witness_dir],
    )
    for finding in report.findings:
        label = "TAMPERED" if finding.tampering else "NOT VERIFIED"
        print(f"audit log {label} [{finding.code}]: {finding.message}", file=sys.stderr)
    latest = report.latest
    where = ", ".join(s.name for s in report.sources if latest and latest.checkpoint.seq in s.valid)
    head = (
        f"checkpoint #{latest.checkpoint.seq} (tree size {latest.checkpoint.tree_size}, "
        f"{latest.checkpoint.time:%Y-%m-%d %H:%M:%SZ}) held by {where}"
        if latest
        else "no checkpoint signed yet"
    )
    summary = (
        f"{report.entries} entries, tree size {report.tree_size} ({report.pending} waiting), "
        f"root {report.root}; {head}"
    )
    if report.ok:
        print(f"audit log intact: {summary}")
        return EXIT_INTACT
    print(f"audit log: {summary}", file=sys.stderr)
    return EXIT_TAMPERED if report.tampered else EXIT_INCOMPLETE


def _prove(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.transparency.proofs import ProofUnavailable, prove_entry
    from store.db import open_engine

    engine = open_engine(settings)
    try:
        doc = prove_entry(engine, args.entry)
    except ProofUnavailable as exc:
        raise UserError(str(exc)) from exc
    _write_json(doc, args.output)
    return 0


def _write_json(doc: dict[str, Any], output: str | None) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if not output or output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc}") from exc
    print(f"written to {output}", file=sys.stderr)


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UserError(f"{path} is not JSON: {exc}") from exc


def _check_proof(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.transparency.proofs import check_proof

    result = check_proof(_read_json(args.file), _public_key(args.public_key))
    if result.ok:
        print(f"proof OK: {result.message}")
        return 0
    print(f"proof FAILED: {result.message}", file=sys.stderr)
    return 1


def _consistency(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.transparency.proofs import ProofUnavailable, check_consistency, consistency
    from store.db import open_engine

    engine = open_engine(settings)
    try:
        doc = consistency(engine, args.old, args.new)
    except ProofUnavailable as exc:
        raise UserError(str(exc)) from exc
    if args.output:
        _write_json(doc, args.output)
    key = _public_key(args.public_key) if args.public_key else None
    result = check_consistency(doc, key)
    if result.ok:
        print(f"consistent: {result.message}")
        return 0
    print(f"NOT consistent: {result.message}", file=sys.stderr)
    return 1
