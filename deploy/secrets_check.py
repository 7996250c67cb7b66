"""Refuse to start with a missing, weak or example secret (fail closed).

The docker-compose deployment runs this before every cobrador process and
before its one-shot `preflight` service, so a first `docker compose up` with
the values of .env.example stops here with the names of the variables to set.
Values are never printed. Standard library only: the Asterisk container runs
this file with its own python3.

    python -m deploy.secrets_check [--require VARIABLE ...]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# Secrets a deployment passes through the environment.
SECRET_VARIABLES = (
    "COBRADOR_AMI_SECRET",
    "COBRADOR_CONSOLE_SECRET",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "TURN_SECRET",
    "COBRADOR_PORTAL_LINK_SECRET",
    "COBRADOR_PORTAL_IDENTITY_KEY",
)
# The message and payment gateways' credentials: needed only when their gateway is
# on, ((gateway variable, its value) -> the secrets it then needs); a secret named
# here and set is checked whatever the gateway. SMTP's password only with a user
# name (a relay on the local network may take mail without logging in).
GATEWAY_SECRETS: dict[tuple[str, str], tuple[str, ...]] = {
    ("COBRADOR_SMS_GATEWAY", "kannel"): ("COBRADOR_KANNEL_PASSWORD",),
    ("COBRADOR_SMS_GATEWAY", "smpp"): ("COBRADOR_SMPP_PASSWORD",),
    ("COBRADOR_WHATSAPP_GATEWAY", "cloud_api"): (
        "COBRADOR_WHATSAPP_ACCESS_TOKEN",
        "COBRADOR_WHATSAPP_APP_SECRET",
        "COBRADOR_WHATSAPP_VERIFY_TOKEN",
    ),
    ("COBRADOR_PAYMENT_GATEWAY", "mercadopago"): (
        "COBRADOR_MERCADOPAGO_ACCESS_TOKEN",
        "COBRADOR_MERCADOPAGO_WEBHOOK_SECRET",
    ),
}
SMTP_USER, SMTP_PASSWORD = "COBRADOR_SMTP_USERNAME", "COBRADOR_SMTP_PASSWORD"
# Set or not, these are checked when set (the callbacks token is made and kept when unset).
OPTIONAL_SECRETS = (
    *dict.fromkeys(v for names in GATEWAY_SECRETS.values() for v in names),
    SMTP_PASSWORD,
    "COBRADOR_CALLBACKS_TOKEN",
)
# Connection URLs whose embedded password is a secret too.
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL")
MIN_LENGTH = 16
# The portal's keys are 32+ bytes in base64: 43 characters at least.
# SMPP 3.4's password field holds 8 characters at most: all of them are asked for.
# A mail account's password is often a person's choice of 12.
MIN_LENGTHS = {"COBRADOR_CONSOLE_SECRET": 32, "COBRADOR_PORTAL_LINK_SECRET": 43,
               "COBRADOR_PORTAL_IDENTITY_KEY": 43, "COBRADOR_SMPP_PASSWORD": 8,
               SMTP_PASSWORD: 12}  # fmt: skip
# .env.example marks every value with one of these; so do most templates.
EXAMPLE_MARKERS = ("example", "change-me", "changeme", "change_me", "replace-me", "xxxx")
# Defaults of the images and of our own development configuration.
KNOWN_WEAK = frozenset(
    {
        "admin",
        "cobrador",
        "cobrador-dev-secret",
        "grafana",
        "password",
        "postgres",
        "redis",
        "secret",
        "changeit",
        "123456",
        # Kannel's documented sendsms user and password.
        "tester",
        "foobar",
        "kannel",
    }
)


@dataclass(frozen=True)
class SecretProblem:
    variable: str
    problem: str

    def __str__(self) -> str:
        return f"{self.variable} {self.problem}"


class UnsafeSecretsError(Exception):
    """One or more secrets are missing, weak or still the example ones."""

    def __init__(self, problems: Sequence[SecretProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            "refusing to start with unsafe secrets:\n"
            f"{lines}\n"
            "Set real values in .env (see .env.example); generate each with\n"
            '  python3 -c "import secrets; print(secrets.token_urlsafe(32))"\n'
            "and the portal's keys (COBRADOR_PORTAL_*: base64) with\n"
            "  openssl rand -base64 32"
        )


def secret_problem(value: str, min_length: int = MIN_LENGTH) -> str | None:
    """Why `value` is unacceptable as a production secret, or None."""
    if not value.strip():
        return "is empty"
    lowered = value.lower()
    if any(marker in lowered for marker in EXAMPLE_MARKERS):
        return "is still the example value"
    if lowered in KNOWN_WEAK:
        return "is a well-known default"
    if len(value) < min_length:
        return f"is shorter than {min_length} characters"
    if len(set(value)) < 6:
        return "has too few distinct characters"
    return None


def gateway_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The gateways' secrets `environ` needs: {variable: the setting that needs it}."""
    needed: dict[str, str] = {}
    for (gateway, value), names in GATEWAY_SECRETS.items():
        if environ.get(gateway, "").strip().lower() == value:
            needed.update(dict.fromkeys(names, f"{gateway}={value}"))
    if (
        environ.get("COBRADOR_EMAIL_GATEWAY", "").strip().lower() == "smtp"
        and environ.get(SMTP_USER, "").strip()
    ):
        needed[SMTP_PASSWORD] = f"{SMTP_USER} (COBRADOR_EMAIL_GATEWAY=smtp)"
    return needed


def check_environment(
    environ: Mapping[str, str], required: Iterable[str] = ()
) -> list[SecretProblem]:
    """Problems with the secrets in `environ`: every required variable must be
    set, every secret of a gateway that is on too, and every known secret that
    is set must be strong."""
    problems: list[SecretProblem] = []
    required = tuple(required)
    for name in required:
        if not environ.get(name):
            problems.append(SecretProblem(name, "is not set"))
    needed = gateway_secrets(environ)
    for name, why in needed.items():
        if not environ.get(name) and name not in required:
            problems.append(SecretProblem(name, f"is not set (needed with {why})"))
    for name in dict.fromkeys((*required, *SECRET_VARIABLES, *OPTIONAL_SECRETS)):
        value = environ.get(name)
        if value:
            problem = secret_problem(value, MIN_LENGTHS.get(name, MIN_LENGTH))
            if problem:
                problems.append(SecretProblem(name, problem))
    for name in URL_VARIABLES:
        password = _url_password(environ.get(name, ""))
        if password is not None:
            problem = secret_problem(password)
            if problem:
                problems.append(SecretProblem(name, f"password {problem}"))
    return problems


def refuse_unsafe_secrets(environ: Mapping[str, str], required: Iterable[str] = ()) -> None:
    """Raise UnsafeSecretsError unless every secret in `environ` is acceptable.

    Call it at the start of a production process with `os.environ`."""
    problems = check_environment(environ, required)
    if problems:
        raise UnsafeSecretsError(problems)


def _url_password(url: str) -> str | None:
    if not url or "://" not in url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="secrets_check", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="VARIABLE",
        help="a variable that must be set (repeatable)",
    )
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    required = [*args.require, *env.get("COBRADOR_REQUIRED_SECRETS", "").split()]
    try:
        refuse_unsafe_secrets(env, required)
    except UnsafeSecretsError as exc:
        print(f"cobrador: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
