"""The debtor's document's last 4 digits as an identity answer: checked against the
portal's keyed hash of them (selfservice/identity.py); cobrador never holds the digits."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from selfservice import identity as idc
from store.models import Account


def document_key(encoded: str) -> bytes | None:
    """The portal's identity key from settings; None when unset or unusable (then no
    document is asked: an account's identity hash cannot be checked without it)."""
    try:
        return idc.identity_key(encoded)
    except idc.IdentityError:
        return None


def document_matcher(key: bytes | None, account: Account) -> Callable[[str], bool] | None:
    """The check of the document's last digits typed by the agent against the account's
    imported identity; None when there is nothing to check (no key, none on file)."""
    stored = account.identity_hash
    if key is None or not stored:
        return None

    def matches(answer: str) -> bool:
        try:
            digits = idc.normalise_answer(answer)
        except idc.IdentityError:
            return False
        return hmac.compare_digest(stored, idc.identity_hash(key, account.external_ref, digits))

    return matches
