"""HTTPS for the console: the operator's certificate and key (PEM), or plain
HTTP when neither is set (tests, a one-machine demo on 127.0.0.1)."""

from __future__ import annotations

import ssl
from pathlib import Path


class TLSConfigError(ValueError):
    """The certificate settings cannot serve HTTPS; the message says which."""


def server_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TLSConfigError("set both console_tls_cert and console_tls_key, or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"cannot load the console certificate {cert} / {key}: {exc}") from exc
    return context
