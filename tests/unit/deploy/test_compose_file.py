"""docker-compose.yml follows the Compose Specification schema, mounts only
files that exist, takes every secret from .env without a default, and wires
the pieces the way the metrics config and dashboards expect."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from cobrador.ground.settings import Settings
from deploy.secrets_check import SECRET_VARIABLES, check_environment

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "tests" / "fixtures" / "compose" / "compose-spec.json"
SCHEMA_SHA256 = "e82b395a9ac423febdba22c159b85d51d972706aea67d64799672a6ae3e56f47"
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = Draft201909Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def _env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def _bind_mounts() -> list[tuple[str, str, str]]:
    """(service, host path, container path) of every relative bind mount."""
    out = []
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source, target = _split_volume(volume)
            if source.startswith((".", "/")):
                out.append((name, source, target))
    return out


def _split_volume(volume: str) -> tuple[str, str]:
    """(source, target); a source from .env (`${VAR:?...}`) may contain ':'."""
    if volume.startswith("${"):
        end = volume.index("}") + 1
        return volume[:end], volume[end + 1 :].split(":")[0]
    source, target = volume.split(":")[:2]
    return source, target


def test_given_the_vendored_schema_when_hashed_then_it_is_the_recorded_file() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_given_docker_compose_yml_when_validated_then_it_follows_the_compose_spec() -> None:
    assert _schema_errors(_compose()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["services"]["redis"].update(healthcheck={"test": "x", "intervall": "5s"}),
        lambda c: c["services"]["console"].update(ports="8080:8080"),
        lambda c: c["services"]["grafana"]["depends_on"]["prometheus"].update(condition="ready"),
        lambda c: c.update(servics={}),
    ],
)
def test_given_a_broken_compose_file_when_validated_then_the_schema_rejects_it(breakage) -> None:  # type: ignore[no-untyped-def]
    document = copy.deepcopy(_compose())
    breakage(document)

    assert _schema_errors(document)


@pytest.mark.parametrize(("service", "source", "target"), _bind_mounts())
def test_given_a_bind_mount_when_checked_then_its_source_exists(
    service: str, source: str, target: str
) -> None:
    path = ROOT / source
    assert path.exists(), f"{service} mounts {source}, which does not exist"
    # A file mounted where a file is expected, a directory where a directory is.
    looks_like_file = Path(target).suffix != ""
    assert path.is_file() == looks_like_file, f"{service}: {source} -> {target}"


def test_given_the_services_when_listed_then_the_stack_is_complete_and_healthchecked() -> None:
    services = _compose()["services"]

    assert {"asterisk", "redis", "postgres", "dialer", "console", "outreach", "prometheus",
            "grafana"} <= set(services)  # fmt: skip
    for name, service in services.items():
        if name != "preflight":  # a one-shot check, not a server
            assert "healthcheck" in service, f"{name} has no healthcheck"


def test_given_the_images_when_listed_then_each_is_pinned_to_a_version() -> None:
    for name, service in _compose()["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: {image} is not pinned"
    assert _compose()["services"]["asterisk"]["image"].split(":")[1].startswith("22.")


def test_given_named_volumes_when_used_then_each_is_declared() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    used = {
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/", "${"))  # ${...}: a host path from .env
    }
    assert used == declared


def test_given_the_app_services_when_read_then_audit_checkpoints_go_to_a_volume_of_their_own() -> (
    None
):
    compose = _compose()
    witness_dir = compose["x-app"]["environment"]["COBRADOR_AUDIT_WITNESS_DIR"]
    app_volumes = compose["x-app"]["volumes"]
    mount = next(v for v in app_volumes if v.startswith("audit-witness:"))
    assert witness_dir.startswith(mount.split(":")[1] + "/")
    # not the database's volume, not the data volume holding the signing key
    assert not any(
        v.startswith("audit-witness:") for v in compose["services"]["postgres"]["volumes"]
    )
    assert witness_dir.split("/")[3] != "cobrador"


def test_given_depends_on_when_read_then_every_service_exists_and_waits_for_preflight() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert set(depends) <= set(services), name
        if name != "preflight":
            assert depends["preflight"]["condition"] == "service_completed_successfully", name


def test_given_the_redis_service_when_read_then_it_keeps_an_aof_on_its_volume() -> None:
    redis = _compose()["services"]["redis"]
    command = " ".join(redis["command"]) if isinstance(redis["command"], list) else redis["command"]
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert any(v.split(":")[:2] == ["redis-data", "/data"] for v in redis["volumes"])


def test_given_secret_variables_when_used_then_none_has_a_default_value() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for match in INTERPOLATION.finditer(text):
        name, operator, _ = match.groups()
        if name in SECRET_VARIABLES:
            assert operator == ":?", f"${{{name}}} must be required (:?), never defaulted"
    for service in _compose()["services"].values():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if (
                any(word in key for word in ("PASSWORD", "SECRET"))
                and key != "COBRADOR_REQUIRED_SECRETS"
            ):
                assert str(value).startswith("${"), f"{key} has a literal value"


def test_given_env_example_when_read_then_it_defines_every_required_variable() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    required = {m.group(1) for m in INTERPOLATION.finditer(text) if m.group(2) == ":?"}

    assert required <= set(_env_example())
    assert set(SECRET_VARIABLES) <= required


def test_given_the_example_secrets_when_checked_then_every_one_is_refused() -> None:
    example = _env_example()

    problems = check_environment(example, SECRET_VARIABLES)

    assert {p.variable for p in problems} == set(SECRET_VARIABLES)


def test_given_the_metrics_config_when_compared_then_compose_wires_it() -> None:
    compose = _compose()
    prometheus = yaml.safe_load((ROOT / "metrics/prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0]
        for job in prometheus["scrape_configs"]
    }
    # The dialer shares Asterisk's network namespace, so it is scraped there.
    assert compose["services"]["dialer"]["network_mode"] == "service:asterisk"
    assert targets["dialer"] == "asterisk:9108"
    assert targets["console"].split(":")[0] in compose["services"]
    # The console's /metrics has its own port, never the public HTTPS one (8080).
    console_env = compose["services"]["console"]["environment"]
    assert targets["console"] == f"asterisk:{console_env['COBRADOR_CONSOLE_METRICS_PORT']}"
    assert targets["console"] != "asterisk:8080"
    # The outreach scheduler is on the compose network under its service name; its
    # /metrics listens there on the port the scrape names (opt-in: set here).
    outreach = compose["services"]["outreach"]
    assert "network_mode" not in outreach
    outreach_env = outreach["environment"]
    assert targets["outreach"] == f"outreach:{outreach_env['COBRADOR_OUTREACH_METRICS_PORT']}"
    assert outreach_env["COBRADOR_OUTREACH_METRICS_HOST"] == "0.0.0.0"
    assert not any(port.endswith(":9110") for port in outreach.get("ports", []))  # not published
    provider = yaml.safe_load(
        (ROOT / "metrics/grafana/provisioning/dashboards/provider.yml").read_text()
    )
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert (
        f"./metrics/grafana/dashboards:{dashboards_path}:ro"
        in compose["services"]["grafana"]["volumes"]
    )


def test_given_the_dockerfile_when_read_then_every_copied_path_exists() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    sources = [
        part
        for line in dockerfile.splitlines()
        # COPY --from=<stage> takes files from an earlier build stage, not the context.
        if line.startswith("COPY ") and "--from=" not in line
        for part in line.split()[1:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
    packages = re.search(r"include = \[([^\]]*)\]", (ROOT / "pyproject.toml").read_text())
    assert packages
    for package in re.findall(r'"([a-z_]+)\*"', packages.group(1)):
        assert f"COPY {package}/ {package}/" in dockerfile, f"Dockerfile misses {package}/"


def test_given_tls_and_turn_when_read_then_wss_https_and_an_optional_relay_are_wired() -> None:
    services = _compose()["services"]
    env = _env_example()
    # The operator's certificate reaches Asterisk (wss) and the console (https), read-only.
    for name in ("asterisk", "console"):
        mounts = [_split_volume(v) for v in services[name]["volumes"]]
        assert ("${COBRADOR_TLS_CERT:?set COBRADOR_TLS_CERT in .env (see .env.example)}",
                "/cobrador/tls/cert.pem") in mounts, name  # fmt: skip
        assert any(source.startswith("${COBRADOR_TLS_KEY:?") for source, _ in mounts), name
    assert services["asterisk"]["environment"]["COBRADOR_WSS_CERT"] == "/cobrador/tls/cert.pem"
    assert "${WSS_PORT:-8089}:8089" in services["asterisk"]["ports"]
    console = services["console"]
    assert console["environment"]["COBRADOR_CONSOLE_TLS_KEY"] == "/cobrador/tls/key.pem"
    assert "https://127.0.0.1:8080/login" in console["healthcheck"]["test"][-1]
    # The console shares Asterisk's loopback (AMI) and the agents' endpoint file.
    assert console["network_mode"] == "service:asterisk"
    assert "${CONSOLE_PORT:-8443}:8080" in services["asterisk"]["ports"]
    assert console["environment"]["COBRADOR_PHONE_WS_URL"].startswith("wss://")
    assert "asterisk-phones:/etc/asterisk/cobrador-phones" in services["asterisk"]["volumes"]
    assert "asterisk-phones:/var/lib/cobrador/phones" in console["volumes"]
    assert {"COBRADOR_TLS_CERT", "COBRADOR_TLS_KEY", "WSS_PORT", "TURN_PORT"} <= set(env)
    # coturn only with `--profile nat`; its secret is checked like the others.
    assert services["coturn"]["profiles"] == ["nat"]
    assert "TURN_SECRET" in SECRET_VARIABLES
    assert "TURN_SECRET" in services["preflight"]["environment"]["COBRADOR_REQUIRED_SECRETS"]


def test_given_the_portal_keys_when_read_then_the_console_gets_them_from_env_and_checks_them() -> (
    None
):
    services = _compose()["services"]
    env = _env_example()
    keys = ("COBRADOR_PORTAL_LINK_SECRET", "COBRADOR_PORTAL_IDENTITY_KEY")
    console = services["console"]["environment"]
    for key in keys:
        assert console[key] == f"${{{key}:?set {key} in .env (see .env.example)}}"
        assert key in console["COBRADOR_REQUIRED_SECRETS"].split()
        assert key in services["preflight"]["environment"]["COBRADOR_REQUIRED_SECRETS"].split()
        assert key in env
    # The dialer neither signs links nor checks identities: it is given neither key.
    assert not set(keys) & set(services["dialer"]["environment"])


def _interpolated(value: str, env: dict[str, str]) -> str:
    """A value as compose gives it with `env` as .env (only `${VAR:-default}` and `${VAR}`)."""

    def one(match: re.Match[str]) -> str:
        name, operator, default = match.groups()
        return env.get(name) or (default if operator == ":-" else "")

    return INTERPOLATION.sub(one, value)


def test_given_the_outreach_service_when_read_then_it_runs_the_scheduler_like_the_other_apps() -> (
    None
):
    """Without a process running `cobrador outreach run` no strategy message is sent:
    the service runs it from the app image, with the app's settings, once the console
    has migrated the database."""
    compose = _compose()
    outreach = compose["services"]["outreach"]
    assert outreach["command"][:3] == ["cobrador", "outreach", "run"]
    assert outreach["image"] == compose["x-app"]["image"]
    assert outreach["init"] is True and outreach["restart"] == "unless-stopped"
    for key, value in compose["x-app"]["environment"].items():
        if key != "COBRADOR_REQUIRED_SECRETS":
            assert outreach["environment"][key] == value, key
    assert outreach["volumes"] == compose["x-app"]["volumes"]  # letters under the data dir
    depends = outreach["depends_on"]
    assert depends["console"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
    # No AMI: it is not in Asterisk's network namespace.
    assert "network_mode" not in outreach


def test_given_the_portal_keys_when_read_then_outreach_signs_with_the_consoles_link_key() -> None:
    """The links in messages must open in the console's portal: one key from .env for
    both, required and checked before the scheduler starts; the chat it runs checks
    identities with the portal's identity key."""
    services = _compose()["services"]
    outreach, console = services["outreach"]["environment"], services["console"]["environment"]
    for key in ("COBRADOR_PORTAL_LINK_SECRET", "COBRADOR_PORTAL_IDENTITY_KEY"):
        assert outreach[key] == console[key] == f"${{{key}:?set {key} in .env (see .env.example)}}"
        assert key in outreach["COBRADOR_REQUIRED_SECRETS"].split()


