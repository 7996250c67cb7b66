"""The field app's queue sealed to the console: an operation queued on a phone (its
fix, the answers at the door, a photo) is readable by the console only.

The app seals each queued body with the console's public key (ECDH on P-256 with a
key pair of its own per operation, HKDF-SHA256, AES-256-GCM; the agent, visit and
kind as associated data), so nothing on the phone can open it: neither another
person with the browser's developer tools after her session ended, nor the app. The
console's key pair is derived from `console_secret`, so every console process opens
what any of them handed out, across restarts; the key id (`kid`) names it. Without
a `console_secret` there is no stable key and nothing is sealed (docs/field.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
INFO = b"cobrador field queue v1"  # the HKDF info of every sealed body (app.js too)
# P-256's group order: the derived private scalar lies in [1, n - 1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
MAX_SEALED_CHARS = 1_500_000  # a photo of 600 000 characters in base64, with room


class SealError(ValueError):
    """A sealed body that cannot be opened: malformed, tampered or for another visit."""


class UnknownSealKey(SealError):
    """Sealed with a key this console does not hold (console_secret changed since)."""


def _b64(raw: object, name: str, size: int | None = None) -> bytes:
    if not isinstance(raw, str) or len(raw) > MAX_SEALED_CHARS:
        raise SealError(f"{name}: se espera texto en base64")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SealError(f"{name}: base64 no válido") from None
    if size is not None and len(data) != size:
        raise SealError(f"{name}: se esperan {size} bytes")
    return data


def associated(agent_id: int, visit_id: int, kind: str) -> bytes:
    """What a sealed body is bound to: opened for this agent, visit and operation only."""
    return f"{agent_id}/{visit_id}/{kind}".encode()


@dataclass(frozen=True)
class FieldSeal:
    private: ec.EllipticCurvePrivateKey

    @classmethod
    def from_secret(cls, secret: bytes) -> FieldSeal:
        """The console's key pair, the same for every process sharing `secret`."""
        seed = HKDF(hashes.SHA256(), 32, salt=b"cobrador-field-seal", info=b"p256 v1").derive(
            secret
        )
        scalar = int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1
        return cls(ec.derive_private_key(scalar, ec.SECP256R1()))

    @property
    def public_raw(self) -> bytes:
        """The public key as WebCrypto imports it ("raw": the uncompressed point)."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def kid(self) -> str:
        return hashlib.sha256(self.public_raw).hexdigest()[:16]

    def open(self, sealed: object, aad: bytes) -> dict[str, Any]:
        """The body sealed by the app; SealError when it cannot be (UnknownSealKey:
        sealed for another key)."""
        if not isinstance(sealed, dict) or sealed.get("v") != VERSION:
            raise SealError("sealed: se espera un objeto de la versión 1")
        if sealed.get("kid") != self.kid:
            raise UnknownSealKey("sealed: cifrado con una clave que esta consola no tiene")
        epk = _b64(sealed.get("epk"), "epk", 65)
        iv = _b64(sealed.get("iv"), "iv", 12)
        ct = _b64(sealed.get("ct"), "ct")
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epk)
            shared = self.private.exchange(ec.ECDH(), peer)
        except ValueError:
            raise SealError("epk: no es un punto de P-256") from None
        key = HKDF(hashes.SHA256(), 32, salt=None, info=INFO).derive(shared)
        try:
            plain = AESGCM(key).decrypt(iv, ct, aad)
        except InvalidTag:
            raise SealError("sealed: no se puede abrir (alterado, o de otra operación)") from None
        try:
            body = json.loads(plain)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise SealError("sealed: se espera un objeto JSON")
        return body

    def seal(self, body: dict[str, Any], aad: bytes) -> dict[str, Any]:
        """What the app does (console/static/field/app.js seal()), for tests and tools."""
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.public_raw)
        key = HKDF(hashes.SHA256(), 32, salt=None, info=INFO).derive(
            ephemeral.exchange(ec.ECDH(), peer)
        )
        iv = os.urandom(12)
        ct = AESGCM(key).encrypt(iv, json.dumps(body).encode(), aad)
        epk = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"v": VERSION, "kid": self.kid, "epk": base64.b64encode(epk).decode(),
                "iv": base64.b64encode(iv).decode(), "ct": base64.b64encode(ct).decode()}  # fmt: skip
