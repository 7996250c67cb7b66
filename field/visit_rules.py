"""The compliance check of a visit, as field sees it: a port (`VisitCheck`) that
answers a compliance Decision for one account at one instant, and the writer of
that decision as evidence (a `decisions` row and its audit entry, like a call's).

A visit is checked twice: when it is planned (at noon of the planned day in the
debtor's time: the day's rules, the account's status, the country's visit rule)
and at check-in (the instant the agent reports, hours included). The field app's
day checks its visits still to make again on every reload (field/day.py): those
checks go together (`check_many`), reading the linked accounts, their protections
and the contact ledger once for all of them, fresh every time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from compliance.caps import DEFAULT_HORIZON, AccountHistory, Event
from compliance.debtor_accounts import (
    SharedNumbers,
    accounts_counted_together,
    protections_of,
    shared_numbers,
)
from compliance.engine import CallRequest, CounterSnapshot, Decision, Engine, StaticRegistries
from compliance.jurisdiction import debtor_profile
from compliance.ledger import load_history
from compliance.profile import Profile, ProfileError
from compliance.service import account_facts
from compliance.timezones import resolve_zones
from store import audit
from store.models import Account, Campaign, ContactChannel
from store.models import Decision as DecisionRow

log = logging.getLogger(__name__)

# (session, account, instant) -> the compliance decision for a visit then.
VisitCheck = Callable[[Session, Account, datetime], Decision]

STAGE_PLAN = "visit_plan"
STAGE_CHECKIN = "visit_checkin"
# A visit is a conversation at the door, not an instant: the hours must allow it from
# the check-in until this much later, as a call's must allow its ringing
# (engine.CallRequest.reach_seconds). RULES.md: visits only 07:00-22:00 (MX), never
# 20:00-07:00 (PE); a check-in at 21:55 in Mexico City talks past 22:00. Ten minutes
# is the shortest door conversation we assume (stricter reading; no rule gives one).
VISIT_REACH = timedelta(minutes=10)


def debtor_zone(account: Account) -> ZoneInfo | None:
    """The debtor's zone from the account alone (explicit zone, else region); a
    visit has no number to guess one from. Several candidates: the first."""
    zones = resolve_zones(account.timezone, account.country, account.region, "")
    return zones.zones[0] if zones.zones else None


def plan_instant(account: Account, day: date) -> datetime | None:
    """Noon of `day` in the debtor's time: the instant a plan is checked at."""
    zone = debtor_zone(account)
    if zone is None:
        return None
    return datetime.combine(day, time(12, 0), zone)


def record_decision(
    session: Session, account: Account, decision: Decision, stage: str, actor: str
) -> DecisionRow:
    """The decision row and its audit entry, in the caller's transaction."""
    row = DecisionRow(
        account_id=account.id,
        phone_e164=None,
        channel="visit",
        campaign_id=account.campaign_id,
        stage=stage,
        allowed=decision.allowed,
        reasons=list(decision.reasons),
        profile_version=decision.profile_version,
        registry_versions=dict(decision.registry_versions),
        local_time=decision.local_time,
        timezone=(decision.timezone or "")[:200] or None,
        **({"evaluated_at": decision.evaluated_at} if decision.evaluated_at else {}),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        "decision",
        {
            "decision_id": row.id,
            "stage": stage,
            "channel": "visit",
            "account_id": account.id,
            "phone": None,
            "campaign_id": account.campaign_id,
            **decision.as_dict(),
        },
        actor=actor,
        subject=f"account:{account.id}",
    )
    return row


def profile_visit_check(profiles: Mapping[str, Profile]) -> ProfileVisitCheck:
    """The visit check the console uses: compliance's rules for the `visit` channel
    (the profile's channel table: hours, days and holidays in the debtor's time, CO's
    signed authorisation, account status and legal stage, visit and contact caps
    across channels), with the debtor's counters read from the contact ledger in SQL.
    Any failure to build the request fails closed, the decision saying why."""
    return ProfileVisitCheck(profiles)


