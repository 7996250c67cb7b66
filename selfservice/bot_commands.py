"""CLI: `cobrador bot intent "TEXT"` prints what the assistant reads in a message."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    bot = subparsers.add_parser("bot", help="the debtors' assistant")
    actions = bot.add_subparsers(dest="bot_command", metavar="ACTION", required=True)
    intent = actions.add_parser(
        "intent", help='print the intent of a debtor\'s message as JSON ("-" reads stdin)'
    )
    intent.add_argument("text", help="the message, in quotes; - to read it from stdin")
    intent.set_defaults(func=_intent)


def _intent(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from selfservice.intents import classify
    from selfservice.normalize import MAX_CHARS

    text = sys.stdin.read(MAX_CHARS * 4) if args.text == "-" else args.text
    found = classify(text)
    out: dict[str, object] = {"intent": found.name, "confidence": found.confidence}
    if found.channel is not None or found.name == "stop":
        out["channel"] = found.channel
    if found.kind is not None:
        out["kind"] = found.kind
    if found.party is not None:
        out["party"] = found.party
    print(json.dumps(out, ensure_ascii=False))
    return 0
