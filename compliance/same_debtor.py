"""One debtor behind several accounts, as the compliance service sees them at a check:
the accounts that share one of an account's numbers (compliance/debtor_accounts.py, read
from SQL), the protection one of them passes on to the others (one person on the
evidence), a number one of them marks as a third party's, and the counters of the
accounts counted together merged into each account's (a wider set: the safe side), so
every cap counts the person, not the debt. The final check's Lua (compliance/caps.py)
counts the same set: `accounts_of` is its `linked` loader."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

import redis
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.exc import SQLAlchemyError

from compliance.caps import CapStore, HistoryUnavailable
from compliance.debtor_accounts import (
    SharedNumbers,
    cap_linked_accounts,
    protections_of,
    shared_numbers,
    third_party_numbers,
)
from compliance.engine import CounterSnapshot

log = logging.getLogger(__name__)

# Each account's other accounts of the same debtor; None: SQL could not say.
Linked = Mapping[int, tuple[int, ...]] | None


class SameDebtor:
    """Reads, from SQL, which accounts are one debtor's and what that binds."""

    def __init__(self, sql: SqlEngine) -> None:
        self.sql = sql

    async def accounts_of(self, account_id: int) -> tuple[int, ...]:
        """The other accounts one account's caps count, for the final check's script (the
        same set as `linked(...).caps`)."""
        return await asyncio.to_thread(cap_linked_accounts, self.sql, account_id)

    async def linked(self, numbers: Mapping[int, tuple[str, ...]]) -> SharedNumbers | None:
        """Each account's (by its numbers) other accounts: of the same debtor on the
        evidence, and counted together for the caps; None when SQL cannot say (every cap
        then fails: the debtor's count is unknown)."""
        try:
            return await asyncio.to_thread(shared_numbers, self.sql, numbers)
        except SQLAlchemyError:
            log.warning("accounts sharing numbers unreadable; blocking %d", len(numbers))
            return None

    async def inherited_protections(self, linked: Linked) -> dict[int, str]:
        """For each account, the protection of the first of its linked accounts that has
        one (compliance/protection.py): a deceased debtor, a minor or an insolvency
        proceeding is the person's, whichever of their debts the creditor marked. An
        account whose own protection is set keeps it (the caller's to decide). Unreadable:
        none (the caps of those accounts fail: blocked)."""
        others = sorted({o for os in (linked or {}).values() for o in os})
        if not others:
            return {}
        try:
            found = await asyncio.to_thread(protections_of, self.sql, others)
        except SQLAlchemyError:
            log.warning("protections of %d linked accounts unreadable", len(others))
            return {}
        out: dict[int, str] = {}
        for account_id, os in (linked or {}).items():
            inherited = next((found[o] for o in os if o in found), None)
            if inherited is not None:
                out[account_id] = inherited
        return out

    async def third_party_numbers(self, numbers: Sequence[str]) -> frozenset[str] | None:
        """The numbers among `numbers` some account marks as a third party's: a number that
        reaches the debtor's mother reaches her from every account that lists it. None
        when SQL cannot say (the caller treats every one as marked: fail closed)."""
        if not numbers:
            return frozenset()
        try:
            return await asyncio.to_thread(third_party_numbers, self.sql, numbers)
        except SQLAlchemyError:
            log.warning("third-party marks of %d numbers unreadable; blocking", len(numbers))
            return None

    async def merged_counters(
        self, caps: CapStore, linked: Linked, snapshots: Mapping[int, CounterSnapshot],
        now: datetime,
    ) -> dict[int, CounterSnapshot]:  # fmt: skip
        """Each account's counters with those of the accounts counted together with it
        (`SharedNumbers.caps`): the same person, whose caps are one. Anything unreadable makes the
        debtor's counters unknown (every cap fails)."""
        if linked is None:
            return {a: CounterSnapshot(available=False) for a in snapshots}
        wanted = sorted({o for others in linked.values() for o in others} - set(snapshots))
        pool = dict(snapshots)
        if wanted:
            try:
                # Their contacts and messages may be only in SQL (another process wrote them).
                await caps.merge_from_sql(wanted, now)
                pool.update(await caps.snapshot(wanted, now))
            except (HistoryUnavailable, redis.RedisError, OSError):
                log.warning("counters of %d linked accounts unreadable; blocking", len(wanted))
                pool.update({a: CounterSnapshot(available=False) for a in wanted})
        out = dict(snapshots)
        for account_id, others in linked.items():
            merged = out[account_id]
            for other in others:
                merged = merged.with_events_of(pool[other])
            out[account_id] = merged
        return out
