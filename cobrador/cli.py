"""The `cobrador` command: one entry point, subcommands registered by each package."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from cobrador import __version__
from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings, SettingsError

# Each module has `register(subparsers)` adding its commands; a command sets
# `func(args, settings) -> int` as its default. Add new command modules here.
COMMAND_MODULES = [
    "store.commands",
    "store.recordings.commands",
    "compliance.commands",
    "compliance.caller_id_commands",
    "compliance.third_party_commands",
    "dialer.pacing.commands",
    "dialer.commands",
    "dialer.inbound.commands",
    "outreach.commands",
    "outreach.letter_commands",
    "cobrador.chat_wiring",  # the debtors' chat joins `outreach run` (no command of its own)
    "selfservice.commands",
    "selfservice.payment_commands",
    "selfservice.bot_commands",
    "cobrador.demo",
    "console.commands",
    "deploy.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cobrador", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cobrador {__version__}")
    parser.add_argument("--config", help="TOML config file (else COBRADOR_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


Handler = Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # Migrations run at every start; their chatter is not news to an operator.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        settings = Settings.load(config_file=args.config)
        return func(args, settings)
    except (UserError, SettingsError) as exc:
        print(f"cobrador: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        print("cobrador: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cobrador ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
