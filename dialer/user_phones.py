"""Where a console user's phone is: the Originate Channel built from the
`agent_endpoint` setting (e.g. ``PJSIP/agent-{user_id}``) and the users table."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine

from store.db import transaction
from store.models import User

_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


class EndpointError(ValueError):
    """The endpoint template cannot make a channel for this user."""


@dataclass(frozen=True)
class PhoneUser:
    user_id: int
    username: str
    role: str


def endpoint(template: str, user: PhoneUser) -> str:
    """The Originate Channel of the user's phone; refuses names that could
    smuggle another channel or dialplan syntax into the Originate."""
    if not template:
        raise EndpointError("no agent_endpoint configured")
    if not _SAFE.match(user.username):
        raise EndpointError(f"user name {user.username!r} cannot name a phone")
    try:
        channel = template.format(user_id=user.user_id, username=user.username)
    except (KeyError, IndexError, ValueError) as exc:
        raise EndpointError(f"agent_endpoint {template!r}: {exc}") from exc
    if "/" not in channel or any(c in channel for c in ",&|\r\n "):
        raise EndpointError(f"agent_endpoint {template!r} gives an unusable channel {channel!r}")
    return channel


def load_user(engine: Engine, user_id: int) -> PhoneUser | None:
    """The active user with this id, or None."""
    with transaction(engine) as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            return None
        return PhoneUser(user.id, user.username, user.role)
