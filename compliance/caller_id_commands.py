"""CLI: `cobrador caller-id add|list|remove`, the registered caller IDs (compliance.caller_ids)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    cid = subparsers.add_parser(
        "caller-id", help="the registered caller IDs campaigns may show (CONDUSEF/REDECO)"
    )
    sub = cid.add_subparsers(dest="caller_id_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="register a number (audited)")
    add.add_argument("number", help="E.164, e.g. +525550001000")
    add.add_argument("--country", required=True, choices=["MX", "CO", "PE", "US"])
    add.add_argument("--reference", required=True, help="the registration's folio (REDECO...)")
    add.set_defaults(func=_add)
    show = sub.add_parser("list", help="the registered numbers, one JSON line each")
    show.add_argument("--country", help="only this country's")
    show.set_defaults(func=_list)
    remove = sub.add_parser("remove", help="unregister a number (audited): no campaign shows it")
    remove.add_argument("number")
    remove.set_defaults(func=_remove)


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.errors import UserError
    from compliance.caller_ids import CallerIdError, add
    from store.db import open_engine, transaction

    try:
        with transaction(open_engine(settings)) as s:
            row = add(s, args.number, args.country, args.reference, actor="cli")
            number, country = row.number, row.country
    except CallerIdError as exc:
        raise UserError(str(exc)) from exc
    print(f"caller ID +{number} registered for {country}")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.caller_ids import listing
    from store.db import open_engine, transaction

    with transaction(open_engine(settings)) as s:
        for row in listing(s, args.country):
            print(json.dumps({"number": f"+{row.number}", "country": row.country,
                              "reference": row.reference, "created_by": row.created_by,
                              "created_at": row.created_at.isoformat()}, ensure_ascii=False))  # fmt: skip
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from cobrador.ground.errors import UserError
    from compliance.caller_ids import CallerIdError, check_campaign, registered, remove
    from store.db import open_engine, transaction
    from store.models import Campaign

    try:
        with transaction(open_engine(settings)) as s:
            row = remove(s, args.number, actor="cli")
            number, country = row.number, row.country
            left = registered(s, country) - {number}
            stranded = [
                c.name
                for c in s.scalars(select(Campaign).where(Campaign.country == country))
                if number in (c.caller_ids or [])
                and check_campaign(c.caller_ids or [], left, country).problem
            ]
    except CallerIdError as exc:
        raise UserError(str(exc)) from exc
    print(f"caller ID +{number} removed from the registered set of {country}")
    if stranded:
        print(f"campaign(s) left without a registered caller ID (they stop dialing): "
              f"{', '.join(sorted(stranded))}")  # fmt: skip
    return 0
