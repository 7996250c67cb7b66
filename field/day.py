"""What the field app and the supervisors' map read: an agent's day (route order,
addresses, questionnaires, distances) and every agent's day at once.

Synchronous SQL: the console runs these in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session, selectinload

from cobrador.ground.money_words import money_format
from field.plans import field_agents
from field.questionnaire import questionnaire
from field.visit_rules import VisitCheck, check_many, plan_instant
from field.visits import EVIDENCE_REFUSED, refused_facts
from store.db import transaction
from store.geo import distance_m
from store.models import (
    Account,
    CallAttempt,
    ContactChannel,
    Disposition,
    FieldSyncKey,
    FieldVisit,
    Role,
    User,
    VisitStatus,
)

SLACK = timedelta(hours=1)  # an arrival judged a little before its visit's creation
SHOWN_TO_AGENT = (
    VisitStatus.planned.value,
    VisitStatus.checked_in.value,
    VisitStatus.done.value,
    VisitStatus.skipped.value,
)


def agent_day(
    engine: Engine, agent_id: int, day: date, check: VisitCheck | None = None
) -> dict[str, Any]:
    """The agent's visits of the day in route order, with what the app needs offline:
    each account's address and coordinates, balance, and its stage's questionnaire.

    With `check`, each visit still to make is checked again as when it was planned
    (field/visit_rules.py: noon of the day in the debtor's time; the account's status
    and protection, a dispute, the country's visit rule, the caps): one compliance now
    forbids (the account became protected, disputed, paid or opted out of visits
    since the route was planned or downloaded) carries `blocked` with its reasons, is
    out of the route's legs and length, and the app offers no check-in for it. The app
    reloads its day every 30 s: the checks go together (visit_rules.check_many), a
    few reads of SQL for the whole day whatever its length, every input read fresh
    (nothing kept between reloads: a visit forbidden a second ago is never shown
    allowed).

    A visit cancelled after the agent arrived (field/visits.py EVIDENCE_ONLY) stays on
    the day as `cancelled` with `evidence`: "arrived" (its result may still be given,
    kept as evidence) or "recorded", and so does one whose result was kept after its
    arrival was refused (far, or an untrusted clock); other cancelled visits are not
    shown.

    A planned visit whose result was kept after its arrival was refused
    (field/visits.py EVIDENCE_REFUSED) carries `evidence`: "recorded", `refused` (the
    reasons), `refused_facts` (a far fix's distance and accuracy) and its `outcome`,
    and is out of the route's legs: a phone that lost its own answers (wiped at a
    logout) must not offer that door again as if nothing happened there."""
    with transaction(engine) as session:
        found = session.execute(
            select(FieldVisit, Account)
            .join(Account, Account.id == FieldVisit.account_id)
            .where(
                FieldVisit.agent_id == agent_id,
                FieldVisit.day == day,
                or_(
                    FieldVisit.status.in_(SHOWN_TO_AGENT),
                    FieldVisit.status == VisitStatus.cancelled.value,
                ),
            )
            .order_by(FieldVisit.route_position, FieldVisit.id)
            .options(selectinload(Account.phones))
        ).all()
        kept = kept_after_refusal(session, [v for v, _ in found])
        # Cancelled: shown once the agent arrived, or her door contact was kept after
        # a refused arrival; one cancelled before anyone went is off her day.
        rows = [(v, a) for v, a in found if not _cancelled_untouched(v, kept)]
        blocks = _blocked(session, rows, day, check)
        visits, stages = [], set()
        previous: tuple[float, float] | None = None
        total = 0.0
        for visit, account in rows:
            point = _point(account)
            leg = None
            blocked = blocks.get(visit.id, ())
            refused = kept.get(visit.id)
            to_make = visit.status == VisitStatus.planned.value and refused is None
            if to_make and point is not None and not blocked:
                if previous is not None:
                    leg = distance_m(*previous, *point)
                    total += leg
                previous = point
            stages.add(account.stage)
            visits.append({
                "id": visit.id, "status": visit.status, "position": visit.route_position,
                "account_ref": account.external_ref, "debtor_name": account.debtor_name,
                "address": account.address or "", "lat": point[0] if point else None,
                "lon": point[1] if point else None, "balance": str(account.balance),
                "currency": account.currency, "stage": account.stage,
                # In the account's notation: "$9,450.00 MXN", not "9450.00 MXN".
                "balance_shown": money_format(account.country, account.currency).show(account.balance),
                "leg_m": round(leg) if leg is not None else None,
                "blocked": list(blocked),
                "evidence": "recorded" if refused else _evidence(visit),
                "refused": refused.reasons if refused else [],
                "refused_facts": refused.facts if refused else {},
                "outcome": refused.outcome if refused else None,
            })  # fmt: skip
        return {
            "day": day.isoformat(),
            "visits": visits,
            "route_m": round(total),
            "questionnaires": {stage: questionnaire(stage) for stage in sorted(stages)},
        }


def _blocked(
    session: Session,
    rows: list[tuple[FieldVisit, Account]],
    day: date,
    check: VisitCheck | None,
) -> dict[int, tuple[str, ...]]:
    """Why compliance forbids each visit still to make on `day` now, by visit id (those
    it allows are absent). Fails closed: no zone to judge the day in is a reason."""
    if check is None:
        return {}
    out: dict[int, tuple[str, ...]] = {}
    asked: list[tuple[int, tuple[Account, datetime]]] = []
    for visit, account in rows:
        if visit.status != VisitStatus.planned.value:
            continue
        at = plan_instant(account, day)
        if at is None:
            out[visit.id] = ("timezone_unknown",)
        else:
            asked.append((visit.id, (account, at)))
    decisions = check_many(check, session, [item for _, item in asked])
    for (visit_id, _), decision in zip(asked, decisions, strict=True):
        if not decision.allowed:
            out[visit_id] = tuple(decision.reasons) or ("blocked",)
    return out


@dataclass(frozen=True)
class KeptAfterRefusal:
    """A result recorded at the door kept as evidence after its arrival was refused."""

    attempt_id: int
    reasons: list[str]  # why the arrival was refused (the law's, clock_unsure, too_far...)
    facts: dict[str, Any]  # a far fix's distance and accuracy (field/visits.py refused_facts)
    outcome: str | None


def kept_after_refusal(
    session: Session, day_visits: list[FieldVisit]
) -> dict[int, KeptAfterRefusal]:
    """Of `day_visits`, those still planned (no arrival accepted) whose agent's result was
    kept as evidence after a refused arrival (field/visits.py EVIDENCE_REFUSED), by visit
    id. Two reads whatever the number of visits: the agents' made visit attempts to
    those accounts, and their dispositions."""
    # Planned, or cancelled meanwhile (its arrival refused as far or on the clock).
    open_states = (VisitStatus.planned.value, VisitStatus.cancelled.value)
    waiting = {v.id: v for v in day_visits
               if v.status in open_states and v.attempt_id is None}  # fmt: skip
    if not waiting:
        return {}
    attempts = session.scalars(
        select(CallAttempt).where(
            CallAttempt.account_id.in_(sorted({v.account_id for v in waiting.values()})),
            CallAttempt.agent_id.in_(sorted({v.agent_id for v in waiting.values()})),
            CallAttempt.channel == ContactChannel.visit.value,
            CallAttempt.result.is_not(None),
            CallAttempt.result != "blocked",
            # Kept at the arrival's instant or the receipt, never before its visit was
            # planned (field/visit_time.py): the account's older visits are not read.
            CallAttempt.started_at >= min(v.created_at for v in waiting.values()) - SLACK,
        )
    ).all()
    found: dict[int, CallAttempt] = {}
    for attempt in attempts:
        details = attempt.details or {}
        visit = waiting.get(details.get("visit_id"))  # type: ignore[arg-type]
        if (visit is None or details.get("evidence_only") != EVIDENCE_REFUSED
                or attempt.agent_id != visit.agent_id):  # fmt: skip
            continue
        found[visit.id] = attempt
    outcomes = dict(
        session.execute(
            select(Disposition.attempt_id, Disposition.outcome).where(
                Disposition.attempt_id.in_([a.id for a in found.values()] or [-1])
            )
        ).all()
    )
    return {
        visit_id: KeptAfterRefusal(
            attempt.id,
            [str(r) for r in (attempt.details or {}).get("refused") or []],
            refused_facts(attempt.details or {}),
            outcomes.get(attempt.id),
        )
        for visit_id, attempt in found.items()
    }


def _results_received(session: Session, visit_ids: list[int]) -> dict[int, datetime]:
    """When the server received each visit's result it kept (its sync key, answered
    200: a replay writes none, a refused one tells nothing), by visit id."""
    if not visit_ids:
        return {}
    rows = session.execute(
        select(FieldSyncKey.visit_id, func.max(FieldSyncKey.created_at))
        .where(FieldSyncKey.visit_id.in_(visit_ids), FieldSyncKey.kind == "result",
               FieldSyncKey.status == 200)
        .group_by(FieldSyncKey.visit_id)
    ).all()  # fmt: skip
    return {visit_id: at for visit_id, at in rows if at is not None}


def _utc(at: datetime) -> datetime:
    """A stored instant as aware UTC (SQLite hands back naive UTC)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _cancelled_untouched(visit: FieldVisit, kept: dict[int, KeptAfterRefusal]) -> bool:
    """Cancelled with no arrival accepted and no contact kept: nothing happened there."""
    return (visit.status == VisitStatus.cancelled.value and visit.attempt_id is None
            and visit.id not in kept)  # fmt: skip