def test_given_no_gateway_in_env_when_outreach_reads_its_settings_then_they_are_the_defaults() -> (
    None
):
    """Every variable the service passes is a setting; one .env leaves unset reaches the
    process as the setting's own default (an empty port would stop it), so a gateway
    nobody configured stays off."""
    compose = _compose()
    outreach = compose["services"]["outreach"]["environment"]
    passed = {key: str(value) for key, value in outreach.items() if key.startswith("COBRADOR_")}
    app = set(compose["x-app"]["environment"])  # every app's, checked above
    env = {k: v for k, v in passed.items() if not str(v).startswith("${")}
    given = {k: _interpolated(v, {}) for k, v in passed.items() if str(v).startswith("${")}
    known = {f"COBRADOR_{name.upper()}" for name in Settings.__dataclass_fields__}
    gateway = [k for k in given if k not in SECRET_VARIABLES and k not in app]
    assert {"COBRADOR_SMS_GATEWAY", "COBRADOR_EMAIL_GATEWAY", "COBRADOR_WHATSAPP_GATEWAY",
            "COBRADOR_LETTER_GATEWAY"} <= set(gateway)  # fmt: skip
    assert set(gateway) <= known
    loaded = Settings.load({**env, **{k: given[k] for k in gateway}})
    default = Settings()
    for key in gateway:
        name = key.removeprefix("COBRADOR_").lower()
        assert getattr(loaded, name) == getattr(default, name), key
    # The listeners providers and mail servers call: on the container's network,
    # published on the host's loopback only.
    assert (loaded.callbacks_host, loaded.email_inbound_host) == ("0.0.0.0", "0.0.0.0")
    ports = compose["services"]["outreach"]["ports"]
    assert f"127.0.0.1:${{CALLBACKS_PORT:-8090}}:{loaded.callbacks_port}" in ports
    assert f"127.0.0.1:${{EMAIL_INBOUND_PORT:-2525}}:{loaded.email_inbound_port}" in ports
    assert {"CALLBACKS_PORT", "EMAIL_INBOUND_PORT"} <= set(_env_example())


