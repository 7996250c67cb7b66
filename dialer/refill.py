"""Refill a campaign's hopper from SQL with accounts the law allows now.

Candidates come through two indexes, never a scan of the portfolio: never
dialed accounts through `ix_accounts_never_dialed`, then due ones through
`ix_accounts_dialable` (campaign, status, next_attempt_at). Each candidate's
phones are evaluated by the compliance engine (the first check); the first
allowed phone in rotation enters the hopper. Blocked decisions are recorded
one by one; the admitted ones of a refill as one audit entry. A blocked account is put back to sleep for a
time that depends on why (outside hours: minutes; registry-listed: a day), and
the reasons are counted: they are the hopper's health when it runs dry.

An admitted account is held in SQL (`next_attempt_at` pushed by HOPPER_HOLD,
`hopper_since` set) while it waits in the hopper; a hopper lost with Redis gives
its accounts back (dialer/hopper_holds.py). An account with a call in flight (an
open attempt) is never a candidate, whatever its dates say.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, joinedload

from compliance.debtor_time import account_day
from compliance.engine import Decision, no_usable_number
from compliance.service import ComplianceService, Item, account_facts, phone_facts
from dialer.hopper import Hopper, HopperEntry
from dialer.hopper_holds import in_flight
from dialer.priority import account_priority, weights_for
from metrics import definitions as m
from store import audit
from store.db import transaction
from store.importing.bulk import any_of
from store.models import Account, CallAttempt, Callback, Campaign, Promise
from store.models import Decision as DecisionRow

log = logging.getLogger(__name__)

# While in the hopper an account is not a candidate again; when its lease ends
# the dialer sets next_attempt_at from the call's result (recycling). A hopper
# lost with Redis ends the hold early (dialer/hopper_holds.py).
HOPPER_HOLD = timedelta(hours=2)
BACKOFF_BY_REASON = {
    "outside_hours": timedelta(minutes=15),
    "day_not_allowed": timedelta(hours=1),
    "holiday": timedelta(hours=1),
    "attempt_cap_day": timedelta(hours=1),
    "attempt_cap_week": timedelta(hours=6),
    "contact_cap_week": timedelta(hours=6),
    "recent_abandon": timedelta(hours=1),
    # The system, not the debtor: retry soon so dialing resumes once fixed.
    "registry_unavailable": timedelta(minutes=5),
    "registry_stale": timedelta(minutes=5),
}
DEFAULT_BACKOFF = timedelta(hours=24)
DIALABLE_STATUSES = ("active",)
HEALTH_TTL_SECONDS = 3600


def backoff_for(reasons: Sequence[str]) -> timedelta:
    """Until the soonest reason may clear; every rule is checked again then."""
    return min(
        (BACKOFF_BY_REASON.get(r, DEFAULT_BACKOFF) for r in reasons), default=DEFAULT_BACKOFF
    )


@dataclass
class RefillReport:
    considered: int = 0
    added: int = 0
    blocked: Counter[str] = field(default_factory=Counter)
    callbacks: int = 0
    in_flight: int = 0  # candidates skipped: a call to them is in flight
    released: int = 0  # accounts given back by a lost hopper just before this refill
    next_due_at: float | None = None  # nothing due: when the next account is

    def as_dict(self, at: float) -> dict[str, Any]:
        out: dict[str, Any] = {"at": at, "considered": self.considered, "added": self.added,
                               "callbacks": self.callbacks, "blocked": dict(self.blocked)}  # fmt: skip
        if self.in_flight:
            out["in_flight"] = self.in_flight
        if self.released:
            out["released"] = self.released
        if self.next_due_at is not None:
            out["next_due_at"] = self.next_due_at
        return out


@dataclass(frozen=True)
class Candidate:
    account: Account
    attempts: int
    broken_promise: bool
    callback: Callback | None = None


def health_key(campaign: str) -> str:
    return f"cobrador:hopper:{{{campaign}}}:health"


class Refiller:
    def __init__(self, sql: Engine, redis: aioredis.Redis, hopper: Hopper,
                 compliance: ComplianceService, campaign: Campaign) -> None:  # fmt: skip
        self.sql = sql
        self.redis = redis
        self.hopper = hopper
        self.compliance = compliance
        self.campaign = campaign
        self.weights = weights_for((campaign.config or {}).get("priority"))

    async def refill(self, now: datetime, want: int, released: int = 0) -> RefillReport:
        """`released`: accounts a lost hopper just gave back (hopper_holds), for the health."""
        report = RefillReport(released=released)
        if want <= 0:
            return report
        candidates = await asyncio.to_thread(self._candidates, now, want)
        busy = await asyncio.to_thread(in_flight, self.sql, [c.account.id for c in candidates], now)
        if busy:
            report.in_flight = len(busy)
            candidates = [c for c in candidates if c.account.id not in busy]
        report.considered = len(candidates)
        report.callbacks = sum(1 for c in candidates if c.callback is not None)
        if not candidates:
            if not busy:
                report.next_due_at = await asyncio.to_thread(self._next_due, now)
            await self._store_health(report, now)
            return report
        items: list[Item] = []
        owners: list[int] = []
        # The debtor's country's law, whatever campaign holds the account.
        profiles = {c: self.compliance.profile_for(self.campaign, c)
                    for c in {cand.account.country for cand in candidates}}  # fmt: skip
        for index, cand in enumerate(candidates):
            profile = profiles[cand.account.country]
            for phone in _rotation(cand):
                items.append(Item(account_facts(cand.account), phone_facts(cand.account, phone.number_e164),
                                  profile, self.campaign.id))  # fmt: skip
                owners.append(index)
        decisions = await self.compliance.evaluate_batch(items, now) if items else []
        chosen: dict[int, tuple[Item, Decision]] = {}
        for index, item, decision in zip(owners, items, decisions, strict=True):
            best = chosen.get(index)
            if best is None or (decision.allowed and not best[1].allowed):
                chosen[index] = (item, decision)
        entries: list[HopperEntry] = []
        sleeps: dict[int, datetime] = {}
        admitted: set[int] = set()
        unusable: list[tuple[Item, Decision]] = []
        for index, cand in enumerate(candidates):
            picked = chosen.get(index)
            if picked is None:
                # No number that may be dialed: the decision says so, like any other.
                profile = profiles[cand.account.country]
                picked = (Item(account_facts(cand.account), None, profile, self.campaign.id),
                          no_usable_number([p.status for p in cand.account.phones], profile, now))  # fmt: skip
                unusable.append(picked)
            item, decision = picked
            if decision.allowed:
                priority = account_priority(
                    stage=cand.account.stage, due_date=cand.account.due_date,
                    # Days past due on the debtor's date (the earliest of their zones',
                    # as promises are kept and broken), not UTC's: 00:00 UTC is 18:00
                    # of the day before in Mexico City.
                    balance=cand.account.balance, today=account_day(now, cand.account),
                    broken_promise=cand.broken_promise, callback_due=cand.callback is not None,
                    weights=self.weights,
                )  # fmt: skip
                payload: dict[str, Any] = {"phone": item.phone_e164, "reason": "fresh"}
                if cand.callback is not None:
                    payload.update(reason="callback", callback_id=cand.callback.id,
                                   agent_id=cand.callback.agent_id)  # fmt: skip
                elif cand.broken_promise:
                    payload["reason"] = "broken_promise"
                entries.append(HopperEntry(cand.account.id, priority, now.timestamp(), payload))
                sleeps[cand.account.id] = now + HOPPER_HOLD
                admitted.add(cand.account.id)
            else:
                report.blocked.update(decision.reasons)
                sleeps[cand.account.id] = now + backoff_for(decision.reasons)
                for reason in decision.reasons:
                    m.DECISION_BLOCKS.labels(
                        self.campaign.name, self.campaign.country, "hopper", reason
                    ).inc()
            m.DECISIONS.labels(self.campaign.name, self.campaign.country, "hopper",
                               str(decision.allowed).lower()).inc()  # fmt: skip
        recorded = [chosen[i] for i in sorted(chosen)]
        queued_callbacks = [e.payload["callback_id"] for e in entries if "callback_id" in e.payload]
        await asyncio.to_thread(self._write, recorded + unusable, sleeps, admitted, now,
                                queued_callbacks)  # fmt: skip
        report.added = await self.hopper.add(entries, now.timestamp())
        await self._store_health(report, now)
        return report

    def _candidates(self, now: datetime, want: int) -> list[Candidate]:
        with Session(self.sql) as s:
            due = s.execute(
                select(Callback).where(Callback.campaign_id == self.campaign.id,
                                       Callback.status == "pending", Callback.due_at <= now)
                .order_by(Callback.due_at).limit(want)
            ).scalars().all()  # fmt: skip
            callback_by_account = {c.account_id: c for c in due}
            # Never-dialed accounts first (ix_accounts_never_dialed, in id order), then
            # those due longest (ix_accounts_dialable, in next_attempt_at order): two
            # index range scans of `want` rows. One query with `IS NULL OR <= now`
            # ordered NULLS FIRST makes PostgreSQL read and sort every match instead.
            base = (
                select(Account)
                .options(joinedload(Account.phones))
                .where(
                    Account.campaign_id == self.campaign.id, Account.status.in_(DIALABLE_STATUSES)
                )
            )
            fresh = base.where(Account.next_attempt_at.is_(None)).order_by(Account.id)
            accounts = {a.id: a for a in s.execute(fresh.limit(want)).unique().scalars()}
            if len(accounts) < want:
                oldest = base.where(Account.next_attempt_at <= now).order_by(
                    Account.next_attempt_at, Account.id
                )
                for a in s.execute(oldest.limit(want - len(accounts))).unique().scalars():
                    accounts[a.id] = a
            # A callback that is due wins over its account's sleep.
            missing = [a for a in callback_by_account if a not in accounts]
            if missing:
                for a in s.execute(select(Account).options(joinedload(Account.phones))
                                   .where(any_of(Account.id, missing, s),
                                          Account.status.in_(DIALABLE_STATUSES))).unique().scalars():  # fmt: skip
                    accounts[a.id] = a
            if not accounts:
                return []
            ids = list(accounts)
            # Calls placed: the phone rotation's count. A message sent or something the
            # debtor did (a portal visit, a reply) is a ledger row too, but dials nothing.
            attempts = dict(s.execute(
                select(CallAttempt.account_id, func.count()).where(any_of(CallAttempt.account_id, ids, s),
                                                                   CallAttempt.channel == "call",
                                                                   CallAttempt.direction == "outbound")
                .group_by(CallAttempt.account_id)).all())  # fmt: skip
            broken = set(s.execute(
                select(Promise.account_id).where(any_of(Promise.account_id, ids, s), Promise.status == "broken",
                                                 Promise.resolved_at >= now - timedelta(days=30))
            ).scalars())  # fmt: skip
            return [Candidate(a, int(attempts.get(a.id, 0)), a.id in broken, callback_by_account.get(a.id))
                    for a in accounts.values()]  # fmt: skip

    def _next_due(self, now: datetime) -> float | None:
        """When the campaign's next account comes due (ix_accounts_dialable), for the
        wallboard's "why is the hopper empty"; None: no active account left."""
        with Session(self.sql) as s:
            at = s.scalar(
                select(func.min(Account.next_attempt_at)).where(
                    Account.campaign_id == self.campaign.id, Account.status.in_(DIALABLE_STATUSES),
                    Account.next_attempt_at > now)
            )  # fmt: skip
        return None if at is None else at.timestamp()

    def _write(self, recorded: list[tuple[Item, Decision]], sleeps: Mapping[int, datetime],
               admitted_ids: set[int], now: datetime, queued_callbacks: list[int]) -> None:  # fmt: skip
        with transaction(self.sql) as s:
            # The accounts first: a refill of the same accounts at once (another dialer's,
            # its campaign's refill lock expired) waits here until this one commits, and
            # only then reads their last decisions, so a "no usable number" is written
            # once across dialers. On PostgreSQL their rows are locked, in id order (no
            # deadlock between two refills); on SQLite the first write takes its one
            # writer's lock for the whole transaction.
            _lock_accounts(s, sorted(sleeps))
            by_time: dict[tuple[datetime, bool], list[int]] = {}
            for account_id, at in sleeps.items():
                by_time.setdefault((at, account_id in admitted_ids), []).append(account_id)
            for (at, held), ids in by_time.items():
                # One array parameter, not an IN list of hundreds: psycopg parses
                # every placeholder of a statement on each execution.
                s.execute(
                    update(Account).where(any_of(Account.id, ids, s))
                    .values(next_attempt_at=at, hopper_since=now if held else None),
                    execution_options={"synchronize_session": False},
                )  # fmt: skip
            if queued_callbacks:
                s.execute(
                    update(Callback)
                    .where(any_of(Callback.id, queued_callbacks, s))
                    .values(status="queued")
                )
            blocked = _changed_only(s, [(i, d) for i, d in recorded if not d.allowed])
            if blocked:
                # Every call not placed keeps its own decision row and audit entry.
                self.compliance.record(
                    s, [i for i, _ in blocked], [d for _, d in blocked], "hopper"
                )
            admitted = [(i, d) for i, d in recorded if d.allowed]
            if admitted:
                audit.append(s, "hopper_admission", admission_evidence(self.campaign.id, admitted),
                             actor="dialer", subject=f"campaign:{self.campaign.id}")  # fmt: skip

    async def _store_health(self, report: RefillReport, now: datetime) -> None:
        await self.redis.set(health_key(self.campaign.name), json.dumps(report.as_dict(now.timestamp())),
                             ex=HEALTH_TTL_SECONDS)  # fmt: skip


