"""Field agents' positions and battery: taken only during a shift the agent opened
with consent, kept for the shift plus a configurable retention, then purged.

Every shift start (with or without consent) and end is audited; so is every
purge. Synchronous SQL: the console runs these in a worker thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from field.checkin import CLOCK_SKEW, Fix
from store import audit
from store.db import transaction
from store.models import FieldPosition, FieldShift, User

DEFAULT_RETENTION = timedelta(hours=72)
# A shift nobody ended (phone lost, app closed) ends by itself after this long.
MAX_SHIFT = timedelta(hours=14)
# The app reports at most this often; more is dropped (a runaway loop, a replay).
MIN_INTERVAL = timedelta(seconds=20)
# A fix vaguer than this (a cell tower's, kilometres wide) is no position on the map:
# not kept, the agent's last good one stays shown.
MAX_ACCURACY_M = 1000.0


class ShiftError(ValueError):
    """Said to the agent (Spanish)."""


@dataclass(frozen=True)
class ShiftState:
    on_shift: bool
    sharing: bool  # consent given for this shift
    started_at: datetime | None = None


def open_shift(engine: Engine, agent_id: int, now: datetime) -> FieldShift | None:
    with transaction(engine) as session:
        return _open(session, agent_id, now)


def _open(session: Any, agent_id: int, now: datetime) -> FieldShift | None:
    shift: FieldShift | None = session.scalars(
        select(FieldShift)
        .where(FieldShift.agent_id == agent_id, FieldShift.ended_at.is_(None))
        .order_by(FieldShift.started_at.desc())
    ).first()
    if shift is not None and now - shift.started_at > MAX_SHIFT:
        shift.ended_at = shift.started_at + MAX_SHIFT
        return None
    return shift


def state(engine: Engine, agent_id: int, now: datetime) -> ShiftState:
    with transaction(engine) as session:
        shift = _open(session, agent_id, now)
        if shift is None:
            return ShiftState(False, False)
        return ShiftState(True, shift.consent_at is not None, shift.started_at)


def start_shift(
    engine: Engine, agent_id: int, actor: str, consent: bool, now: datetime
) -> ShiftState:
    """Open the agent's shift (or keep the open one); `consent`: the agent agreed to share
    position and battery with supervisors until the shift ends."""
    with transaction(engine) as session:
        shift = _open(session, agent_id, now)
        if shift is None:
            shift = FieldShift(agent_id=agent_id, started_at=now)
            session.add(shift)
        changed = (shift.consent_at is not None) != consent
        shift.consent_at = now if consent else None
        session.flush()
        if changed or shift.started_at == now:
            audit.append(session, "field_shift",
                         {"action": "start", "shift_id": shift.id, "consent": consent},
                         actor=actor, subject=f"user:{agent_id}")  # fmt: skip
        return ShiftState(True, consent, shift.started_at)


def end_shift(engine: Engine, agent_id: int, actor: str, now: datetime) -> None:
    with transaction(engine) as session:
        shift = _open(session, agent_id, now)
        if shift is None:
            return
        shift.ended_at = now
        audit.append(session, "field_shift", {"action": "end", "shift_id": shift.id},
                     actor=actor, subject=f"user:{agent_id}")  # fmt: skip


def report(engine: Engine, agent_id: int, fix: Fix, battery: object, now: datetime) -> bool:
    """Keep a position if the agent is on shift and shares it; False when it was not kept
    (off shift, no consent, too soon after the last one, vaguer than MAX_ACCURACY_M).
    ShiftError for bad values. Reports of one shift at once are judged one after the
    other (the shift's row is locked): never two within MIN_INTERVAL."""
    level = _battery(battery)
    with transaction(engine) as session:
        shift = _open(session, agent_id, now)
        # A phone's clock may run a little behind the server's (CLOCK_SKEW).
        if shift is None or shift.consent_at is None or fix.at < shift.started_at - CLOCK_SKEW:
            return False
        if fix.accuracy_m > MAX_ACCURACY_M:
            return False
        # The rate check and the write are one step: two reports at once (two tabs, a
        # retry) both read no recent position and both were kept.
        _hold(session, shift.id)
        last = session.scalar(
            select(func.max(FieldPosition.at)).where(FieldPosition.shift_id == shift.id)
        )
        if last is not None and fix.at - last < MIN_INTERVAL:
            return False
        session.add(FieldPosition(shift_id=shift.id, agent_id=agent_id, at=fix.at,
                                  latitude=fix.lat, longitude=fix.lon,
                                  accuracy_m=fix.accuracy_m, battery=level))  # fmt: skip
        return True


def _hold(session: Any, shift_id: int) -> None:
    """The shift's row locked for this transaction (PostgreSQL: FOR UPDATE; SQLite: the
    write lock an update takes), so the reports of one shift are judged one after the
    other, each seeing the position the one before kept."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(FieldShift.id).where(FieldShift.id == shift_id).with_for_update())
    else:
        session.execute(update(FieldShift).where(FieldShift.id == shift_id)
                        .values(id=FieldShift.id))  # fmt: skip


def _battery(value: object) -> float | None:
    if value is None:
        return None  # the browser does not tell (no Battery Status API)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ShiftError("La batería es un número de 0 a 1.")
    # Compared before any float(): an integer of 400 digits is no float (OverflowError).
    if not 0 <= value <= 1 or not math.isfinite(value):
        raise ShiftError("La batería es un número de 0 a 1.")
    return float(value)


def on_shift(engine: Engine, now: datetime) -> int:
    """How many field agents have a shift open (the metrics' gauge)."""
    with transaction(engine) as session:
        return int(session.scalar(
            select(func.count(func.distinct(FieldShift.agent_id))).where(
                FieldShift.ended_at.is_(None), FieldShift.started_at > now - MAX_SHIFT)
        ) or 0)  # fmt: skip


def last_positions(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """Each agent's last position of the open shift they share it on (none for
    agents off shift or who did not consent)."""
    with transaction(engine) as session:
        shifts = session.scalars(
            select(FieldShift).where(
                FieldShift.ended_at.is_(None),
                FieldShift.consent_at.is_not(None),
                FieldShift.started_at > now - MAX_SHIFT,
            )
        ).all()
        out = []
        for shift in shifts:
            position = session.scalars(
                select(FieldPosition)
                .where(FieldPosition.shift_id == shift.id)
                .order_by(FieldPosition.at.desc())
            ).first()
            if position is None:
                continue
            user = session.get(User, shift.agent_id)
            out.append({
                "agent_id": shift.agent_id, "agent": user.display_name if user else "",
                "lat": position.latitude, "lon": position.longitude,
                "accuracy_m": position.accuracy_m, "battery": position.battery,
                "at": position.at.isoformat(),
            })  # fmt: skip
        return out


def purge(engine: Engine, now: datetime, retention: timedelta = DEFAULT_RETENTION) -> int:
    """Delete the positions of shifts that ended more than `retention` ago (a shift
    left open ends MAX_SHIFT after its start). Returns how many went."""
    cutoff = now - retention
    with transaction(engine) as session:
        for shift in session.scalars(
            select(FieldShift).where(
                FieldShift.ended_at.is_(None), FieldShift.started_at < now - MAX_SHIFT
            )  # fmt: skip
        ):
            shift.ended_at = shift.started_at + MAX_SHIFT
        session.flush()
        ended = select(FieldShift.id).where(FieldShift.ended_at < cutoff)
        gone = session.execute(
            delete(FieldPosition).where(FieldPosition.shift_id.in_(ended))
        ).rowcount  # type: ignore[attr-defined]
        if gone:
            audit.append(session, "field_positions_purged",
                         {"positions": gone, "ended_before": cutoff},
                         actor="system", subject=None)  # fmt: skip
        return int(gone or 0)
