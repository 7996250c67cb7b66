"""CLI: `cobrador third-party set|clear --account REF --phone NUMBER`: an operator marks
one of an account's numbers as reaching someone who is not the debtor (or ends the
mark), audited as the supervisor console's mark (compliance/protection.py); `cobrador
third-party own --account REF --phone NUMBER --ref EVIDENCE|--clear` records that the
number is that account's debtor's own, so another account's mark does not bind it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings

# Called with the account after a number of it was marked (in SQL already: every final
# check reads it); the dialer registers one that tells its running loops to drop the
# account and hang up a call to it not yet answered, as the console's mark does.
MARKED_HOOKS: list[Callable[[Settings, int], None]] = []


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "third-party", help="numbers that reach someone who is not the debtor (never contacted)"
    )
    sub = parser.add_subparsers(dest="third_party_command", metavar="ACTION", required=True)
    for action, text in (("set", "mark the account's number as a third party's"),
                         ("clear", "end the mark: the number reaches the debtor after all")):  # fmt: skip
        one = sub.add_parser(action, help=text)
        one.add_argument("--account", required=True, help="account external reference")
        one.add_argument("--phone", required=True, help="the number, E.164 or national")
        one.set_defaults(func=_third_party, action=action)
    own = sub.add_parser(
        "own", help="the number is this account's debtor's own (another account's mark on "
        "it does not bind it here)",
    )  # fmt: skip
    own.add_argument("--account", required=True, help="account external reference")
    own.add_argument("--phone", required=True, help="the number, E.164 or national")
    group = own.add_mutually_exclusive_group(required=True)
    group.add_argument("--ref", help="the evidence (a verified call, the debtor's contract)")
    group.add_argument("--clear", action="store_true", help="end the confirmation")
    own.set_defaults(func=_own)


def _own(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.protection import ProtectionError, confirm_own_number
    from store.db import open_engine, transaction

    engine = open_engine(settings)
    try:
        with transaction(engine) as session:
            change = confirm_own_number(session, args.account, args.phone,
                                        None if args.clear else args.ref, actor="cli",
                                        now=datetime.now(UTC), source="cli")  # fmt: skip
    except LookupError as exc:
        raise UserError(str(exc)) from None
    except ProtectionError as exc:
        raise UserError(f"--phone: {exc}") from None
    print(json.dumps({"changed": change.changed, "owner_confirmed": not args.clear}))
    return 0


def _third_party(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.protection import (
        ProtectionError,
        clear_third_party_number,
        mark_third_party_number,
    )
    from store.db import open_engine, transaction

    change_number = mark_third_party_number if args.action == "set" else clear_third_party_number
    engine = open_engine(settings)
    try:
        with transaction(engine) as session:
            change = change_number(session, args.account, args.phone, actor="cli",
                                   now=datetime.now(UTC), source="cli")  # fmt: skip
    except LookupError as exc:
        raise UserError(str(exc)) from None
    except ProtectionError as exc:
        raise UserError(f"--phone: {exc}") from None
    if change.changed and args.action == "set":
        for hook in MARKED_HOOKS:
            hook(settings, change.account_id)
    print(json.dumps({"changed": change.changed, "status": change.status}))
    return 0
