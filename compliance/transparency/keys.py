"""The checkpoint signing key (Ed25519): kept in a file or an environment
variable, never in the database; its public half is what auditors keep."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)


class KeyFileError(ValueError):
    """A key file or value that cannot be used (missing, unreadable, not Ed25519)."""


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 bytes of SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def generate(path: Path) -> Ed25519PrivateKey:
    """A new key at `path` (mode 0600) and its public key at `path`.pub; refuses to overwrite."""
    if path.exists():
        raise KeyFileError(f"{path} already exists; a signing key is never overwritten")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_path(path).write_text(public_pem(key.public_key()), encoding="ascii")
    return key


def public_path(path: Path) -> Path:
    return path.with_name(path.name + ".pub")


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the signing key {path}: {exc.strerror or exc}") from exc
    return parse_private(data, str(path))


def parse_private(data: bytes, where: str) -> Ed25519PrivateKey:
    try:
        if data.strip().startswith(b"-----"):
            key = serialization.load_pem_private_key(data, password=None)
        else:  # the 32-byte seed, base64 (an environment variable)
            key = Ed25519PrivateKey.from_private_bytes(
                base64.b64decode(data.strip(), validate=True)
            )
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{where} is not an Ed25519 private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{where} is not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """A public key file: PEM (as `audit keygen` writes it), a private key, or raw base64."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the public key {path}: {exc.strerror or exc}") from exc
    try:
        if b"PRIVATE KEY" in data:
            return parse_private(data, str(path)).public_key()
        if data.strip().startswith(b"-----"):
            key = serialization.load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an Ed25519 public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key


def signing_key(path: Path, env_value: str, *, create: bool) -> Ed25519PrivateKey:
    """The configured key: the environment value wins, else the file.

    With `create`, a missing file is generated (first run of a fresh install or
    the demo) with a warning: the key must then be moved off the data volume
    and its public half given to the auditors.
    """
    if env_value:
        return parse_private(env_value.encode("ascii"), "COBRADOR_AUDIT_SIGNING_KEY_B64")
    if not path.exists() and create:
        key = generate(path)
        log.warning(
            "audit: generated a checkpoint signing key at %s (public key %s, id %s); "
            "keep it outside the database's host and give the public key to your auditors",
            path, public_path(path), key_id(key.public_key()),
        )  # fmt: skip
        return key
    return load_private(path)


def verifies(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True
