"""SQL side of the dial loop: attempt rows created before every Originate (so
none can be lost) and completed when the call ends, with recycling applied."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from compliance import caller_ids
from compliance.debtor_time import date_zones
from compliance.engine import Decision
from compliance.service import ComplianceService, Item
from dialer.recycle import promise_hold_until
from dialer.stats import NOT_ENDED_HERE, AttemptTimes
from store import audit, number_validity
from store.db import transaction
from store.models import (
    Account,
    CallAttempt,
    Callback,
    Campaign,
    ContactChannel,
    Phone,
    PhoneStatus,
    Promise,
    RegistryImport,
)


def utc(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def load_campaign(sql: Engine, name: str) -> Campaign | None:
    with Session(sql, expire_on_commit=False) as s:
        return s.execute(select(Campaign).where(Campaign.name == name)).scalar_one_or_none()


def registered_caller_ids(sql: Engine, country: str) -> set[str]:
    with Session(sql) as s:
        return caller_ids.registered(s, country)


def latest_registry_imports(sql: Engine, names: list[str]) -> dict[str, RegistryImport]:
    """The newest import of each named registry."""
    out: dict[str, RegistryImport] = {}
    with Session(sql, expire_on_commit=False) as s:
        for row in s.scalars(
            select(RegistryImport).where(RegistryImport.name.in_(names))
            .order_by(RegistryImport.imported_at.desc())
        ):  # fmt: skip
            out.setdefault(row.name, row)
    return out


NOT_PLACED_REASON = "dialer stopped before the final check; never dialed"
CLAIM_LOST_REASON = "its dialer lost the claim on the account before the final check; never dialed"
IN_FLIGHT_REASON = "another dialer's call to the account was in flight; never dialed"
# An open attempt that passed its final check this recently is a call that may be in
# flight (a live dialer ends every call within stuck_call_seconds, an hour).
IN_FLIGHT_SECONDS = 3600.0
# After a number is marked invalid the account's other numbers are tried this soon,
# not after the dead number's rest (a week): the caps still decide at every check.
NEXT_NUMBER_DELAY = timedelta(hours=1)
STORE_FAULT_REASON = "a store failed between the attempt row and the originate; never dialed"


def close_lost_attempts(sql: Engine, campaign_id: int, live: set[int], mine: set[int],
                        before: datetime | None, actor: str,
                        held_elsewhere: Set[int] = frozenset(),
                        outcome: Callable[[CallAttempt], Mapping[str, Any] | None] | None = None,
                        dead_accounts: Set[int] = frozenset(),
                        dead_before: datetime | None = None,
                        next_attempt: Callable[[str, int, datetime], datetime] | None = None,
                        dead_dialers: Set[str] = frozenset(),
                        alive_dialers: Set[str] = frozenset(),
                        ) -> list[CallAttempt]:  # fmt: skip
    """Outbound attempts with no result, started before `before`, that neither
    Asterisk (no live channel) nor this dialer knows: a dialer died holding them.
    One that passed the final check (it has its decision) may have been dialed:
    closed with `outcome(attempt)` (what Asterisk reported of its end: result, times,
    cause, agent; None: not yet, left open for a later pass), else `lost` at its
    start, still an attempt for the caps. One that
    never did was never dialed: closed as `not_placed`. Both audited. Attempts of
    accounts in `held_elsewhere` (another live dialer holds their lease) are left
    alone. Those of `dead_accounts` (leased by a dialer whose heartbeat is gone,
    dialer/liveness.py) need only have started before `dead_before`, and so do those
    placed by `dead_dialers` (the row names its dialer: found without its leases,
    which expire or a Redis flush loses; another dialer's lease on the account since
    protects that dialer's own attempt, not this one). Those placed by
    `alive_dialers` (their heartbeat is there, or the caller cannot tell) are left
    to them: a live dialer ends its own calls, also those whose leases Redis lost
    (a flush), on an Asterisk whose channels the caller does not see. Each is closed
    only if still open (another survivor may close it at the same moment: once).
    `next_attempt(result, same_in_a_row, ended_at)`: the campaign's recycle rule; a
    call closed here then gives its account the date a finished call would (the
    hopper's hold lifted), so it is not dialed again the moment the dead dialer's
    lease runs out. Returns the attempts closed (detached)."""
    started = CallAttempt.started_at < before
    if dead_accounts and dead_before is not None:
        started = or_(started, CallAttempt.account_id.in_(sorted(dead_accounts))
                      & (CallAttempt.started_at < dead_before))  # fmt: skip
    if dead_dialers and dead_before is not None:
        started = or_(started, CallAttempt.placed_by.in_(sorted(dead_dialers))
                      & (CallAttempt.started_at < dead_before))  # fmt: skip
    with transaction(sql) as s:
        rows = list(s.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id,
                                      CallAttempt.direction == "outbound",
                                      # Only calls: a message's result comes from its
                                      # provider's report, not from Asterisk.
                                      CallAttempt.channel == ContactChannel.call.value,
                                      CallAttempt.result.is_(None), started)
        ))  # fmt: skip
        candidates = [a for a in rows if a.id not in live and a.id not in mine
                      and (a.account_id not in held_elsewhere or a.placed_by in dead_dialers)
                      and a.placed_by not in alive_dialers]  # fmt: skip
        s.expunge_all()
        lost = []
        for attempt in candidates:
            placed = attempt.decision_id is not None
            if placed:
                reported = outcome(attempt) if outcome is not None else {}
                if reported is None:
                    continue  # Asterisk's record of its end is not written yet: later
                values = dict(reported)
                values.setdefault("result", "lost")
                values.setdefault("ended_at", attempt.ended_at or attempt.started_at)
            else:
                values = {"result": "not_placed",
                          "ended_at": attempt.ended_at or attempt.started_at}  # fmt: skip
            done = s.execute(
                update(CallAttempt).where(CallAttempt.id == attempt.id, CallAttempt.result.is_(None))
                .values(**values)
            ).rowcount  # type: ignore[attr-defined]  # fmt: skip
            if not done:
                continue  # closed meanwhile (its dialer, or another survivor)
            for name, value in values.items():
                setattr(attempt, name, value)
            lost.append(attempt)
            account = s.get(Account, attempt.account_id) if attempt.account_id else None
            marked = None
            if placed:
                marked = apply_number_rule(s, attempt.id, attempt.result,
                                           answered=attempt.answered_at is not None,
                                           actor=actor, now=utc_of(attempt.ended_at))  # fmt: skip
            if placed and next_attempt is not None and account is not None:
                in_a_row = results_in_a_row(s, account.id, str(attempt.result),
                                            phone_id=_counted_phone(attempt.result, attempt.phone_id))  # fmt: skip
                when = next_attempt(str(attempt.result), in_a_row, utc_of(attempt.ended_at))
                when = next_after_marked(s, account.id, marked, utc_of(attempt.ended_at), when)
                if account.later_than_its_date(when):  # never pulled forward
                    account.next_attempt_at = when
                    account.hopper_since = None
            reason = "dialer stopped before the call ended" if placed else NOT_PLACED_REASON
            audit.append(s, "attempt", {
                "attempt_id": attempt.id, "account_id": attempt.account_id,
                "result": attempt.result, "reason": reason,
                "ended_at": _iso(attempt.ended_at), "answered_at": _iso(attempt.answered_at),
                "hangup_cause": attempt.hangup_cause, "agent_id": attempt.agent_id,
            }, actor=actor, subject=f"account:{attempt.account_id}")  # fmt: skip
        return lost


def open_attempt_dialers(sql: Engine, campaign_id: int, pbx: str | None = None) -> set[str]:
    """The dialers that placed the campaign's open outbound calls, as their rows name
    them, through Asterisk `pbx` (None: any): whose silence a survivor on that
    Asterisk judges (dialer/liveness.py), whatever Redis still knows of them."""
    query = (
        select(CallAttempt.placed_by).distinct()
        .where(CallAttempt.result.is_(None), CallAttempt.campaign_id == campaign_id,
               CallAttempt.direction == "outbound",
               CallAttempt.channel == ContactChannel.call.value,
               CallAttempt.placed_by.is_not(None))
    )  # fmt: skip
    if pbx is not None:
        query = query.where(CallAttempt.placed_via == pbx)
    with Session(sql) as s:
        return {str(d) for d in s.scalars(query)}


def open_attempt_accounts(sql: Engine, campaign_id: int, accounts: Set[int]) -> set[int]:
    """Which of these accounts still have an open outbound attempt in the campaign."""
    if not accounts:
        return set()
    with Session(sql) as s:
        return {int(a) for a in s.scalars(
            select(CallAttempt.account_id).where(CallAttempt.campaign_id == campaign_id,
                                                 CallAttempt.direction == "outbound",
                                                 CallAttempt.result.is_(None),
                                                 CallAttempt.account_id.in_(sorted(accounts)))
        ) if a is not None}  # fmt: skip


def utc_of(value: datetime | None) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives naive ones back)."""
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def create_attempt(sql: Engine, *, channel: ContactChannel, mine: Set[int] = frozenset(),
                   actor: str = "dialer", **values: Any) -> tuple[int, list[int]]:  # fmt: skip
    """The attempt row on `channel` written before the final check and the placing
    (an Originate for a call), for an account this dialer has just claimed; `values`
    are the row's columns, those of the channel included (a call's phone and caller ID).
    In the same transaction, the account's open outbound attempts on that channel
    that never passed the final check (no decision) and are not this dialer's (`mine`)
    are closed as `not_placed`, audited: they belong to a dialer that lost its claim
    (it died, or stalled past its lease), so they were never placed, and the account
    never has two open attempts on one channel. If that dialer comes back,
    `start_placing` finds its attempt closed and it does not place it.
    Returns the new attempt's id and the ids closed."""
    account_id = values["account_id"]
    with transaction(sql) as s:
        stale = [i for i in s.scalars(
            select(CallAttempt.id).where(CallAttempt.account_id == account_id,
                                         CallAttempt.channel == channel.value,
                                         CallAttempt.direction == "outbound",
                                         CallAttempt.result.is_(None),
                                         CallAttempt.decision_id.is_(None))
        ) if i not in mine]  # fmt: skip
        closed = []
        for attempt_id in stale:
            done = s.execute(
                update(CallAttempt).where(CallAttempt.id == attempt_id, CallAttempt.result.is_(None),
                                          CallAttempt.decision_id.is_(None))
                .values(result="not_placed", ended_at=values["started_at"])
            ).rowcount  # type: ignore[attr-defined]  # fmt: skip
            if done:
                closed.append(attempt_id)
                audit.append(s, "attempt", {"attempt_id": attempt_id, "account_id": account_id,
                                            "result": "not_placed", "reason": CLAIM_LOST_REASON},
                             actor=actor, subject=f"account:{account_id}")  # fmt: skip
        row = CallAttempt(channel=channel.value, **values)
        s.add(row)
        s.flush()
        return int(row.id), closed


def close_not_placed(sql: Engine, *, account_id: int, channel: ContactChannel,
                     started_at: datetime, attempt_id: int | None, actor: str) -> list[int]:  # fmt: skip
    """This dialer wrote an attempt row and a store failed before it was placed
    (the Originate never sent): the attempt is closed as `not_placed`, audited,
    and the account's hopper hold lifted so the refill dials it again. The row is
    found by its id, or, when the reply to its own insert was lost (committed but
    the id unknown), by the account, channel and the exact start this dialer wrote
    with no decision yet. Idempotent: a retry after a lost reply closes nothing
    twice. Returns the ids closed."""
    mine = CallAttempt.id == attempt_id if attempt_id is not None else None
    unknown = ((CallAttempt.account_id == account_id) & (CallAttempt.channel == channel.value)
               & (CallAttempt.direction == "outbound") & (CallAttempt.started_at == started_at)
               & CallAttempt.decision_id.is_(None))  # fmt: skip
    with transaction(sql) as s:
        ids = list(s.scalars(
            select(CallAttempt.id).where(CallAttempt.result.is_(None),
                                         or_(mine, unknown) if mine is not None else unknown)
        ))  # fmt: skip
        closed = []
        for found in ids:
            done = s.execute(
                update(CallAttempt).where(CallAttempt.id == found, CallAttempt.result.is_(None))
                .values(result="not_placed", ended_at=started_at)
            ).rowcount  # type: ignore[attr-defined]  # fmt: skip
            if done:
                closed.append(int(found))
                audit.append(s, "attempt", {"attempt_id": int(found), "account_id": account_id,
                                            "result": "not_placed", "reason": STORE_FAULT_REASON},
                             actor=actor, subject=f"account:{account_id}")  # fmt: skip
        account = s.get(Account, account_id)
        if account is not None and account.hopper_since is not None:
            # The hopper's hold lifted: due again from the moment it was to be dialed.
            account.next_attempt_at = started_at
            account.hopper_since = None
        return closed


def start_placing(sql: Engine, attempt_id: int, **values: Any) -> bool:
    """Record what allowed the call (decision...) only if the attempt is still open:
    False when another dialer closed it meanwhile (close_unplaced_attempts), and
    then the call must not be placed. Nor is it (False, the attempt closed as
    `not_placed`, audited) while another attempt to the account on the same channel
    has passed its final check and is still open: a call in flight, placed by a
    dialer that took the account back from one judged dead (dialer/liveness.py)
    that was only stalled. One account's placings take turns (its row locked, on
    PostgreSQL; SQLite has one writer). `values` with a result (blocked) are
    recorded as they are."""
    with transaction(sql) as s:
        if values.get("result") is None and _other_call_in_flight(s, attempt_id):
            return False
        done = s.execute(
            update(CallAttempt).where(CallAttempt.id == attempt_id, CallAttempt.result.is_(None))
            .values(**values)
        ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        return bool(done)


def _other_call_in_flight(s: Session, attempt_id: int) -> bool:
    """Another open attempt to this attempt's account and channel has passed its final
    check (recently): this one is closed as not placed, audited."""
    mine = s.execute(select(CallAttempt.account_id, CallAttempt.channel, CallAttempt.started_at)
                     .where(CallAttempt.id == attempt_id, CallAttempt.result.is_(None))).one_or_none()  # fmt: skip
    if mine is None or mine.account_id is None:
        return False  # closed meanwhile: the update finds nothing
    s.execute(select(Account.id).where(Account.id == mine.account_id).with_for_update())
    since = mine.started_at - timedelta(seconds=IN_FLIGHT_SECONDS)
    other = s.scalar(
        select(CallAttempt.id).where(CallAttempt.account_id == mine.account_id,
                                     CallAttempt.channel == mine.channel,
                                     CallAttempt.direction == "outbound", CallAttempt.id != attempt_id,
                                     CallAttempt.result.is_(None), CallAttempt.decision_id.is_not(None),
                                     CallAttempt.started_at >= since).limit(1)
    )  # fmt: skip
    if other is None:
        return False
    done = s.execute(
        update(CallAttempt).where(CallAttempt.id == attempt_id, CallAttempt.result.is_(None))
        .values(result="not_placed", ended_at=mine.started_at)
    ).rowcount  # type: ignore[attr-defined]  # fmt: skip
    if done:
        audit.append(s, "attempt", {"attempt_id": attempt_id, "account_id": mine.account_id,
                                    "result": "not_placed", "reason": IN_FLIGHT_REASON,
                                    "in_flight": int(other)},
                     actor="dialer", subject=f"account:{mine.account_id}")  # fmt: skip
    return True


def dead_claims(sql: Engine, campaign_id: int,
                accounts: Set[int]) -> tuple[set[int], set[int]]:  # fmt: skip
    """Of the accounts a dead dialer (dialer/liveness.py) holds hopper leases on, those
    it never dialed from the hopper, as (`fresh`, `settled`). Fresh: still held for the
    hopper in SQL, no open attempt and none past its final check since the account was
    admitted (claimed, perhaps an attempt written, never placed): back to the hopper,
    as its lease's expiry would give it. Settled: no longer held (its result or a
    block was written, the hold lifted) and no open attempt: out of the hopper, the
    step the dead dialer did not take. The others (a call open, or placed since the
    admission) keep their leases until they expire."""
    if not accounts:
        return set(), set()
    attempts = select(CallAttempt.id).where(CallAttempt.account_id == Account.id,
                                            CallAttempt.direction == "outbound")  # fmt: skip
    open_ = attempts.where(CallAttempt.result.is_(None)).exists()
    placed = attempts.where(CallAttempt.decision_id.is_not(None),
                            CallAttempt.started_at >= Account.hopper_since).exists()  # fmt: skip
    with Session(sql) as s:
        rows = s.execute(
            select(Account.id, Account.hopper_since.is_not(None))
            .where(Account.campaign_id == campaign_id, Account.id.in_(sorted(accounts)),
                   ~open_, ~placed)
        ).all()  # fmt: skip
    return {int(a) for a, held in rows if held}, {int(a) for a, held in rows if not held}


def promise_hold(sql: Engine, account_id: int, now: datetime) -> datetime | None:
    """Until when an open promise of the account holds it back (None: it does not);
    a held account sleeps until then (its next_attempt_at is pushed there)."""
    with transaction(sql) as s:
        due = s.scalar(select(func.max(Promise.due_date))
                       .where(Promise.account_id == account_id, Promise.status == "open"))  # fmt: skip
        if due is None:
            return None
        account = s.get(Account, account_id)
        zones = (
            date_zones(account.timezone, account.country, account.region, None) if account else ()
        )
        until = promise_hold_until(due, zones)
        if until <= now:
            return None
        # A hopper's hold (hopper_since set) is no date of the account's own: replaced.
        s.execute(update(Account).where(Account.id == account_id,
                                        Account.hopper_since.is_not(None) | Account.next_attempt_at.is_(None)
                                        | (Account.next_attempt_at < until))
                  .values(next_attempt_at=until, hopper_since=None))  # fmt: skip
        return until


def resting_until(account: Account, now: datetime) -> datetime | None:
    """The account's own date of rest when it is still ahead (None: it may be dialed).

    Every account the refill admits is held in SQL (`hopper_since` set); one whose
    hold was lifted since (its call's result, an agent's disposition, a payment
    reversal) and whose date is ahead rests. A hopper entry for it is stale: Redis
    restored from an older snapshot, or a cache that missed the removal."""
    if account.hopper_since is not None or account.next_attempt_at is None:
        return None
    when = utc_of(account.next_attempt_at)
    return when if when > now else None


def record_decision(sql: Engine, compliance: ComplianceService, item: Item,
                    decision: Decision, stage: str = "originate") -> int:  # fmt: skip
    """The final check's decision and its audit entry, written; returns its id."""
    with transaction(sql) as s:
        return int(compliance.record(s, [item], [decision], stage, actor="dialer")[0].id)


def sleep_account(sql: Engine, account_id: int, until: datetime) -> None:
    """An account blocked at the final check rests until its block may clear,
    out of any hopper. Never pulled forward: an account claimed from a stale
    hopper entry (a Redis restored from an older snapshot) may already rest
    until later - a contact's day of rest - and a cap's one-hour backoff must
    not cut that short."""
    with transaction(sql) as s:
        account = s.get(Account, account_id)
        if account is None:
            return
        if account.later_than_its_date(until):
            account.next_attempt_at = until
        account.hopper_since = None


def load_account(sql: Engine, account_id: int) -> Account | None:
    with Session(sql, expire_on_commit=False) as s:
        return s.execute(
            select(Account).options(selectinload(Account.phones)).where(Account.id == account_id)
        ).scalar_one_or_none()


def results_in_a_row(session: Session, account_id: int, result: str, limit: int = 20,
                     phone_id: int | None = None) -> int:  # fmt: skip
    """How many of the account's latest attempts ended with this result (this one
    included); of those on `phone_id` only when given."""
    query = select(CallAttempt.result).where(CallAttempt.account_id == account_id,
                                             CallAttempt.result.isnot(None))  # fmt: skip
    if phone_id is not None:
        query = query.where(CallAttempt.phone_id == phone_id)
    rows = session.execute(
        query.order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc()).limit(limit)
    ).scalars()  # fmt: skip
    n = 0
    for r in rows:
        if r != result:
            break
        n += 1
    return n


def _counted_phone(result: str | None, phone_id: int | None) -> int | None:
    """Whose results in a row space the next attempt: the number's for "does not exist"
    (one dead number, then another, is no reason to rest the account a week: each is
    re-checked a day later, the rule above marks them), the account's for the rest."""
    return phone_id if result == number_validity.DEAD_RESULT else None


def apply_number_rule(s: Session, attempt_id: int, result: str | None, *, answered: bool,
                      actor: str, now: datetime) -> str | None:  # fmt: skip
    """The dead-number rule after an attempt's result (store/number_validity.py):
    the phone's new status, or None when it kept its own."""
    if result != number_validity.DEAD_RESULT and not number_validity.shows_alive(
        result, answered=answered, direction="outbound"
    ):
        return None  # never dialed, our network, a dialer that died: nothing learnt
    phone_id = number_validity.phone_of_attempt(s, attempt_id)
    if phone_id is None:
        return None
    return number_validity.after_result(s, phone_id, result, actor=actor, now=now,
                                        source="dialer")  # fmt: skip


def next_after_marked(s: Session, account_id: int, marked: str | None, ended: datetime,
                      when: datetime) -> datetime:  # fmt: skip
    """When the account comes back after its number was just marked invalid: its other
    numbers are tried after NEXT_NUMBER_DELAY, not after the dead number's rest; with
    none left it keeps `when` (the refill finds no number and says so)."""
    if marked != PhoneStatus.invalid.value:
        return when
    others = s.scalar(select(func.count()).select_from(Phone)
                      .where(Phone.account_id == account_id,
                             Phone.status == PhoneStatus.active.value))  # fmt: skip
    if not others:
        return when
    return min(when, utc_of(ended) + NEXT_NUMBER_DELAY)


def mark_bridged(sql: Engine, attempt_id: int, agent_id: int,
                 bridged_at: datetime | None) -> bool:  # fmt: skip
    """The agent who has the call, on its row from the bridge (and a transfer) on, not
    only when it ends: a dialer that dies mid-call leaves the row naming the agent, who
    can then still record what the debtor said (console.agent_service.save_disposition
    checks the row). `bridged_at` None: a transfer (the first bridge's time stays).
    Only an open row: the finish writes the same and wins."""
    values: dict[str, Any] = {"agent_id": agent_id}
    if bridged_at is not None:
        values["bridged_at"] = bridged_at
    with transaction(sql) as s:
        return bool(s.execute(
            update(CallAttempt).where(CallAttempt.id == attempt_id, CallAttempt.result.is_(None))
            .values(**values)
        ).rowcount)  # type: ignore[attr-defined]  # fmt: skip


def finish_attempt(sql: Engine, attempt_id: int, account_id: int, values: Mapping[str, Any],
                   next_attempt: Any, callback_id: int | None = None) -> bool:  # fmt: skip
    """Complete the attempt, set when the account comes back, audit the attempt.
    Once: a retry after a commit whose reply was lost writes nothing again. A `lost`
    written by a reconciliation while this dialer was cut off yields to the result
    the dialer saw (both audited). Returns whether it wrote."""
    with transaction(sql) as s:
        done = s.execute(
            update(CallAttempt).where(CallAttempt.id == attempt_id,
                                      or_(CallAttempt.result.is_(None), CallAttempt.result == "lost"))
            .values(**values)
        ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        if not done:
            return False
        ended = values.get("ended_at") or datetime.now(UTC)
        marked = apply_number_rule(s, attempt_id, values.get("result"),
                                   answered=values.get("answered_at") is not None,
                                   actor="dialer", now=ended)  # fmt: skip
        result = str(values.get("result"))
        dialed = s.scalar(select(CallAttempt.phone_id).where(CallAttempt.id == attempt_id))
        in_a_row = results_in_a_row(s, account_id, result,
                                    phone_id=_counted_phone(result, dialed))  # fmt: skip
        when = next_after_marked(s, account_id, marked, ended, next_attempt(in_a_row))
        account = s.get(Account, account_id)
        # Never pull an account forward: a disposition may already have set a later date.
        if account is not None and account.later_than_its_date(when):
            account.next_attempt_at = when
            account.hopper_since = None
        if callback_id is not None:
            s.execute(update(Callback).where(Callback.id == callback_id, Callback.status == "queued")
                      .values(status="done" if values.get("result") == "contact" else "pending",
                              due_at=when if values.get("result") != "contact" else Callback.due_at))  # fmt: skip
        audit.append(s, "attempt", {
            "attempt_id": attempt_id, "account_id": account_id,
            **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()},
            "next_attempt_at": when.isoformat(),
        }, actor="dialer", subject=f"account:{account_id}")  # fmt: skip
        return True


def epoch(at: datetime | None) -> float | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # SQLite keeps no zone: stored as UTC
    return at.timestamp()


# A call answered this long after it started is no call (stuck calls end in an hour).
LONGEST_RING_SECONDS = 7200.0


def ended_attempts(sql: Engine, campaign_id: int, answered_since: float,
                   ended_since: float) -> list[AttemptTimes]:  # fmt: skip
    """The campaign's dialed outbound attempts that ended (dialer.stats.LoadRows):
    answered since `answered_since`, or ended since `ended_since`; read through
    the started_at index, never the whole history."""
    answered = utc(answered_since)
    ended = utc(ended_since)
    start = utc(min(answered_since, ended_since) - LONGEST_RING_SECONDS)
    with Session(sql) as s:
        rows = s.execute(
            select(CallAttempt.id, CallAttempt.result, CallAttempt.started_at, CallAttempt.answered_at,
                   CallAttempt.bridged_at, CallAttempt.ended_at)
            .where(CallAttempt.started_at >= start, CallAttempt.campaign_id == campaign_id,
                   CallAttempt.direction == "outbound", CallAttempt.source == "dialer",
                   CallAttempt.result.is_not(None), CallAttempt.result.not_in(NOT_ENDED_HERE),
                   CallAttempt.ended_at.is_not(None),
                   or_(CallAttempt.answered_at >= answered, CallAttempt.ended_at >= ended))
        )  # fmt: skip
        out = []
        for attempt_id, result, started_at, answered_at, bridged_at, ended_at in rows:
            out.append(AttemptTimes(int(attempt_id), str(result), epoch(started_at) or 0.0,
                                    epoch(answered_at), epoch(bridged_at), epoch(ended_at) or 0.0))  # fmt: skip
        return out


def attempts_ended_at(sql: Engine, ids: list[int]) -> dict[int, float | None]:
    """When each attempt ended (epoch seconds), None while it is open."""
    if not ids:
        return {}
    with Session(sql) as s:
        rows = s.execute(
            select(CallAttempt.id, CallAttempt.ended_at).where(CallAttempt.id.in_(ids))
        )
        out: dict[int, float | None] = {}
        for attempt_id, ended in rows:
            if ended is not None and ended.tzinfo is None:
                ended = ended.replace(tzinfo=UTC)  # SQLite keeps no zone: stored as UTC
            out[int(attempt_id)] = None if ended is None else ended.timestamp()
        return out
