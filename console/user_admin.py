"""Administering console users (`cobrador user ...`): list, disable, enable,
reset a password, change a role. Every change is audited, and every change
that takes access away ends the user's sessions at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from console import login_throttle
from console.security import hash_password
from console.sessions import end_all_in
from console.users import UserInputError
from store.audit import append as audit_append
from store.db import transaction
from store.models import Campaign, Role, User


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    role: str
    campaign: str | None
    active: bool
    locked_until: datetime | None


def list_users(engine: Engine, now: datetime) -> list[UserRow]:
    with transaction(engine) as session:
        rows = session.execute(
            select(User, Campaign.name)
            .outerjoin(Campaign, Campaign.id == User.campaign_id)
            .order_by(User.username)
        ).all()
        found = [(u.id, u.username, u.display_name, u.role, c, u.active) for u, c in rows]
    return [
        UserRow(*row, locked_until=login_throttle.locked_until(engine, row[1], now))
        for row in found
    ]


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise UserInputError(f"no user named {username!r}")
    return user


def _audit(
    session: Session, user: User, change: dict[str, object], actor: str, now: datetime
) -> None:
    audit_append(
        session,
        "user_change",
        {"username": user.username, **change},
        actor=actor,
        subject=f"user:{user.id}",
        now=now,
    )


def set_active(engine: Engine, username: str, active: bool, actor: str, now: datetime) -> int:
    """Enable or disable a user; disabling ends their sessions. Returns sessions ended."""
    with transaction(engine) as session:
        user = _user(session, username)
        user.active = active
        ended = 0 if active else end_all_in(session, user.id, now, "disabled")
        _audit(
            session,
            user,
            {"action": "enable" if active else "disable", "sessions_ended": ended},
            actor,
            now,
        )
        return ended


def reset_password(engine: Engine, username: str, password: str, actor: str, now: datetime) -> int:
    """A new password (a lost demo password too): ends the user's sessions and
    clears a login lock. Returns sessions ended."""
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise UserInputError(str(exc)) from exc
    with transaction(engine) as session:
        user = _user(session, username)
        user.password_hash = password_hash
        ended = end_all_in(session, user.id, now, "password_reset")
        _audit(session, user, {"action": "reset_password", "sessions_ended": ended}, actor, now)
        name = user.username
    login_throttle.unlock(engine, name)
    return ended


def set_role(
    engine: Engine,
    username: str,
    role: str,
    actor: str,
    now: datetime,
    campaign: str | None = None,
) -> int:
    """Change a user's role (and the campaign a supervisor or agent is tied to);
    ends their sessions. ``campaign`` "" unties the user. Returns sessions ended."""
    try:
        role_value = Role(role)
    except ValueError as exc:
        raise UserInputError(f"unknown role {role!r}; use one of: {', '.join(Role)}") from exc
    with transaction(engine) as session:
        user = _user(session, username)
        change: dict[str, object] = {
            "action": "set_role",
            "from": user.role,
            "role": role_value.value,
        }
        user.role = role_value.value
        if campaign is not None:
            campaign_id = None
            if campaign:
                campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == campaign))
                if campaign_id is None:
                    raise UserInputError(f"no campaign named {campaign!r}")
            user.campaign_id = campaign_id
            change["campaign"] = campaign or None
        ended = end_all_in(session, user.id, now, "role_changed")
        change["sessions_ended"] = ended
        _audit(session, user, change, actor, now)
        return ended
