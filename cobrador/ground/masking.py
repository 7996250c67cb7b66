"""Phone numbers, e-mail and postal addresses as logs, screens and audit payloads show them: never whole."""

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


# The most of a postal address's place that is shown (a hostile address is 300 characters).
POSTAL_SHOWN = 80


def mask_postal(address: str | None) -> str:
    """Where a letter went, not the door: the address's last two parts (postal code,
    town, state; parts are split at commas and line breaks) behind `***, `, the
    first part (the street) always hidden, at most `POSTAL_SHOWN` characters; an
    address of one part is hidden whole; none: empty."""
    if not address or not address.strip():
        return ""
    parts = [p.strip() for p in address.replace("\n", ",").split(",") if p.strip()]
    if len(parts) < 2:
        return "*" * min(len(address.strip()), POSTAL_SHOWN)
    place = ", ".join(parts[-min(2, len(parts) - 1) :])
    return "***, " + place[:POSTAL_SHOWN]