class ProfileVisitCheck:
    """A `VisitCheck` (called for one account) that also checks many at once (`many`):
    the same decisions, with the SQL every check reads (the linked accounts, their
    protections, the contact ledger) read once for all of them."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self._profiles = profiles
        self._rules = Engine()

    def __call__(self, session: Session, account: Account, at: datetime) -> Decision:
        return self.many(session, [(account, at)])[0]

    def many(self, session: Session, items: Sequence[tuple[Account, datetime]]) -> list[Decision]:
        if not items:
            return []
        engine = session.get_bind()
        numbers = {a.id: tuple(p.number_e164 for p in a.phones) for a, _ in items}
        try:
            shared: SharedNumbers | None = shared_numbers(engine, numbers)  # type: ignore[arg-type]
        except SQLAlchemyError:
            log.warning("accounts linked to %s unreadable; visits refused", sorted(numbers))
            shared = None
        inherited = _inherited_protections(engine, [a for a, _ in items], shared)
        counters = _ledger_snapshots(engine, items, shared)
        campaign_ids = sorted({a.campaign_id for a, _ in items if a.campaign_id is not None})
        campaigns = {c.id: c for c in session.scalars(
            select(Campaign).where(Campaign.id.in_(campaign_ids)))} if campaign_ids else {}  # fmt: skip
        return [self._evaluate(account, at, campaigns.get(account.campaign_id or 0),
                               inherited.get(account.id), counters[i])
                for i, (account, at) in enumerate(items)]  # fmt: skip

    def _evaluate(
        self,
        account: Account,
        at: datetime,
        campaign: Campaign | None,
        inherited: str | None,
        counters: CounterSnapshot,
    ) -> Decision:
        try:
            profile = debtor_profile(
                self._profiles,
                account.country,
                campaign_profile=campaign.profile if campaign else None,
                campaign_overrides=(campaign.config or {}).get("compliance") if campaign else None,
                campaign_name=campaign.name if campaign else None,
            )
        except ProfileError:
            log.warning("no usable profile for account %s; visit refused", account.id)
            return Decision(False, ("country_unknown",), "", {}, None, None, at)
        facts = account_facts(account)
        if not (facts.protection or "").strip() and inherited:
            # A protected person marked on another of their accounts (the same number).
            facts = replace(facts, protection=inherited)
        request = CallRequest(
            account=facts,
            phone=None,
            profile=profile,
            registries=StaticRegistries(),  # registries list numbers: none binds a visit
            counters=counters,
            campaign_id=account.campaign_id,
            channel=ContactChannel.visit.value,
            reach_seconds=VISIT_REACH.total_seconds(),
        )
        return self._rules.evaluate(request, at)


def check_many(
    check: VisitCheck, session: Session, items: Sequence[tuple[Account, datetime]]
) -> list[Decision]:
    """The decisions for many visits: at once when the check can (`ProfileVisitCheck`),
    else one by one (a test's fake)."""
    many = getattr(check, "many", None)
    if many is not None:
        return list(many(session, items))
    return [check(session, account, at) for account, at in items]


def _inherited_protections(
    engine: object, accounts: Sequence[Account], shared: SharedNumbers | None
) -> dict[int, str]:
    """The protection each account without one of its own takes from a linked account
    (the same person); "unknown" when unreadable (the engine refuses it: fail closed)."""
    need = [a.id for a in accounts if not (a.protection or "").strip()]
    if not need:
        return {}
    if shared is None:
        return dict.fromkeys(need, "unknown")
    linked = sorted({other for a in need for other in shared.person.get(a, ())})
    try:
        found = protections_of(engine, linked) if linked else {}  # type: ignore[arg-type]
    except SQLAlchemyError:
        log.warning("protections of accounts linked to %s unreadable; refused", need)
        return dict.fromkeys(need, "unknown")
    out: dict[int, str] = {}
    for a in need:
        protection = next((found[o] for o in shared.person.get(a, ()) if o in found), None)
        if protection:
            out[a] = protection
    return out


def _ledger_snapshots(
    engine: object, items: Sequence[tuple[Account, datetime]], shared: SharedNumbers | None
) -> list[CounterSnapshot]:
    """Each item's counters from one read of the ledger for every account counted (each
    with its linked ones); unreadable: every cap fails."""
    if shared is None:
        return [CounterSnapshot(available=False) for _ in items]
    together = {a.id: (a.id, *shared.caps.get(a.id, ())) for a, _ in items}
    ids = sorted({i for group in together.values() for i in group})
    try:
        histories = load_history(engine, ids, min(at for _, at in items) - DEFAULT_HORIZON)  # type: ignore[arg-type]
    except SQLAlchemyError:
        log.warning("contact ledger unreadable for accounts %s", ids, exc_info=True)
        return [CounterSnapshot(available=False) for _ in items]
    return [_snapshot((histories[i] for i in together[a.id]), at - DEFAULT_HORIZON)
            for a, at in items]  # fmt: skip


def _snapshot(histories: Iterable[AccountHistory], since: datetime) -> CounterSnapshot:
    """The counters of one debtor's accounts together, events after `since` only."""
    after = since.timestamp()
    history = AccountHistory()
    for one in histories:
        history.attempts += [e for e in one.attempts if e.at > after]
        history.contacts += [e for e in one.contacts if e.at > after]
        history.abandons += [e for e in one.abandons if e.at > after]
    calls, others = _split(history.attempts)
    contacts, other_contacts = _split(history.contacts)
    return CounterSnapshot(
        attempts=calls,
        contacts=contacts,
        abandons=tuple(e.at for e in history.abandons),
        other_attempts=others,
        other_contacts=other_contacts,
    )


def ledger_counters(
    session: Session, account_id: int, at: datetime, numbers: Sequence[str] = ()
) -> CounterSnapshot:
    """The debtor's attempts, contacts and abandons on every channel from SQL (the
    ledger the Redis counters are rebuilt from), with those of the accounts counted
    together with it through `numbers` (compliance/debtor_accounts.py); unreadable:
    every cap fails."""
    engine = session.get_bind()
    try:
        linked = accounts_counted_together(engine, {account_id: numbers})[account_id]  # type: ignore[arg-type]
        histories = load_history(engine, [account_id, *linked], at - DEFAULT_HORIZON)  # type: ignore[arg-type]
    except SQLAlchemyError:
        log.warning("contact ledger unreadable for account %s", account_id, exc_info=True)
        return CounterSnapshot(available=False)
    return _snapshot(histories.values(), at - DEFAULT_HORIZON)


def _split(events: list[Event]) -> tuple[tuple[float, ...], tuple[tuple[str, float], ...]]:
    """Calls' times, and (channel, time) of the others (their members end in @channel)."""
    calls = tuple(e.at for e in events if "@" not in e.member)
    others = tuple((e.member.rsplit("@", 1)[1], e.at) for e in events if "@" in e.member)
    return calls, others