def test_given_the_outreach_healthcheck_when_read_then_it_ages_the_heartbeat_the_command_names() -> (
    None
):
    outreach = _compose()["services"]["outreach"]
    command = outreach["command"]
    heartbeat = command[command.index("--heartbeat") + 1]
    assert heartbeat.startswith("/tmp/")  # the app user may write there
    check = outreach["healthcheck"]["test"]
    assert check[:2] == ["CMD", "python"] and f"os.stat('{heartbeat}')" in check[-1]


PAYMENT_SETTINGS = ("payment_gateway", "mercadopago_access_token", "mercadopago_webhook_secret",
                    "mercadopago_api_base", "mercadopago_webhook_max_age_seconds",
                    "payment_link_hours")  # fmt: skip


def test_given_payment_settings_in_env_then_the_console_and_outreach_both_get_them() -> None:
    """The console takes Mercado Pago's webhook and makes the portal's links, the outreach
    process makes the chat's: both get every payment setting from .env, the same way;
    the dialer none."""
    services = _compose()["services"]
    console, outreach = services["console"]["environment"], services["outreach"]["environment"]
    env = {"COBRADOR_PAYMENT_GATEWAY": "mercadopago",
           "COBRADOR_MERCADOPAGO_ACCESS_TOKEN": "APP_USR-1",
           "COBRADOR_MERCADOPAGO_WEBHOOK_SECRET": "whsec", "COBRADOR_PAYMENT_LINK_HOURS": "24"}  # fmt: skip
    for name in PAYMENT_SETTINGS:
        key = f"COBRADOR_{name.upper()}"
        assert console[key] == outreach[key], key
        assert f"${{{key}:-" in str(console[key]), key  # set in .env, never required
        assert key not in services["dialer"]["environment"], key
    for environment in (console, outreach):
        given = {k: _interpolated(str(environment[k]), env)
                 for k in (f"COBRADOR_{n.upper()}" for n in PAYMENT_SETTINGS)}  # fmt: skip
        loaded = Settings.load(given)
        assert (loaded.payment_gateway, loaded.mercadopago_access_token,
                loaded.mercadopago_webhook_secret, loaded.payment_link_hours) == (
                    "mercadopago", "APP_USR-1", "whsec", 24)  # fmt: skip


