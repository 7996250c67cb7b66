"""Whether the receiving MTA proved an e-mail's From address (RFC 8601
Authentication-Results under its authserv-id): what counts as proof, and what not."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from gateways.mail_auth import from_proven

MTA = "mx.cobranza.example"


def mail(*results: str, sender: str = "Deudor <deudor@correo.example>") -> bytes:
    lines = [f"Authentication-Results: {r}" for r in results]
    return "\r\n".join([*lines, f"From: {sender}", "Subject: x", "", "BAJA", ""]).encode()


def proven(raw: bytes) -> tuple[bool, str]:
    verdict = from_proven(message_from_bytes(raw, policy=policy.default), MTA)
    return verdict.proven, verdict.why


@pytest.mark.parametrize(("results", "why"), [
    ((f"{MTA}; dmarc=pass header.from=correo.example",), "dmarc=pass"),
    ((f"{MTA}; dmarc=pass",), "dmarc=pass"),
    ((f"{MTA}; dkim=pass header.d=correo.example; dmarc=none",), "dkim=pass"),
    ((f"{MTA}; spf=pass smtp.mailfrom=correo.example",), "spf=pass"),
])  # fmt: skip
def test_given_our_mtas_pass_aligned_with_from_then_proven(
    results: tuple[str, ...], why: str
) -> None:
    assert proven(mail(*results)) == (True, why)


@pytest.mark.parametrize("results", [
    (),
    ("mx.otro.example; dmarc=pass header.from=correo.example",),
    (f"{MTA}; dmarc=fail header.from=correo.example",),
    (f"{MTA}; dmarc=pass header.from=otro.example",),
    (f"{MTA}; dkim=pass header.d=otro.example",),  # signed, but by another domain
    (f"{MTA}; dkim=pass header.d=example",),  # a parent domain is not the From domain
    (f"{MTA}; spf=pass smtp.mailfrom=x@otro.example",),
    (f"{MTA}; none",),
    (f"{MTA}; dmarc",),  # unreadable: no result
    # Only the topmost header of our MTA is its own: one below it was in the message.
    (f"{MTA}; dmarc=fail header.from=correo.example",
     f"{MTA}; dmarc=pass header.from=correo.example"),
])  # fmt: skip
def test_given_no_aligned_pass_from_our_mta_then_not_proven(results: tuple[str, ...]) -> None:
    ok, why = proven(mail(*results))
    assert not ok and why


def test_given_several_from_addresses_then_not_proven() -> None:
    raw = mail(f"{MTA}; dmarc=pass header.from=correo.example",
               sender="a@correo.example, b@correo.example")  # fmt: skip
    assert proven(raw) == (False, "not exactly one From address")
