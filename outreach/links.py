"""Signed short-lived links to the self-service portal: a message carries one instead
of the debt's details. The token names the account and its expiry and is signed with
HMAC-SHA256 under a secret the portal shares; `verify` is what the portal runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TOKEN_VERSION = 1
SIGNATURE_BYTES = 16  # 128 bits: short enough for an SMS, far beyond guessing
MIN_SECRET_BYTES = 32
MAX_TTL = timedelta(days=30)  # the longest a link lives (what its gate's pruning relies on)


class LinkError(ValueError):
    """A portal link that is malformed, forged or expired (the portal says so)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkSigner:
    base_url: str  # the portal's address, e.g. https://pagos.example.mx/p
    secret: bytes
    ttl: timedelta = timedelta(hours=72)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise LinkError(f"the portal link secret must be {MIN_SECRET_BYTES} bytes or more")
        if not self.base_url.startswith(("https://", "http://")):
            raise LinkError(f"portal URL {self.base_url!r} must start with https://")
        if self.ttl <= timedelta(0) or self.ttl > MAX_TTL:
            raise LinkError("a portal link lives more than 0 and at most 30 days")

    def token(self, account_id: int, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        body = struct.pack(">BQI", TOKEN_VERSION, account_id, expires)
        mac = hmac.new(self.secret, body, hashlib.sha256).digest()[:SIGNATURE_BYTES]
        return _b64(body + mac)

    def link(self, account_id: int, now: datetime) -> str:
        return f"{self.base_url.rstrip('/')}/{self.token(account_id, now)}"


def verify(token: str, secret: bytes, now: datetime) -> int:
    """The account a token names; LinkError when it is malformed, forged or expired."""
    try:
        raw = _unb64(token)
    except (ValueError, TypeError):
        raise LinkError("malformed link") from None
    if len(raw) != 13 + SIGNATURE_BYTES or _b64(raw) != token:
        # One spelling per token: base64's last character has bits no byte uses, and
        # the portal keys a link's wrong answers (its lock) by the token as written.
        raise LinkError("malformed link")
    body, mac = raw[:13], raw[13:]
    expected = hmac.new(secret, body, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise LinkError("link signature does not match")
    version, account_id, expires = struct.unpack(">BQI", body)
    if version != TOKEN_VERSION:
        raise LinkError("unknown link version")
    if now >= datetime.fromtimestamp(expires, UTC):
        raise LinkError("link expired")
    return int(account_id)
