"""Planning visits: a supervisor assigns accounts to a field agent for a day; each
is checked by compliance (a decision row and its audit entry, like a call's) and
the agent's day is put in walking order (field/routing.py).

Synchronous SQL: the console runs these in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from field.routing import Route, Stop, plan_route
from field.visit_rules import STAGE_PLAN, VisitCheck, plan_instant, record_decision
from store import audit
from store.db import transaction
from store.models import Account, FieldVisit, Role, User, VisitStatus

MAX_ACCOUNTS_PER_PLAN = 300
MAX_DAYS_AHEAD = 31
# Visits still to make: the ones a route orders.
OPEN = (VisitStatus.planned.value,)
# Visits that hold the account for the day: another agent cannot be sent too.
HOLDING = (VisitStatus.planned.value, VisitStatus.checked_in.value, VisitStatus.done.value)


class PlanError(ValueError):
    """A plan that cannot be made at all (unknown agent, a day in the past...): says why."""


@dataclass
class PlanOutcome:
    planned: list[int] = field(default_factory=list)  # visit ids
    refused: list[dict[str, Any]] = field(default_factory=list)  # account, reasons
    route_m: float = 0.0


def may_plan_for(agent: User, campaigns: set[int] | None) -> bool:
    """Whether a planner of `campaigns` (None: every campaign) sees and plans this
    field agent: one tied to one of them (`user add --campaign`) or to none (the pool
    every campaign plans); never one tied to another campaign."""
    return campaigns is None or agent.campaign_id is None or agent.campaign_id in campaigns


def field_agents(session: Session, campaigns: set[int] | None = None) -> list[User]:
    """The active field agents a planner of `campaigns` sees (may_plan_for), by name."""
    agents = session.scalars(
        select(User)
        .where(User.role == Role.field.value, User.active.is_(True))
        .order_by(User.display_name, User.id)
    )
    return [a for a in agents if may_plan_for(a, campaigns)]


def field_agent(session: Session, agent_id: int, campaigns: set[int] | None = None) -> User:
    """The agent a planner of `campaigns` may plan for; another campaign's agent is
    answered exactly like a user who is no active field agent."""
    agent = session.get(User, agent_id)
    if (
        agent is None
        or agent.role != Role.field.value
        or not agent.active
        or not may_plan_for(agent, campaigns)
    ):
        raise PlanError("Ese usuario no es un gestor de campo activo.")
    return agent


def assign(
    engine: Engine,
    planner_id: int,
    actor: str,
    agent_id: int,
    day: date,
    account_ids: Sequence[int],
    check: VisitCheck,
    now: datetime,
    campaigns: set[int] | None = None,
    today: date | None = None,
) -> PlanOutcome:
    """Plan visits to `account_ids` for the agent on `day`, each only if compliance
    allows a visit to that debtor that day; the agent's day is then re-routed.
    `campaigns`: the planner may plan only accounts of these (None: any). `today`:
    the date in the field day's zone (the planner's "today"); by default `now`'s own
    date, which for a UTC `now` is tomorrow already in a Mexico City evening."""
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        raise PlanError("Elija al menos una cuenta.")
    if len(ids) > MAX_ACCOUNTS_PER_PLAN:
        raise PlanError(f"Se pueden planear hasta {MAX_ACCOUNTS_PER_PLAN} cuentas a la vez.")
    today = today or now.date()
    if day < today:
        raise PlanError("No se pueden planear visitas en un día pasado.")
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise PlanError(f"Se planea como máximo a {MAX_DAYS_AHEAD} días.")
    outcome = PlanOutcome()
    with transaction(engine) as session:
        field_agent(session, agent_id, campaigns)
        accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(ids)))}
        held = set(
            session.scalars(
                select(FieldVisit.account_id).where(
                    FieldVisit.account_id.in_(ids),
                    FieldVisit.day == day,
                    FieldVisit.status.in_(HOLDING),
                )
            )
        )
        for account_id in ids:
            account = accounts.get(account_id)
            if (
                account is not None
                and campaigns is not None
                and account.campaign_id not in campaigns
            ):
                # Answered as an account that does not exist: a planner of one campaign
                # learns nothing about another campaign's accounts.
                account = None
            reasons = _unplannable(account, account_id in held)
            decision_id = None
            if account is not None and not reasons:
                at = plan_instant(account, day)
                if at is None:
                    reasons = ["timezone_unknown"]
                else:
                    decision = check(session, account, at)
                    decision_id = record_decision(session, account, decision, STAGE_PLAN, actor).id
                    reasons = list(decision.reasons) if not decision.allowed else []
            if reasons:
                outcome.refused.append({"account_id": account_id, "reasons": reasons,
                                        "external_ref": account.external_ref if account else None,
                                        "decision_id": decision_id})  # fmt: skip
                continue
            visit = FieldVisit(account_id=account_id, agent_id=agent_id, day=day,
                               status=VisitStatus.planned.value, planned_by=planner_id,
                               plan_decision_id=decision_id, created_at=now)  # fmt: skip
            session.add(visit)
            session.flush()
            outcome.planned.append(visit.id)
        route = reroute(session, agent_id, day)
        outcome.route_m = route.length_m
        audit.append(
            session,
            "field_plan",
            {
                "agent_id": agent_id,
                "day": day,
                "planned": outcome.planned,
                "refused": outcome.refused,
                "route_m": round(route.length_m),
            },  # fmt: skip
            actor=actor,
            subject=f"user:{agent_id}",
        )
    return outcome


def _unplannable(account: Account | None, held: bool) -> list[str]:
    if account is None:
        return ["no_account"]
    if account.latitude is None or account.longitude is None:
        return ["no_coordinates"]  # nothing is geocoded: the creditor's file must carry them
    if held:
        return ["already_planned"]
    return []


def reroute(
    session: Session, agent_id: int, day: date, here: tuple[float, float] | None = None
) -> Route:
    """Put the agent's open visits of the day in walking order (from `here` when known),
    after the visits already made or under way."""
    visits = session.execute(
        select(FieldVisit, Account.latitude, Account.longitude)
        .join(Account, Account.id == FieldVisit.account_id)
        .where(FieldVisit.agent_id == agent_id, FieldVisit.day == day)
        .order_by(FieldVisit.route_position, FieldVisit.id)
    ).all()
    closed = [v for v, _, _ in visits if v.status not in OPEN]
    stops = [Stop(v.id, lat, lon) for v, lat, lon in visits
             if v.status in OPEN and lat is not None and lon is not None]  # fmt: skip
    route = plan_route(stops, here)
    # Last: open visits whose account lost its coordinates since (a re-import).
    lost = [v for v, lat, lon in visits if v.status in OPEN and (lat is None or lon is None)]
    by_id = {v.id: v for v, _, _ in visits}
    ordered = [*closed, *(by_id[k] for k in route.keys), *lost]
    for position, visit in enumerate(ordered, start=1):
        visit.route_position = position
    return route


def cancel(
    engine: Engine, actor: str, visit_id: int, now: datetime, campaigns: set[int] | None = None
) -> None:
    """Take a planned visit off its agent's day (the supervisor changed their mind).
    A visit to an account outside `campaigns` (None: any) is answered exactly like one
    that does not exist: "not your campaign" told which visit ids the others have."""
    with transaction(engine) as session:
        visit = session.get(FieldVisit, visit_id)
        account = session.get(Account, visit.account_id) if visit is not None else None
        theirs = campaigns is None or (account is not None and account.campaign_id in campaigns)
        if visit is None or not theirs or visit.status != VisitStatus.planned.value:
            raise PlanError("Solo se cancela una visita planeada que aún no empieza.")
        visit.status = VisitStatus.cancelled.value
        visit.ended_at = now
        reroute(session, visit.agent_id, visit.day)
        audit.append(session, "field_visit_cancelled", {"visit_id": visit.id},
                     actor=actor, subject=f"account:{visit.account_id}")  # fmt: skip