def test_given_no_payment_settings_in_env_then_payment_links_are_off_with_the_defaults() -> None:
    console = _compose()["services"]["console"]["environment"]
    keys = [f"COBRADOR_{name.upper()}" for name in PAYMENT_SETTINGS]
    loaded = Settings.load({key: _interpolated(str(console[key]), {}) for key in keys})
    default = Settings()
    for name in PAYMENT_SETTINGS:
        assert getattr(loaded, name) == getattr(default, name), name
    assert loaded.payment_gateway == ""
    # .env.example names them, commented (empty = off).
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for key in keys[:3]:
        assert f"\n#{key}=" in example, key
        assert key not in _env_example(), key


# What each app service uses of the deployment's secrets (least privilege).
APP_SECRETS = {
    "dialer": {"COBRADOR_AMI_SECRET"},
    "console": {
        "COBRADOR_AMI_SECRET",
        "COBRADOR_CONSOLE_SECRET",
        "COBRADOR_PORTAL_LINK_SECRET",
        "COBRADOR_PORTAL_IDENTITY_KEY",
    },  # fmt: skip
    "outreach": {"COBRADOR_PORTAL_LINK_SECRET", "COBRADOR_PORTAL_IDENTITY_KEY"},
}


def test_given_the_app_services_when_read_then_each_gets_only_the_secrets_it_uses() -> None:
    """The AMI secret opens Asterisk's manager (originate, hang up, spy on any call) and
    the console's key signs every agent's session: only the services that use them get
    them, and each checks at start exactly what it gets."""
    compose = _compose()
    assert not set(compose["x-app"]["environment"]) & set(SECRET_VARIABLES)
    for name, needs in APP_SECRETS.items():
        environment = compose["services"][name]["environment"]
        given = {key for key in environment if key in SECRET_VARIABLES}
        assert given == needs, name
        assert set(environment["COBRADOR_REQUIRED_SECRETS"].split()) == needs, name
        for key in needs:
            assert environment[key] == f"${{{key}:?set {key} in .env (see .env.example)}}"
    # The message gateways' credentials go to the process that sends messages only.
    gateway = {"COBRADOR_KANNEL_PASSWORD", "COBRADOR_SMPP_PASSWORD", "COBRADOR_SMTP_PASSWORD",
               "COBRADOR_WHATSAPP_ACCESS_TOKEN", "COBRADOR_WHATSAPP_APP_SECRET"}  # fmt: skip
    assert gateway <= set(compose["services"]["outreach"]["environment"])
    for name in ("dialer", "console"):
        assert not gateway & set(compose["services"][name]["environment"]), name
    # Where AMI is used the address comes with the secret.
    for name in ("dialer", "console"):
        assert compose["services"][name]["environment"]["COBRADOR_AMI_HOST"] == "127.0.0.1"
    assert "COBRADOR_AMI_HOST" not in compose["services"]["outreach"]["environment"]
