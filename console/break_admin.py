"""The supervisors' break plan: each agent's scheduled breaks (store.models.AgentBreak)
listed, added and removed, every input bounded and every change audited.

An agent's breaks share one IANA zone (the floor's: the campaign's center clock by
default), so whether two of them overlap does not depend on a daylight-saving date."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from console import agent_service as svc
from console.day_window import ZoneError, zone_named
from console.i18n import N_, FilledMessage
from console.recording_service import may_see_campaign
from console.users import CurrentUser
from dialer.break_plan import WEEKDAYS, overlap, weekdays_of, weekdays_text
from dialer.inbound.settings import DEFAULT_ZONE
from store.audit import append as audit_append
from store.db import transaction
from store.models import AgentBreak, AgentBreakTaken, Campaign, Role, User

MIN_MINUTES = 5
MAX_MINUTES = 180
MAX_BREAKS = 6  # per agent: a lunch and a few short breaks
AUDIT_KIND = "break_plan_change"
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class BreakInputError(FilledMessage):
    """A break the plan refuses: the field, the HTTP status and the words why."""

    def __init__(self, field: str, msgid: str, fill: dict[str, str] | None = None,
                 status: int = 400) -> None:  # fmt: skip
        super().__init__(msgid, fill or {})
        self.field = field
        self.status = status


class UnknownAgent(LookupError):
    """No agent by that id that this supervisor may plan."""


@dataclass(frozen=True)
class BreakRow:
    id: int
    start: str  # HH:MM, local to zone
    end: str  # HH:MM, local (the next day when it runs past midnight)
    minutes: int
    weekdays: tuple[str, ...]  # WEEKDAYS codes, week order
    reason: str
    zone: str


@dataclass(frozen=True)
class AgentPlan:
    id: int
    username: str
    display_name: str
    campaign: str | None
    default_zone: str  # the floor's: the campaign's center clock
    pause_reasons: tuple[str, ...]
    breaks: tuple[BreakRow, ...]


def clock_text(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def _row(b: AgentBreak) -> BreakRow:
    days = tuple(WEEKDAYS[d] for d in sorted(weekdays_of(b.weekdays)))
    return BreakRow(b.id, clock_text(b.start_minute), clock_text(b.start_minute + b.minutes),
                    b.minutes, days, b.reason, b.zone)  # fmt: skip


def floor_zone(campaign: Campaign | None) -> str:
    """The zone a campaign's floor keeps its clock in: its inbound center's
    (`inbound.timezone`), else its country's main zone, else UTC."""
    if campaign is None:
        return "UTC"
    inbound = (campaign.config or {}).get("inbound")
    named = inbound.get("timezone") if isinstance(inbound, Mapping) else None
    text = str(named or DEFAULT_ZONE.get(campaign.country.upper(), "UTC"))
    try:
        return zone_named(text).key
    except ZoneError:
        return "UTC"


def agent_campaign(session: Session, agent: User) -> Campaign | None:
    """The campaign the agent works: theirs, else the first (as the agent page does)."""
    if agent.campaign_id is not None:
        return session.get(Campaign, agent.campaign_id)
    return session.scalar(select(Campaign).order_by(Campaign.id).limit(1))


def pause_reasons(campaign: Campaign | None) -> tuple[str, ...]:
    config = svc.campaign_config(campaign)
    return tuple(str(r) for r in config.get("pause_reasons", svc.DEFAULT_PAUSE_REASONS))


def _visible_agents(session: Session, viewer: CurrentUser) -> list[User]:
    agents = session.scalars(
        select(User).where(User.role == Role.agent.value, User.active).order_by(User.username)
    )
    return [a for a in agents if may_see_campaign(viewer, a.campaign_id)]


def _agent(session: Session, viewer: CurrentUser, agent_id: int, lock: bool = False) -> User:
    """The agent this supervisor may plan; `lock` takes the agent's users row until the
    transaction ends, so that the changes to one agent's plan run one after the other:
    the break rows alone cannot be locked while there are none, and two first breaks
    added at once both passed the overlap check (PostgreSQL; SQLite has one writer)."""
    agent = session.get(User, agent_id, with_for_update=lock)
    if agent is None or agent.role != Role.agent.value or not agent.active:
        raise UnknownAgent(agent_id)
    if not may_see_campaign(viewer, agent.campaign_id):
        raise UnknownAgent(agent_id)  # another campaign's agent: not this supervisor's
    return agent


def _plan(session: Session, agent: User) -> AgentPlan:
    campaign = agent_campaign(session, agent)
    rows = session.scalars(
        select(AgentBreak)
        .where(AgentBreak.agent_id == agent.id)
        .order_by(AgentBreak.start_minute, AgentBreak.id)
    )
    return AgentPlan(agent.id, agent.username, agent.display_name,
                     campaign.name if campaign else None, floor_zone(campaign),
                     pause_reasons(campaign), tuple(_row(b) for b in rows))  # fmt: skip


def plans(engine: Engine, viewer: CurrentUser) -> list[AgentPlan]:
    """Every agent this supervisor may plan, with their breaks."""
    with transaction(engine) as session:
        return [_plan(session, a) for a in _visible_agents(session, viewer)]


