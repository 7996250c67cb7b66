"""CLI: `cobrador skill-group create|delete|add|remove|list` (dialer/inbound/skills.py);
a campaign names its group with `cobrador campaign skill-group`."""

from __future__ import annotations

import argparse
from typing import Any

from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("skill-group", help="agents who take a campaign's inbound calls")
    sub = group.add_subparsers(dest="skill_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="a new, empty skill group")
    create.add_argument("name")
    create.add_argument("--description", default="")
    create.set_defaults(func=_create)
    delete = sub.add_parser("delete", help="delete a group (refused while a campaign names it)")
    delete.add_argument("name")
    delete.add_argument(
        "--force", action="store_true", help="also stop the campaigns that name it from naming it"
    )
    delete.set_defaults(func=_delete)
    for action, text in (("add", "put agents in the group"), ("remove", "take agents out")):
        p = sub.add_parser(action, help=text)
        p.add_argument("name")
        p.add_argument("agents", nargs="+", metavar="AGENT", help="agent user name")
        p.set_defaults(func=_members)
    listing = sub.add_parser("list", help="groups, their agents and the campaigns naming them")
    listing.set_defaults(func=_list)


def _engine(settings: Settings) -> Any:
    from store.db import open_engine

    return open_engine(settings)


def _run(call: Any) -> Any:
    from cobrador.ground.errors import UserError
    from dialer.inbound.skills import SkillGroupError

    try:
        return call()
    except SkillGroupError as exc:
        raise UserError(str(exc)) from exc


def _create(args: argparse.Namespace, settings: Settings) -> int:
    from dialer.inbound import skills

    engine = _engine(settings)
    _run(lambda: skills.create_group(engine, args.name, args.description))
    print(f"skill group {args.name} created; add agents with: "
          f"cobrador skill-group add {args.name} AGENT...")  # fmt: skip
    return 0


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    from dialer.inbound import skills

    engine = _engine(settings)
    cleared = _run(lambda: skills.delete_group(engine, args.name, force=args.force))
    print(f"skill group {args.name} deleted")
    for campaign in cleared:
        print(f"campaign {campaign} no longer names a skill group: its own agents take its calls")
    return 0


def _members(args: argparse.Namespace, settings: Settings) -> int:
    from dialer.inbound import skills

    engine = _engine(settings)
    if args.skill_command == "add":
        added = _run(lambda: skills.add_agents(engine, args.name, args.agents))
        already = [a for a in dict.fromkeys(args.agents) if a not in added]
        print(f"{len(added)} agent(s) added to {args.name}"
              + (f"; already in it: {', '.join(already)}" if already else ""))  # fmt: skip
    else:
        _run(lambda: skills.remove_agents(engine, args.name, args.agents))
        print(f"{len(set(args.agents))} agent(s) removed from {args.name}")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from dialer.inbound import skills

    groups = skills.list_groups(_engine(settings))
    if not groups:
        print("no skill groups; create one with: cobrador skill-group create NAME")
    for g in groups:
        print(f"{g.name}\t{g.description}")
        print(f"  agents: {', '.join(g.agents) or '(none)'}")
        print(f"  campaigns: {', '.join(g.campaigns) or '(none)'}")
    return 0
