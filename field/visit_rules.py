"""The compliance check of a visit, as field sees it: a port (`VisitCheck`) that
answers a compliance Decision for one account at one instant, and the writer of
that decision as evidence (a `decisions` row and its audit entry, like a call's).

A visit is checked twice: when it is planned (at noon of the planned day in the
debtor's time: the day's rules, the account's status, the country's visit rule)
and at check-in (the instant the agent reports, hours included).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from compliance.engine import Decision
from compliance.profile import Profile
from compliance.timezones import resolve_zones
from store import audit
from store.models import Account
from store.models import Decision as DecisionRow

# (session, account, instant) -> the compliance decision for a visit then.
VisitCheck = Callable[[Session, Account, datetime], Decision]

STAGE_PLAN = "visit_plan"
STAGE_CHECKIN = "visit_checkin"


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
    """The visit check the console uses. Until the profiles carry the `visit` channel's
    rules (compliance's per-channel rules), it fails closed: no visit is planned or
    checked in, and the decision says so."""

    def check(session: Session, account: Account, at: datetime) -> Decision:
        return Decision(False, ("channel_not_allowed",), "visit-rules-missing", {}, None, None, at)

    return check
