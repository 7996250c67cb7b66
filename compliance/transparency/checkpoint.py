"""Signed checkpoints: (sequence, tree size, root, time, previous checkpoint), the
exact text that is signed, and one JSON line per checkpoint as witnesses keep it."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from compliance.transparency import keys

LOG_NAME = "cobrador-audit-log/v1"
NO_PREVIOUS = "0" * 64


class CheckpointFormatError(ValueError):
    """A line that is not a checkpoint (unparseable, fields missing or of the wrong type)."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    tree_size: int
    root: str  # hex
    time: datetime
    prev: str  # hash (hex) of the previous checkpoint's body; NO_PREVIOUS for the first
    key_id: str

    def body(self) -> str:
        """The signed text: canonical JSON, sorted keys, no spaces."""
        return json.dumps(
            {
                "log": LOG_NAME,
                "seq": self.seq,
                "tree_size": self.tree_size,
                "root": self.root,
                "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "prev": self.prev,
                "key_id": self.key_id,
            },
            sort_keys=True,
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    body: str
    signature: str  # base64

    @property
    def hash(self) -> str:
        """What the next checkpoint's `prev` names."""
        return body_hash(self.body)

    def line(self) -> str:
        return json.dumps({"checkpoint": self.body, "signature": self.signature}, sort_keys=True)

    def verifies_with(self, public: Ed25519PublicKey) -> bool:
        try:
            signature = base64.b64decode(self.signature, validate=True)
        except ValueError:
            return False
        return keys.verifies(public, signature, self.body.encode("utf-8"))

    def as_json(self) -> dict[str, Any]:
        return {"checkpoint": self.body, "signature": self.signature}


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> SignedCheckpoint:
    body = checkpoint.body()
    signature = base64.b64encode(key.sign(body.encode("utf-8"))).decode("ascii")
    return SignedCheckpoint(checkpoint, body, signature)


def parse_body(body: str) -> Checkpoint:
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("log") != LOG_NAME:
            raise CheckpointFormatError(f"not a {LOG_NAME} checkpoint")
        when = datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
        cp = Checkpoint(
            seq=_int(data["seq"]),
            tree_size=_int(data["tree_size"]),
            root=_hex(data["root"]),
            time=when,
            prev=_hex(data["prev"]),
            key_id=str(data["key_id"]),
        )
    except (KeyError, TypeError, ValueError, RecursionError) as exc:  # Recursion: nested deep
        if isinstance(exc, CheckpointFormatError):
            raise
        raise CheckpointFormatError(f"unreadable checkpoint: {exc}") from exc
    if when.tzinfo is None:
        raise CheckpointFormatError("checkpoint time has no zone")
    return cp


def parse(body: str, signature: str) -> SignedCheckpoint:
    return SignedCheckpoint(parse_body(body), body, signature)


def parse_line(line: str) -> SignedCheckpoint:
    try:
        data = json.loads(line)
        body, signature = data["checkpoint"], data["signature"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:  # a witness's line
        raise CheckpointFormatError(f"not a checkpoint line: {exc}") from exc
    if not isinstance(body, str) or not isinstance(signature, str):
        raise CheckpointFormatError("checkpoint and signature must be strings")
    return parse(body, signature)


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointFormatError(f"{value!r} is not a non-negative integer")
    return value


def _hex(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 64:
        raise CheckpointFormatError(f"{value!r} is not a SHA-256 hash in hex")
    bytes.fromhex(value)
    return value