def plan_of(engine: Engine, viewer: CurrentUser, agent_id: int) -> AgentPlan:
    with transaction(engine) as session:
        return _plan(session, _agent(session, viewer, agent_id))


@dataclass(frozen=True)
class NewBreak:
    start_minute: int
    minutes: int
    weekdays: frozenset[int]
    reason: str
    zone: str


def parse_break(fields: Mapping[str, str], days: Iterable[str]) -> NewBreak:
    """The form's break, each field bounded; the reason is checked against the agent's
    campaign when added."""
    start = fields.get("start", "").strip()
    match = _CLOCK.fullmatch(start)
    if match is None:
        raise BreakInputError("start", N_("Hora inválida: escriba HH:MM, de 00:00 a 23:59."))
    raw_minutes = fields.get("minutes", "").strip()
    if not (raw_minutes.isascii() and raw_minutes.isdigit() and len(raw_minutes) <= 4):
        raise BreakInputError("minutes", N_("Escriba la duración en minutos."))
    minutes = int(raw_minutes)
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise BreakInputError("minutes", N_("La duración debe estar entre {min} y {max} minutos."),
                              {"min": str(MIN_MINUTES), "max": str(MAX_MINUTES)})  # fmt: skip
    picked = [d.strip() for d in days]
    if not picked:
        raise BreakInputError("days", N_("Elija al menos un día."))
    if any(d not in WEEKDAYS for d in picked) or len(picked) > len(WEEKDAYS):
        raise BreakInputError("days", N_("Día de la semana desconocido."))
    try:
        zone = zone_named(fields.get("zone", ""), default="")
    except ZoneError:
        raise BreakInputError("zone", N_("Zona horaria desconocida.")) from None
    return NewBreak(int(match.group(1)) * 60 + int(match.group(2)), minutes,
                    frozenset(WEEKDAYS.index(d) for d in picked),
                    fields.get("reason", "").strip()[:40], zone.key)  # fmt: skip


def _described(b: NewBreak | AgentBreak, weekdays: frozenset[int]) -> dict[str, Any]:
    return {"start": clock_text(b.start_minute), "minutes": b.minutes,
            "days": weekdays_text(weekdays), "reason": b.reason, "zone": b.zone}  # fmt: skip


def add_break(engine: Engine, viewer: CurrentUser, agent_id: int, new: NewBreak,
              now: datetime) -> int:  # fmt: skip
    """Add a break to the agent's plan (audited); refuses what cannot be planned."""
    with transaction(engine) as session:
        agent = _agent(session, viewer, agent_id, lock=True)
        campaign = agent_campaign(session, agent)
        if new.reason not in pause_reasons(campaign):
            raise BreakInputError("reason", N_("Elija un motivo de pausa."))
        existing = list(session.scalars(select(AgentBreak).where(AgentBreak.agent_id == agent.id)))
        if len(existing) >= MAX_BREAKS:
            raise BreakInputError("start", N_("Un agente tiene como máximo {n} pausas programadas."),
                                  {"n": str(MAX_BREAKS)}, status=409)  # fmt: skip
        for other in existing:
            if other.zone != new.zone:
                raise BreakInputError(
                    "zone", N_("Las pausas de un agente van en una sola zona horaria: {zona}."),
                    {"zona": other.zone}, status=409)  # fmt: skip
            if overlap((other.start_minute, other.minutes, weekdays_of(other.weekdays)),
                       (new.start_minute, new.minutes, new.weekdays)):  # fmt: skip
                raise BreakInputError(
                    "start", N_("Se cruza con la pausa de las {hora} ({min} min)."),
                    {"hora": clock_text(other.start_minute), "min": str(other.minutes)},
                    status=409)  # fmt: skip
        row = AgentBreak(agent_id=agent.id, start_minute=new.start_minute, minutes=new.minutes,
                         weekdays=weekdays_text(new.weekdays), reason=new.reason, zone=new.zone,
                         created_at=now, created_by=viewer.id)  # fmt: skip
        session.add(row)
        session.flush()
        audit_append(session, AUDIT_KIND,
                     {"action": "add", "agent": agent.username, "break_id": row.id,
                      **_described(new, new.weekdays)},
                     actor=viewer.actor, subject=f"user:{agent.id}", now=now)  # fmt: skip
        return row.id


def remove_break(engine: Engine, viewer: CurrentUser, agent_id: int, break_id: int,
                 now: datetime) -> bool:  # fmt: skip
    """Remove one of the agent's breaks (audited); False when it is not theirs."""
    with transaction(engine) as session:
        agent = _agent(session, viewer, agent_id, lock=True)
        row = session.get(AgentBreak, break_id)
        if row is None or row.agent_id != agent.id:
            return False
        described = _described(row, weekdays_of(row.weekdays))
        session.query(AgentBreakTaken).filter(AgentBreakTaken.break_id == row.id).delete()
        session.delete(row)
        audit_append(session, AUDIT_KIND,
                     {"action": "remove", "agent": agent.username, "break_id": break_id,
                      **described},
                     actor=viewer.actor, subject=f"user:{agent.id}", now=now)  # fmt: skip
        return True