def _evidence(visit: FieldVisit) -> str | None:
    """Of a visit cancelled after the arrival: whether its result is in yet."""
    if visit.status != VisitStatus.cancelled.value:
        return None
    return "recorded" if visit.answers is not None else "arrived"


def _point(account: Account) -> tuple[float, float] | None:
    if account.latitude is None or account.longitude is None:
        return None
    return account.latitude, account.longitude


def floor_day(
    engine: Engine, day: date, since: datetime | None = None, campaigns: set[int] | None = None
) -> dict[str, Any]:
    """Every field agent's visits of the day (planned, done, failed) for the map, and
    the visits that ended after `since` (the supervisor's notifications); only the
    visits to accounts of `campaigns` when given (a supervisor tied to a campaign)
    and the agents such a planner sees (field/plans.py `may_plan_for`).

    A visit cancelled after its agent arrived (field/visits.py EVIDENCE_ONLY: the
    contact happened, the caps count it) is on the map as `evidence` with its
    outcome once recorded, never as done; other cancelled visits are not. A planned
    visit whose result was kept after its arrival was refused (EVIDENCE_REFUSED) is
    `refused_evidence` with that outcome and the reasons (`refused`): the agent is told
    not to repeat it and that her supervisor plans it again if it must be made, so
    the supervisor has to see that a contact happened there, never a plain "planned"."""
    with transaction(engine) as session:
        agents = {
            u.id: u
            for u in session.scalars(
                select(User).where(User.role == Role.field.value, User.active.is_(True))
            )
        }
        listed = field_agents(session, campaigns)
        query = (
            select(FieldVisit, Account, Disposition.outcome)
            .join(Account, Account.id == FieldVisit.account_id)
            .outerjoin(Disposition, Disposition.attempt_id == FieldVisit.attempt_id)
            .where(FieldVisit.day == day)
            .order_by(FieldVisit.agent_id, FieldVisit.route_position)
        )
        if campaigns is not None:
            query = query.where(Account.campaign_id.in_(sorted(campaigns)))
        found = session.execute(query).all()
        kept = kept_after_refusal(session, [v for v, _, _ in found])
        rows = [(v, a, o) for v, a, o in found if not _cancelled_untouched(v, kept)]
        heard = _results_received(session, [v.id for v, _, _ in rows]) if since else {}
        out: list[dict[str, Any]] = []
        ended: list[dict[str, Any]] = []
        for visit, account, outcome in rows:
            agent = agents.get(visit.agent_id)
            refused = kept.get(visit.id)
            evidence: str | None
            outcome_of: str | None = outcome  # None: no result yet (the outer join)
            if refused is not None:
                # Cancelled meanwhile: kept like any contact on a cancelled visit.
                cancelled = visit.status == VisitStatus.cancelled.value
                status = MAP_EVIDENCE if cancelled else MAP_REFUSED_EVIDENCE
                evidence, outcome_of = "recorded", refused.outcome
            else:
                evidence = _evidence(visit)
                status = MAP_EVIDENCE if evidence else _map_status(visit.status, outcome)
            out.append({
                "id": visit.id, "agent_id": visit.agent_id,
                "agent": agent.display_name if agent else str(visit.agent_id),
                "status": status, "evidence": evidence, "position": visit.route_position,
                "account_ref": account.external_ref, "debtor_name": account.debtor_name,
                "address": account.address or "", "lat": account.latitude,
                "lon": account.longitude, "outcome": outcome_of,
                "refused": refused.reasons if refused else [],
                "ended_at": visit.ended_at.isoformat() if visit.ended_at else None,
            })  # fmt: skip
            # Ended since the page last looked: by when the server got its result (a
            # visit recorded offline is filed at the door's time, often before that
            # look, and was never told), else by its end (a skip, at its receipt).
            told = heard.get(visit.id) or visit.ended_at
            if since is not None and told is not None and _utc(told) > since:
                ended.append(out[-1])
        return {
            "day": day.isoformat(),
            "visits": out,
            "agents": [
                {"id": a.id, "name": a.display_name, "territory": a.territory} for a in listed
            ],  # fmt: skip
            "ended": ended,
        }