def admission_evidence(
    campaign_id: int, admitted: Sequence[tuple[Item, Decision]]
) -> dict[str, Any]:
    """One audit entry for a refill's admitted accounts, each decision in full.

    A row and a chain entry per admitted account cost more than the rest of the
    refill together; this stage places no call (the final check at originate
    records its own decision per attempt), so the batch is one entry.
    """
    return {
        "stage": "hopper",
        "campaign_id": campaign_id,
        "count": len(admitted),
        "decisions": [
            {"account_id": item.account.id, "phone": item.phone_e164, **decision.as_dict()}
            for item, decision in admitted
        ],
    }


def _lock_accounts(s: Session, account_ids: list[int]) -> None:
    """Row locks on the accounts, in id order (PostgreSQL; SQLite has no row locks: its
    first write serializes the transaction instead). The lock an UPDATE of them takes
    (FOR NO KEY UPDATE): rows inserted meanwhile that name them (attempts, decisions)
    do not wait for it."""
    if account_ids and s.get_bind().dialect.name == "postgresql":
        s.execute(
            select(Account.id).where(any_of(Account.id, account_ids, s))
            .order_by(Account.id).with_for_update(key_share=True)
        )  # fmt: skip


def _changed_only(s: Session, blocked: list[tuple[Item, Decision]]) -> list[tuple[Item, Decision]]:
    """The blocked decisions to record: all of them, but an account's "no usable
    number" only when its last call decision is not that same one. Such an account
    comes back every day until its numbers change; a row a day would say nothing new.
    The last call decision is read from SQL, so a restart or a lost Redis changes
    nothing, and after the accounts were locked or written in this transaction, so
    two dialers refilling one account at once write it once; a decision that names a
    number (a call placed, a number revived and blocked) in between makes the next
    one a change."""
    numberless = [i.account.id for i, _ in blocked if i.phone is None]
    if not numberless:
        return blocked
    last_ids = select(func.max(DecisionRow.id)).where(
        any_of(DecisionRow.account_id, numberless, s), DecisionRow.channel == "call"
    ).group_by(DecisionRow.account_id)  # fmt: skip
    last = {
        r.account_id: r for r in s.scalars(select(DecisionRow).where(DecisionRow.id.in_(last_ids)))
    }

    def same(item: Item, decision: Decision) -> bool:
        row = last.get(item.account.id)
        return (row is not None and row.phone_e164 is None and not row.allowed
                and row.campaign_id == item.campaign_id
                and list(row.reasons) == list(decision.reasons))  # fmt: skip

    return [(i, d) for i, d in blocked if i.phone is not None or not same(i, d)]


def _rotation(cand: Candidate) -> list[Any]:
    """The account's active phones, starting after the one dialed last."""
    phones = [p for p in cand.account.phones if p.status == "active"]
    if cand.callback is not None and cand.callback.phone_id is not None:
        preferred = [p for p in phones if p.id == cand.callback.phone_id]
        return preferred + [p for p in phones if p.id != cand.callback.phone_id]
    if not phones:
        return []
    start = cand.attempts % len(phones)
    return phones[start:] + phones[:start]
