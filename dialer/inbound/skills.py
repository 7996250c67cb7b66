"""Skill groups: named sets of agents who take a campaign's inbound calls first.

SQL is the truth (`skill_groups`, `skill_group_members`); a campaign names its
group in `Campaign.config["inbound"]["skill_group"]`. Every change is an audit
entry (`skill_group_change`, or `campaign_change` when a campaign's group
changes). Synchronous; the CLI calls it directly, the console and the dialer in
a worker thread. Mistakes an operator can make raise SkillGroupError.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from store import audit
from store.db import transaction
from store.models import Campaign, Role, SkillGroup, SkillGroupMember, User

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class SkillGroupError(ValueError):
    """A skill-group change that cannot be made; the message says what to fix."""


@dataclass(frozen=True)
class GroupView:
    name: str
    description: str
    agents: tuple[str, ...]  # user names
    campaigns: tuple[str, ...]  # campaigns that name the group


def campaign_group(config: dict[str, Any] | None) -> str | None:
    inbound = (config or {}).get("inbound") or {}
    group = inbound.get("skill_group") if isinstance(inbound, dict) else None
    return str(group) if group else None


def _group(s: Session, name: str) -> SkillGroup:
    group = s.scalar(select(SkillGroup).where(SkillGroup.name == name))
    if group is None:
        known = list(s.scalars(select(SkillGroup.name).order_by(SkillGroup.name)))
        hint = f"; existing: {', '.join(known)}" if known else "; none exists yet"
        raise SkillGroupError(f"no skill group named {name!r}{hint}")
    return group


def _naming(s: Session, name: str) -> list[Campaign]:
    campaigns = s.scalars(select(Campaign).order_by(Campaign.name))
    return [c for c in campaigns if campaign_group(c.config) == name]


def _agents(s: Session, usernames: Sequence[str]) -> list[User]:
    if not usernames:
        raise SkillGroupError("name at least one agent")
    users = {u.username: u for u in s.scalars(select(User).where(User.username.in_(usernames)))}
    unknown = [n for n in usernames if n not in users]
    if unknown:
        raise SkillGroupError(f"unknown agent(s): {', '.join(unknown)}")
    not_agents = [f"{u.username} ({u.role})" for u in users.values() if u.role != Role.agent.value]
    if not_agents:
        raise SkillGroupError(f"not agents, only agents take calls: {', '.join(not_agents)}")
    return [users[n] for n in dict.fromkeys(usernames)]


def create_group(sql: Engine, name: str, description: str = "", actor: str = "cli") -> None:
    if not NAME_RE.match(name):
        raise SkillGroupError(
            f"skill group name {name!r}: 1-64 lower-case letters, digits, '.', '_' or '-'"
        )
    with transaction(sql) as s:
        if s.scalar(select(SkillGroup.id).where(SkillGroup.name == name)) is not None:
            raise SkillGroupError(f"skill group {name!r} already exists")
        group = SkillGroup(name=name, description=description[:200])
        s.add(group)
        s.flush()
        audit.append(s, "skill_group_change", {"group": name, "created": True,
                                               "description": group.description},
                     actor=actor, subject=f"skill_group:{group.id}")  # fmt: skip


def delete_group(sql: Engine, name: str, *, force: bool = False, actor: str = "cli") -> list[str]:
    """Refused while a campaign names the group, unless `force`: then those campaigns
    stop naming it (each change audited). Returns the campaigns cleared."""
    with transaction(sql) as s:
        group = _group(s, name)
        naming = _naming(s, name)
        if naming and not force:
            names = ", ".join(c.name for c in naming)
            raise SkillGroupError(
                f"skill group {name!r} is named by campaign(s) {names}: their inbound calls "
                f"would go to any agent of the campaign. Name another group on them first "
                f"(cobrador campaign skill-group CAMPAIGN GROUP|--none) or delete with --force"
            )
        for campaign in naming:
            _set_campaign_group(s, campaign, None, actor)
        members = list(s.scalars(
            select(User.username).join(SkillGroupMember, SkillGroupMember.user_id == User.id)
            .where(SkillGroupMember.group_id == group.id).order_by(User.username)
        ))  # fmt: skip
        s.execute(delete(SkillGroupMember).where(SkillGroupMember.group_id == group.id))
        s.delete(group)
        audit.append(s, "skill_group_change", {"group": name, "deleted": True, "agents": members,
                                               "cleared_campaigns": [c.name for c in naming]},
                     actor=actor, subject=f"skill_group:{group.id}")  # fmt: skip
        return [c.name for c in naming]


def add_agents(sql: Engine, name: str, usernames: Sequence[str], actor: str = "cli") -> list[str]:
    """Returns the agents added (those already in the group are left as they are)."""
    with transaction(sql) as s:
        group = _group(s, name)
        users = _agents(s, usernames)
        present = set(s.scalars(select(SkillGroupMember.user_id)
                                .where(SkillGroupMember.group_id == group.id)))  # fmt: skip
        new = [u for u in users if u.id not in present]
        s.add_all(SkillGroupMember(group_id=group.id, user_id=u.id) for u in new)
        if new:
            audit.append(s, "skill_group_change",
                         {"group": name, "added": [u.username for u in new]},
                         actor=actor, subject=f"skill_group:{group.id}")  # fmt: skip
        return [u.username for u in new]


def remove_agents(sql: Engine, name: str, usernames: Sequence[str], actor: str = "cli") -> None:
    with transaction(sql) as s:
        group = _group(s, name)
        users = _agents(s, usernames)
        present = set(s.scalars(select(SkillGroupMember.user_id)
                                .where(SkillGroupMember.group_id == group.id)))  # fmt: skip
        outside = [u.username for u in users if u.id not in present]
        if outside:
            raise SkillGroupError(f"not in skill group {name!r}: {', '.join(outside)}")
        s.execute(delete(SkillGroupMember).where(SkillGroupMember.group_id == group.id,
                                                 SkillGroupMember.user_id.in_([u.id for u in users])))  # fmt: skip
        audit.append(s, "skill_group_change",
                     {"group": name, "removed": [u.username for u in users]},
                     actor=actor, subject=f"skill_group:{group.id}")  # fmt: skip


def list_groups(sql: Engine) -> list[GroupView]:
    with Session(sql) as s:
        groups = list(s.scalars(select(SkillGroup).order_by(SkillGroup.name)))
        members: dict[int, list[str]] = {}
        for group_id, username in s.execute(
            select(SkillGroupMember.group_id, User.username)
            .join(User, User.id == SkillGroupMember.user_id).order_by(User.username)
        ):  # fmt: skip
            members.setdefault(group_id, []).append(username)
        campaigns = list(s.scalars(select(Campaign).order_by(Campaign.name)))
        return [
            GroupView(g.name, g.description, tuple(members.get(g.id, [])),
                      tuple(c.name for c in campaigns if campaign_group(c.config) == g.name))
            for g in groups
        ]  # fmt: skip


def group_names(sql: Engine) -> list[str]:
    with Session(sql) as s:
        return list(s.scalars(select(SkillGroup.name).order_by(SkillGroup.name)))


def set_campaign_group(sql: Engine, campaign: str, group: str | None, actor: str = "cli") -> None:
    """Name a skill group on a campaign (None: its own agents take its inbound calls)."""
    with transaction(sql) as s:
        row = s.scalar(select(Campaign).where(Campaign.name == campaign))
        if row is None:
            raise SkillGroupError(f"no campaign named {campaign!r}")
        if group is not None:
            _group(s, group)
        _set_campaign_group(s, row, group, actor)


def set_campaign_group_in(s: Session, campaign: Campaign, group: str | None, actor: str) -> None:
    """As set_campaign_group, inside the caller's transaction (the console's controls)."""
    if group is not None:
        _group(s, group)
    _set_campaign_group(s, campaign, group, actor)


def check_group_exists(s: Session, group: str) -> None:
    _group(s, group)


def _set_campaign_group(s: Session, campaign: Campaign, group: str | None, actor: str) -> None:
    before = campaign_group(campaign.config)
    config = dict(campaign.config or {})
    inbound = dict(config.get("inbound") or {})
    if group is None:
        inbound.pop("skill_group", None)
    else:
        inbound["skill_group"] = group
    config["inbound"] = inbound
    campaign.config = config  # a new dict: the JSON column sees the change
    audit.append(s, "campaign_change", {"campaign": campaign.name, "skill_group": group,
                                        "previous_skill_group": before},
                 actor=actor, subject=f"campaign:{campaign.id}")  # fmt: skip


def member_ids(sql: Engine, group: str) -> set[int]:
    """The active agents of a group (routing asks at each try; an unknown group: none)."""
    with Session(sql) as s:
        return set(s.scalars(
            select(SkillGroupMember.user_id)
            .join(SkillGroup, SkillGroup.id == SkillGroupMember.group_id)
            .join(User, User.id == SkillGroupMember.user_id)
            .where(SkillGroup.name == group, User.active.is_(True))
        ))  # fmt: skip


def memberships(sql: Engine) -> dict[int, frozenset[str]]:
    """Every active agent in a skill group -> the groups (one query; the dial loop caches it)."""
    out: dict[int, set[str]] = {}
    with Session(sql) as s:
        for user_id, name in s.execute(
            select(SkillGroupMember.user_id, SkillGroup.name)
            .join(SkillGroup, SkillGroup.id == SkillGroupMember.group_id)
            .join(User, User.id == SkillGroupMember.user_id)
            .where(User.active.is_(True))
        ):  # fmt: skip
            out.setdefault(int(user_id), set()).add(str(name))
    return {agent: frozenset(groups) for agent, groups in out.items()}
