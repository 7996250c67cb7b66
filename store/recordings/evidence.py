"""The audit subject of a recording's entries: its account, when the call has one."""

from __future__ import annotations


def account_subject(account_id: int | None) -> str | None:
    """`account:<id>`; None for an inbound call not matched to an account."""
    return None if account_id is None else f"account:{account_id}"


def account_ids(account_id: int | None) -> list[int]:
    return [] if account_id is None else [account_id]
