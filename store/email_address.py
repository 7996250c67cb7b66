"""E-mail addresses as the store keeps them: one syntax check shared by the imports
and the compliance engine (a bounce, not this, says an address does not exist)."""

from __future__ import annotations

MAX_EMAIL = 254  # RFC 5321's limit on a forward path, and the column's size
_FORBIDDEN = frozenset('<>(),;:[]"\\')


def is_email_address(text: str) -> bool:
    """A plausible single mailbox (local@domain.tld), at most 254 characters."""
    if not text or len(text) > MAX_EMAIL or text != text.strip() or text.count("@") != 1:
        return False
    if any(c.isspace() or c in _FORBIDDEN for c in text):
        return False
    local, domain = text.split("@")
    if not local or len(local) > 64 or "." not in domain:
        return False
    labels = domain.split(".")
    return all(label and len(label) <= 63 and not label.startswith("-") for label in labels)
