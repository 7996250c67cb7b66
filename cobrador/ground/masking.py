"""Phone numbers as logs, screens and audit payloads show them: never whole."""

from __future__ import annotations


def mask_phone(e164: str | None) -> str:
    """The first three characters (`+` and the country code's start) and the last four
    digits; a number of seven characters or fewer is hidden whole; none: empty."""
    if not e164:
        return ""
    if len(e164) <= 7:
        return "*" * len(e164)
    return e164[:3] + "*" * (len(e164) - 7) + e164[-4:]


def mask_email(address: str | None) -> str:
    """The local part's first character and the domain: `j***@example.com`; an
    address without `@` is hidden whole; none: empty."""
    if not address:
        return ""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "*" * len(address)
    return local[0] + "***@" + domain
