"""The start-up check refuses missing, weak and example secrets and never
prints a secret's value."""

from __future__ import annotations

import base64
import secrets

import pytest

from deploy.secrets_check import check_environment, main, secret_problem

STRONG = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("EXAMPLE-change-me-postgres", "example"),
        ("please-changeme-now-0123456789", "example"),
        ("cobrador-dev-secret", "well-known default"),
        ("Password", "well-known default"),
        ("short-but-ok", "shorter than 16"),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", "distinct characters"),
    ],
)
def test_given_a_bad_secret_when_checked_then_it_is_refused_with_a_reason(
    value: str, expected: str
) -> None:
    assert expected in (secret_problem(value) or "")


def test_given_a_generated_secret_when_checked_then_it_passes() -> None:
    assert secret_problem(STRONG) is None


def test_given_a_required_variable_missing_when_checked_then_it_is_reported() -> None:
    problems = check_environment({}, ["COBRADOR_AMI_SECRET"])

    assert [str(p) for p in problems] == ["COBRADOR_AMI_SECRET is not set"]


def test_given_a_short_console_secret_when_checked_then_32_characters_are_required() -> None:
    problems = check_environment({"COBRADOR_CONSOLE_SECRET": STRONG[:20]})

    assert [p.problem for p in problems] == ["is shorter than 32 characters"]


@pytest.mark.parametrize("name", ["COBRADOR_PORTAL_LINK_SECRET", "COBRADOR_PORTAL_IDENTITY_KEY"])
def test_given_a_portal_key_shorter_than_32_bytes_in_base64_when_checked_then_refused(
    name: str,
) -> None:
    short = base64.b64encode(secrets.token_bytes(24)).decode()  # 32 characters
    full = base64.b64encode(secrets.token_bytes(32)).decode()

    assert [p.problem for p in check_environment({name: short})] == [
        "is shorter than 43 characters"
    ]
    assert check_environment({name: full}) == []


def test_given_an_example_password_inside_a_url_when_checked_then_it_is_refused() -> None:
    environ = {"DATABASE_URL": "postgresql://cobrador:EXAMPLE-change-me-postgres@db/cobrador"}

    assert [p.variable for p in check_environment(environ)] == ["DATABASE_URL"]


def test_given_a_url_without_password_when_checked_then_it_is_accepted() -> None:
    assert check_environment({"REDIS_URL": "redis://127.0.0.1:6379/0"}) == []


def test_given_bad_secrets_when_main_runs_then_it_exits_2_without_printing_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    environ = {"POSTGRES_PASSWORD": "EXAMPLE-change-me-postgres", "REDIS_PASSWORD": STRONG}

    code = main(["--require", "COBRADOR_AMI_SECRET"], environ)

    err = capsys.readouterr().err
    assert code == 2
    assert "POSTGRES_PASSWORD is still the example value" in err
    assert "COBRADOR_AMI_SECRET is not set" in err
    assert "EXAMPLE-change-me-postgres" not in err and STRONG not in err


def test_given_good_secrets_when_main_runs_then_it_exits_0() -> None:
    environ = {"COBRADOR_AMI_SECRET": STRONG, "COBRADOR_REQUIRED_SECRETS": "COBRADOR_AMI_SECRET"}

    assert main([], environ) == 0


def test_given_the_required_list_in_the_environment_when_missing_then_it_fails() -> None:
    assert main([], {"COBRADOR_REQUIRED_SECRETS": "REDIS_PASSWORD"}) == 2


def test_given_example_secrets_when_the_cli_checks_then_it_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cobrador.cli import main as cli_main

    monkeypatch.setenv("COBRADOR_AMI_SECRET", "EXAMPLE-change-me-ami")

    assert cli_main(["deploy", "check-secrets"]) == 2
    assert "COBRADOR_AMI_SECRET is still the example value" in capsys.readouterr().err


def test_given_good_secrets_when_the_cli_checks_then_it_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cobrador.cli import main as cli_main

    for name in ("COBRADOR_AMI_SECRET", "COBRADOR_CONSOLE_SECRET", "POSTGRES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COBRADOR_AMI_SECRET", STRONG)

    assert cli_main(["deploy", "check-secrets", "--require", "COBRADOR_AMI_SECRET"]) == 0


