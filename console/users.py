"""Console users: creation and lookup (synchronous SQL, run in a worker thread)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from console.security import hash_password
from store.audit import append as audit_append
from store.db import transaction
from store.models import Role, User


class UserInputError(ValueError):
    """Bad input for a user: the message says what to fix."""


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    display_name: str
    role: Role
    campaign_id: int | None

    @property
    def actor(self) -> str:
        return f"user:{self.username}"


def current_user(user: User) -> CurrentUser:
    return CurrentUser(user.id, user.username, user.display_name, Role(user.role), user.campaign_id)


def create_user(
    engine: Engine,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    campaign: str | None = None,
    actor: str = "cli",
    territory: str | None = None,
) -> CurrentUser:
    from store.models import Campaign

    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("_", "").replace("-", "").isalnum()
    ):
        raise UserInputError("user names are 1-64 letters, digits, '.', '_' or '-'")
    try:
        role_value = Role(role)
    except ValueError as exc:
        raise UserInputError(f"unknown role {role!r}; use one of: {', '.join(Role)}") from exc
    territory = (territory or "").strip() or None
    if territory is not None and len(territory) > 64:
        raise UserInputError("a territory is at most 64 characters")
    if territory is not None and role_value is not Role.field:
        raise UserInputError("only field agents (role field) have a territory")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise UserInputError(str(exc)) from exc
    with transaction(engine) as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise UserInputError(f"user {username!r} already exists")
        campaign_id = None
        if campaign:
            campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == campaign))
            if campaign_id is None:
                raise UserInputError(f"no campaign named {campaign!r}")
        user = User(
            username=username,
            display_name=display_name or username,
            role=role_value.value,
            password_hash=password_hash,
            campaign_id=campaign_id,
            territory=territory,
        )
        session.add(user)
        session.flush()
        audit_append(
            session,
            "user_change",
            {
                "action": "create",
                "username": username,
                "role": role_value.value,
                **({"territory": territory} if territory else {}),
            },  # fmt: skip
            actor=actor,
            subject=f"user:{user.id}",
        )
        return current_user(user)


def find_for_login(engine: Engine, username: str) -> tuple[CurrentUser | None, str | None]:
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None:
            return None, None
        return current_user(user), user.password_hash


def load_user(engine: Engine, user_id: int) -> CurrentUser | None:
    with transaction(engine) as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            return None
        return current_user(user)
