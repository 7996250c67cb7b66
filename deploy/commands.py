"""CLI: `cobrador deploy check-secrets` (the same check the containers run first)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    deploy = subparsers.add_parser("deploy", help="deployment checks")
    actions = deploy.add_subparsers(dest="deploy_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check-secrets", help="refuse missing, weak or example secrets in the environment"
    )
    check.add_argument(
        "--require", action="append", default=[], metavar="VARIABLE", help="must be set"
    )
    check.set_defaults(func=_check_secrets)


def _check_secrets(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.errors import UserError
    from deploy.secrets_check import UnsafeSecretsError, refuse_unsafe_secrets

    required = [*args.require, *os.environ.get("COBRADOR_REQUIRED_SECRETS", "").split()]
    try:
        refuse_unsafe_secrets(os.environ, required)
    except UnsafeSecretsError as exc:
        raise UserError(str(exc)) from exc
    print("secrets: ok")
    return 0