GATEWAYS_ON = {
    "COBRADOR_SMS_GATEWAY": "kannel",
    "COBRADOR_WHATSAPP_GATEWAY": "cloud_api",
    "COBRADOR_EMAIL_GATEWAY": "smtp",
    "COBRADOR_SMTP_USERNAME": "cobranza@despacho.mx",
    "COBRADOR_PAYMENT_GATEWAY": "mercadopago",
}
GATEWAY_SECRETS = (
    "COBRADOR_KANNEL_PASSWORD",
    "COBRADOR_WHATSAPP_ACCESS_TOKEN",
    "COBRADOR_WHATSAPP_APP_SECRET",
    "COBRADOR_WHATSAPP_VERIFY_TOKEN",
    "COBRADOR_SMTP_PASSWORD",
    "COBRADOR_MERCADOPAGO_ACCESS_TOKEN",
    "COBRADOR_MERCADOPAGO_WEBHOOK_SECRET",
)


def test_given_gateways_on_without_their_secrets_when_checked_then_each_is_named_with_its_gateway() -> (
    None
):
    """An empty gateway password (compose passes `${VAR:-}` as '') with the gateway on."""
    environ = {**GATEWAYS_ON, **dict.fromkeys(GATEWAY_SECRETS, "")}

    problems = {p.variable: p.problem for p in check_environment(environ)}

    assert set(problems) == set(GATEWAY_SECRETS)
    assert (
        problems["COBRADOR_KANNEL_PASSWORD"]
        == "is not set (needed with COBRADOR_SMS_GATEWAY=kannel)"
    )
    assert "COBRADOR_SMTP_USERNAME" in problems["COBRADOR_SMTP_PASSWORD"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("COBRADOR_KANNEL_PASSWORD", "foobar", "well-known default"),  # Kannel's own example
        ("COBRADOR_KANNEL_PASSWORD", "password", "well-known default"),
        ("COBRADOR_KANNEL_PASSWORD", "kannel-pass-1", "shorter than 16"),
        ("COBRADOR_SMTP_PASSWORD", "hunter2hunt", "shorter than 12"),
        ("COBRADOR_WHATSAPP_ACCESS_TOKEN", "EAAG-example-token-0000000000", "example"),
        ("COBRADOR_WHATSAPP_VERIFY_TOKEN", "   ", "is empty"),
        ("COBRADOR_MERCADOPAGO_WEBHOOK_SECRET", "secret", "well-known default"),
        ("COBRADOR_CALLBACKS_TOKEN", "abc", "shorter than 16"),
    ],
)
def test_given_a_weak_gateway_secret_when_checked_then_refused_with_a_reason(
    name: str, value: str, expected: str
) -> None:
    environ = {**GATEWAYS_ON, **{n: STRONG for n in GATEWAY_SECRETS}, name: value}

    problems = check_environment(environ)

    assert [p.variable for p in problems] == [name]
    assert expected in problems[0].problem


def test_given_smpp_when_checked_then_its_8_character_password_suffices_and_a_shorter_is_refused() -> (
    None
):
    """SMPP 3.4's password field holds 8 characters at most."""
    on = {"COBRADOR_SMS_GATEWAY": "smpp"}

    assert check_environment({**on, "COBRADOR_SMPP_PASSWORD": "k7Q2mX9p"}) == []
    assert [str(p) for p in check_environment({**on, "COBRADOR_SMPP_PASSWORD": "k7Q2m"})] == [
        "COBRADOR_SMPP_PASSWORD is shorter than 8 characters"
    ]
    assert [p.problem for p in check_environment(on)] == [
        "is not set (needed with COBRADOR_SMS_GATEWAY=smpp)"
    ]


def test_given_gateways_off_or_a_relay_without_login_then_no_gateway_secret_is_asked() -> None:
    environ = {
        "COBRADOR_SMS_GATEWAY": "",
        "COBRADOR_EMAIL_GATEWAY": "smtp",
        "COBRADOR_SMTP_USERNAME": "",
        "COBRADOR_WHATSAPP_GATEWAY": "simulated",
        "COBRADOR_PAYMENT_GATEWAY": "simulated",
        **dict.fromkeys(GATEWAY_SECRETS, ""),
    }

    assert check_environment(environ) == []


def test_given_a_weak_gateway_password_when_the_container_starts_then_exit_2_without_the_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    environ = {"COBRADOR_SMS_GATEWAY": "kannel", "COBRADOR_KANNEL_PASSWORD": "kannelpw"}

    assert main([], environ) == 2

    err = capsys.readouterr().err
    assert "COBRADOR_KANNEL_PASSWORD is shorter than 16 characters" in err
    assert "kannelpw" not in err
