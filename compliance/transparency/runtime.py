"""The audit log's parts built from settings: signing key, witnesses, checkpointer,
verification with the trusted key, and each witness's state for the auditor page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from compliance.transparency import keys
from compliance.transparency.checkpointer import Checkpointer, WitnessOutcome
from compliance.transparency.verify import Finding, Report, verify_log
from compliance.transparency.witnesses import DirectoryWitness, Witness, configured


def witnesses(settings: Settings) -> list[Witness]:
    return configured(settings.audit_witness_dir, settings.audit_witness_urls)


def signing_key(settings: Settings, *, create: bool = True) -> Ed25519PrivateKey:
    return keys.signing_key(
        settings.audit_signing_key, settings.audit_signing_key_b64, create=create
    )


def checkpointer(
    settings: Settings,
    engine: Engine,
    on_outcome: Callable[[WitnessOutcome], None] | None = None,
) -> Checkpointer:
    return Checkpointer(
        engine=engine,
        key=signing_key(settings),
        witnesses=witnesses(settings),
        every_entries=settings.audit_checkpoint_every_entries,
        every_seconds=settings.audit_checkpoint_every_seconds,
        on_outcome=on_outcome,
    )


def verify_configured(
    settings: Settings,
    engine: Engine,
    *,
    public_keys: Sequence[Ed25519PublicKey] = (),
    extra_witness_dirs: Sequence[Path] = (),
    now: datetime | None = None,
) -> Report:
    """Verify the log against every configured witness with the trusted key(s):
    `public_keys` when given (an auditor's copy), else the signing key's public half."""
    found = witnesses(settings)
    found.extend(DirectoryWitness(d) for d in extra_witness_dirs)
    missing_key: Finding | None = None
    fresh = False
    if public_keys:
        trusted = list(public_keys)
    else:
        try:
            trusted = [signing_key(settings, create=False).public_key()]
        except keys.KeyFileError as exc:
            trusted = []
            fresh = not settings.audit_signing_key.exists()
            missing_key = Finding("no_trusted_key", f"{exc}; pass --public-key", tampering=False)
    report = verify_log(engine, witnesses=found, trusted_keys=trusted, fresh_install=fresh, now=now)
    # Without a key nothing signed can be checked; that only matters once something
    # was signed (a fresh install has no key until its first checkpoint).
    if missing_key is not None and (
        report.latest or any(f.code == "key_swapped" for f in report.findings)
    ):
        report.findings.append(missing_key)
    return report


@dataclass(frozen=True)
class WitnessStatus:
    """One place that keeps checkpoints, as the auditor page shows it."""

    name: str
    seq: int | None
    tree_size: int | None
    signed_at: datetime | None
    age_seconds: float | None
    problems: list[str]
    last_error: str | None
    last_error_at: datetime | None

    @property
    def verified(self) -> bool:
        return not self.problems and self.seq is not None


def witness_statuses(engine: Engine, report: Report, now: datetime) -> list[WitnessStatus]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from store.models import AuditWitnessState

    with Session(engine) as session:
        states = {s.witness: s for s in session.scalars(select(AuditWitnessState))}
    names = [s.name for s in report.sources]
    names += [f.source for f in report.findings if f.source and f.source not in names]
    out = []
    for name in names:
        source = next((s for s in report.sources if s.name == name), None)
        latest = source.latest if source else None
        state = states.get(name)
        out.append(
            WitnessStatus(
                name=name,
                seq=latest.checkpoint.seq if latest else None,
                tree_size=latest.checkpoint.tree_size if latest else None,
                signed_at=latest.checkpoint.time if latest else None,
                age_seconds=(now - latest.checkpoint.time).total_seconds() if latest else None,
                problems=[f"{f.code}: {f.message}" for f in report.findings if f.source == name],
                last_error=state.last_error if state else None,
                last_error_at=state.last_error_at if state else None,
            )
        )
    return out
