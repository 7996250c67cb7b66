"""The compliance check of a visit, as field sees it: a port (`VisitCheck`) that
answers a compliance Decision for one account at one instant, and the writer of
that decision as evidence (a `decisions` row and its audit entry, like a call's).

A visit is checked twice: when it is planned (at noon of the planned day in the
debtor's time: the day's rules, the account's status, the country's visit rule)
and at check-in (the instant the agent reports, hours included).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from compliance.caps import DEFAULT_HORIZON, AccountHistory, Event
from compliance.debtor_accounts import accounts_counted_together, linked_protection
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


def profile_visit_check(profiles: Mapping[str, Profile]) -> VisitCheck:
    """The visit check the console uses: compliance's rules for the `visit` channel
    (the profile's channel table: hours, days and holidays in the debtor's time, CO's
    signed authorisation, account status and legal stage, visit and contact caps
    across channels), with the debtor's counters read from the contact ledger in SQL.
    Any failure to build the request fails closed, the decision saying why."""
    rules = Engine()

    def check(session: Session, account: Account, at: datetime) -> Decision:
        campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
        try:
            profile = debtor_profile(
                profiles,
                account.country,
                campaign_profile=campaign.profile if campaign else None,
                campaign_overrides=(campaign.config or {}).get("compliance") if campaign else None,
                campaign_name=campaign.name if campaign else None,
            )
        except ProfileError:
            log.warning("no usable profile for account %s; visit refused", account.id)
            return Decision(False, ("country_unknown",), "", {}, None, None, at)
        facts = account_facts(account)
        if not (facts.protection or "").strip():
            # A protected person marked on another of their accounts (the same number).
            try:
                numbers = tuple(p.number_e164 for p in account.phones)
                inherited = linked_protection(session.get_bind(), account.id, numbers)  # type: ignore[arg-type]
            except SQLAlchemyError:
                log.warning("protections of accounts linked to %s unreadable; refused", account.id)
                inherited = "unknown"  # fail closed: the engine refuses an unknown value
            if inherited:
                facts = replace(facts, protection=inherited)
        request = CallRequest(
            account=facts,
            phone=None,
            profile=profile,
            registries=StaticRegistries(),  # registries list numbers: none binds a visit
            counters=ledger_counters(
                session, account.id, at, tuple(p.number_e164 for p in account.phones)
            ),  # fmt: skip
            campaign_id=account.campaign_id,
            channel=ContactChannel.visit.value,
            reach_seconds=VISIT_REACH.total_seconds(),
        )
        return rules.evaluate(request, at)

    return check


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
    history = AccountHistory()
    for one in histories.values():
        history.attempts += one.attempts
        history.contacts += one.contacts
        history.abandons += one.abandons
    calls, others = _split(history.attempts)
    contacts, other_contacts = _split(history.contacts)
    return CounterSnapshot(
        attempts=calls,
        contacts=contacts,
        abandons=tuple(e.at for e in history.abandons),
        other_attempts=others,
        other_contacts=other_contacts,
    )


def _split(events: list[Event]) -> tuple[tuple[float, ...], tuple[tuple[str, float], ...]]:
    """Calls' times, and (channel, time) of the others (their members end in @channel)."""
    calls = tuple(e.at for e in events if "@" not in e.member)
    others = tuple((e.member.rsplit("@", 1)[1], e.at) for e in events if "@" in e.member)
    return calls, others