def position_agents(engine: Engine, today: date, campaigns: set[int]) -> set[int]:
    """The field agents whose live positions a planner of `campaigns` sees: agents it
    sees (field/plans.py `may_plan_for`) whose day today has visits, and only to
    accounts of `campaigns` (cancelled ones aside). An agent who also visits another
    campaign's debtors today may stand at one of their doors: where they are is not
    this planner's to see."""
    with transaction(engine) as session:
        seen = {a.id for a in field_agents(session, campaigns)}
        rows = session.execute(
            select(FieldVisit.agent_id, Account.campaign_id)
            .join(Account, Account.id == FieldVisit.account_id)
            .where(FieldVisit.day == today, FieldVisit.status != VisitStatus.cancelled.value)
        ).all()
    working = {agent for agent, _ in rows}
    elsewhere = {agent for agent, campaign in rows if campaign not in campaigns}
    return (working - elsewhere) & seen


# What the supervisors' map says of a visit (each has its words in
# console/templates/supervisor_field.html; a test compares the two). Any other state
# (one this map does not know yet) is MAP_OTHER: the map says "Otro estado" in grey,
# never "Hecha" in the colour of a visit done. `evidence`: cancelled after its agent
# arrived, what happened at the door kept as evidence ("Cancelada · constancia guardada").
MAP_EVIDENCE = "evidence"
# Still planned, its result kept after the arrival was refused ("Llegada rechazada ·
# constancia guardada"): a contact happened there, the visit is not to be made again
# unless the supervisor plans it again (she may cancel it, as any planned one).
MAP_REFUSED_EVIDENCE = "refused_evidence"
MAP_STATUSES = ("planned", "in_progress", "done", "failed", MAP_EVIDENCE, MAP_REFUSED_EVIDENCE)
MAP_OTHER = "other"
NOBODY_MET = ("sin_contacto", "domicilio_incorrecto")


def _map_status(status: str, outcome: str | None) -> str:
    """planned | in_progress | done (someone met) | failed (nobody, wrong address,
    skipped) | other (a state the map does not know)."""
    if status == VisitStatus.planned.value:
        return "planned"
    if status == VisitStatus.checked_in.value:
        return "in_progress"
    if status == VisitStatus.skipped.value:
        return "failed"
    if status == VisitStatus.done.value:
        return "failed" if outcome in NOBODY_MET else "done"
    return MAP_OTHER
