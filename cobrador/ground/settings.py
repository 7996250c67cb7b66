"""One settings object, built once at the edge from the environment and an
optional TOML config file, then passed down. Nothing here runs on import."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cobrador.ground import setting_bounds


class SettingsError(ValueError):
    """A configuration value a person must fix (bad type, out of range, unknown key,
    missing file)."""


@dataclass(frozen=True)
class Settings:
    # Where the embedded defaults keep their files (SQLite, redis dump, recordings).
    data_dir: Path = Path("./cobrador-data")
    # Call recordings (the directory storage's root; shared with Asterisk in
    # docker-compose). Unset or empty: <data_dir>/recordings.
    recordings_dir: Path = Path()
    # The same directory as Asterisk sees it (MixMonitor's file names): another
    # path when Asterisk runs in a chroot or a container. Unset: recordings_dir.
    pbx_recordings_dir: Path | None = None
    # The dialer purges recordings past their retention this often (one process
    # at a time across the floor); 0: never (run `cobrador recordings purge`).
    recordings_purge_every_seconds: int = 3600
    # Asterisk's CEL file (cel_custom, asterisk-conf/README.md "CDR and CEL") as
    # this host sees it: calls a dead dialer left open are closed with the outcome
    # and times Asterisk recorded. Unset: with what this dialer saw over AMI.
    pbx_cel_file: Path | None = None
    # The Asterisk this dialer dials through, as the dial loops' heartbeat names it
    # (dialer/liveness.py): dialers naming the same one close a dead peer's calls
    # within seconds, others wait for its leases. Set the same name on every dialer
    # of one Asterisk when they reach it by different addresses; never on dialers of
    # different Asterisks (each would close the other's live calls). Unset or blank:
    # the AMI address, ami_host:ami_port.
    pbx_name: str = ""
    # None means embedded: SQLite under data_dir / an embedded redis-server.
    database_url: str | None = None
    redis_url: str | None = None
    # Asterisk Manager Interface.
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "cobrador"
    ami_secret: str = ""
    # FastAGI server that Asterisk calls on answer.
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = 4573
    # The address Asterisk connects to for FastAGI, when the listen address is a
    # wildcard (0.0.0.0) or not reachable from Asterisk (containers).
    fastagi_advertise_host: str = ""
    # FastAGI connections a dialer serves at once (an inbound caller waiting holds
    # one for the whole wait); past it new ones are refused with a log line and
    # cobrador_fastagi_failures_total{reason="too_many_connections"}.
    fastagi_max_connections: int = 500
    # Web console.
    console_host: str = "127.0.0.1"
    console_port: int = 8080
    console_secret: str = ""  # 32+ bytes, base64; generated for embedded runs
    # HTTPS: the operator's certificate (full chain) and key, PEM. Browsers only
    # give a page the microphone over HTTPS (or on 127.0.0.1).
    console_tls_cert: Path | None = None
    console_tls_key: Path | None = None
    # Reverse proxies in front of the console (comma-separated addresses or networks,
    # e.g. "10.0.0.0/8, ::1"): a request from one of them is counted as the client
    # X-Forwarded-For names (console/client_address.py), for the login and portal
    # throttles and the debtor's evidence. Unset: the header is ignored.
    trusted_proxies: str = ""
    # WebSockets a console process keeps open (agent consoles, wallboards): per user
    # and in all; past either a new one is answered 429 (console/socket_slots.py).
    console_max_sockets_per_user: int = 8
    console_max_sockets: int = 2000
    # HTTP connections the console holds at once (aiohttp has no bound, and no deadline
    # on a request's headers); past it a new one is answered 503. Never more than half
    # the process's file descriptors (cobrador/ground/access_log.py).
    console_max_connections: int = 1000
    # ... and from one client address (an IPv6 client's /64), so that one client
    # cannot take every place; the `trusted_proxies` are exempt (a proxy bounds its
    # own clients). 0: no bound per address. Agents behind one NAT share an address:
    # a browser holds about 6 connections and a WebSocket.
    console_max_connections_per_address: int = 200
    # Prometheus /metrics for the dialer process.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108
    # The console's /metrics: its own listener, never the public console port.
    console_metrics_host: str = "127.0.0.1"
    console_metrics_port: int = 9109
    # `cobrador outreach run`'s /metrics (messages sent, failed, blocked per channel):
    # opt in with a port (docker-compose uses 9110); 0: none.
    outreach_metrics_host: str = "127.0.0.1"
    outreach_metrics_port: int = 0
    # Connections either /metrics listener holds at once; past it a new one is answered
    # 503 (never more than half the process's file descriptors).
    metrics_max_connections: int = 64
    metrics_max_connections_per_address: int = 16  # Prometheus scrapes on one or two
    # Browser phone (console/phone): the SIP WebSocket URL the agent's browser
    # uses (ws://127.0.0.1:8088/ws, wss://pbx.example:8089/ws); empty: no web
    # phone (pbxsim). The agents' PJSIP file Asterisk includes
    # (<asterisk etc>/cobrador-phones/agents.conf) and the credentials' lifetime.
    phone_ws_url: str = ""
    phone_agents_conf: Path | None = None
    phone_credential_ttl: int = 900
    # ICE for agents behind NAT (console/phone/ice.py): comma-separated stun:,
    # turn: and turns: URLs; TURN credentials time-limited from a shared secret
    # (TURN REST convention, coturn's static-auth-secret), valid phone_turn_ttl
    # seconds, or static ones. Empty: host candidates only (same network).
    phone_turn_urls: str = ""
    phone_turn_secret: str = ""
    phone_turn_username: str = ""
    phone_turn_password: str = ""
    phone_turn_ttl: int = 86400
    # Default language of the console.
    language: str = "es"
    # The phone of a console user (agent or supervisor) as an Originate Channel:
    # `{user_id}` and `{username}` are filled in. The dialer calls it for the
    # agent's nailed-up leg and for a supervisor's monitoring leg. Empty: the
    # dialer places no agent legs (they are set up some other way).
    agent_endpoint: str = "PJSIP/agent-{user_id}"
    # The audit log's checkpoint signing key (Ed25519, PEM). Unset or empty:
    # <data_dir>/audit-signing.key, generated on first use with a warning (move it
    # off the database's host). COBRADOR_AUDIT_SIGNING_KEY_B64 (the 32-byte seed,
    # base64) wins over the file, for secret stores. Never in the database.
    audit_signing_key: Path = Path()
    audit_signing_key_b64: str = ""
    # Witnesses of the checkpoints: an append-only directory (one file a day; a
    # volume of its own in docker-compose; unset: <data_dir>/audit-witness) and
    # optional HTTP endpoints (comma-separated; POST a line, GET every line).
    audit_witness_dir: Path = Path()
    audit_witness_urls: str = ""
    # A checkpoint is signed every this many new entries or seconds, whichever first.
    audit_checkpoint_every_entries: int = 1000
    audit_checkpoint_every_seconds: int = 60
    # Strategy messages carry a signed short-lived link to the self-service portal
    # (outreach/links.py): the HMAC key the portal shares, base64, 32+ bytes. Unset:
    # messages carry no link (the campaign's portal_url is not used).
    portal_link_secret: str = ""
    # The portal's identity check (selfservice/identity.py): the key of the keyed hash
    # of the debtor's document digits, base64, 32+ bytes. Unset: nobody can pass the
    # check (the portal fails closed), and `cobrador portal identities` refuses to import.
    portal_identity_key: str = ""
    # Message gateways (docs/messaging.md). Each channel's gateway: "" (off), a real one,
    # or "simulated" (a local SMSC / SMTP sink / Cloud API stand-in, as in the demo).
    # SMS: "smpp" (our client binds to the carrier's SMSC) or "kannel" (its sendsms).
    sms_gateway: str = ""
    smpp_host: str = ""
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = ""
    smpp_system_type: str = ""
    kannel_sendsms_url: str = ""
    kannel_username: str = ""
    kannel_password: str = ""
    # E-mail: "smtp" (a relay; tls: starttls, tls or none). Bounces and replies come
    # to our SMTP listener (email_inbound_*): point the bounce and reply-to
    # addresses' MX (or the relay's forward) at it.
    email_gateway: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_tls: str = "starttls"
    email_from: str = ""
    email_bounce_address: str = ""
    email_reply_to: str = ""
    email_inbound_host: str = "127.0.0.1"
    email_inbound_port: int = 2525
    # Clients the inbound e-mail listener serves at once; past it a new one is answered
    # 421 (a mail server tries again later).
    email_inbound_max_connections: int = 50
    # The authserv-id of the mail server that receives our replies and writes their
    # Authentication-Results (RFC 8601). Set: a reply acts on the account of its From
    # address (answered, opt-out, chat) only when that server's header proves it
    # (gateways/mail_auth.py); any other is kept for a person. "": From: is trusted.
    inbound_email_authserv_id: str = ""
    # Who sent such a mail, what it said and the supervisor's note on it are deleted
    # this many days after it was handled (console/unproven_replies.py); their audit
    # entries keep only a digest of each.
    unproven_reply_retention_days: int = 90
    # WhatsApp: "cloud_api" (Meta's Graph API); templates Meta approved for the
    # number (comma-separated names) and their language.
    whatsapp_gateway: str = ""
    whatsapp_api_base: str = "https://graph.facebook.com/v21.0"
    whatsapp_phone_number_id: str = ""
    whatsapp_access_token: str = ""
    whatsapp_app_secret: str = ""
    whatsapp_verify_token: str = ""
    whatsapp_templates: str = ""
    whatsapp_language: str = "es_MX"
    # Letters (formal notices by post): "mailroom" renders each to PDF under
    # letters_dir (unset: <data_dir>/letters) for `cobrador letters batch`.
    letter_gateway: str = ""
    letters_dir: Path = Path()
    # Where providers call us back (Kannel's reports and replies, the WhatsApp
    # webhook): the listener, the URL they use to reach it, and the secret token
    # Kannel's callback URLs carry (empty: made once, kept in <data_dir>/callbacks-token).
    callbacks_host: str = "127.0.0.1"
    callbacks_port: int = 8090
    callbacks_public_url: str = ""
    callbacks_token: str = ""
    callbacks_max_connections: int = 256  # at once; past it 503 (the provider retries)
    # ... and per address (Kannel calls from one; `trusted_proxies` exempt; 0: none).
    callbacks_max_connections_per_address: int = 128
    # Payment links (docs/payments.md): "" (off), "mercadopago", or "simulated" (a local
    # stand-in of Mercado Pago, as in the demo). The Mercado Pago application's access
    # token and its webhook's secret key (Your integrations > Webhooks); a notification
    # signed more than mercadopago_webhook_max_age_seconds away from now is refused.
    # A link is payable for payment_link_hours.
    payment_gateway: str = ""
    mercadopago_access_token: str = ""
    mercadopago_webhook_secret: str = ""
    mercadopago_api_base: str = "https://api.mercadopago.com"
    mercadopago_webhook_max_age_seconds: int = 300
    payment_link_hours: int = 72
    # Field visits (field/, docs/field.md): the check-in radius around the address
    # and the worst GPS accuracy accepted (metres); how long field agents' positions
    # are kept after their shift ends (hours); the zone of the field agents' working
    # day; a map tile URL template for the supervisors' map, e.g.
    # https://tile.openstreetmap.org/{z}/{x}/{y}.png (empty: no tiles, the map draws
    # only our points and nothing is fetched from a third party).
    field_checkin_radius_m: int = 150
    field_checkin_max_accuracy_m: int = 100
    field_position_retention_hours: int = 72
    field_day_zone: str = "America/Mexico_City"
    field_map_tiles: str = ""
    # Extra profile/campaign directories.
    profiles_dir: Path | None = None
    log_level: str = "INFO"
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, default in self._data_dir_defaults().items():
            if getattr(self, name) == Path():
                object.__setattr__(self, name, default)
        for name in setting_bounds.BOUNDS:
            problem = setting_bounds.check(name, getattr(self, name))
            if problem:
                raise SettingsError(problem)

    def _data_dir_defaults(self) -> dict[str, Path]:
        """Paths that live under data_dir unless set (they follow a new data_dir)."""
        return {
            "recordings_dir": self.data_dir / "recordings",
            "audit_signing_key": self.data_dir / "audit-signing.key",
            "audit_witness_dir": self.data_dir / "audit-witness",
            "letters_dir": self.data_dir / "letters",
        }

    @property
    def pbx_recordings_root(self) -> Path:
        return self.pbx_recordings_dir or self.recordings_dir.resolve()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'cobrador.sqlite3').resolve()}"

    @property
    def fastagi_public_host(self) -> str:
        if self.fastagi_advertise_host:
            return self.fastagi_advertise_host
        if self.fastagi_host in ("0.0.0.0", "::", ""):
            import socket

            return socket.gethostname()
        return self.fastagi_host

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        config_file: str | Path | None = None,
    ) -> Settings:
        """Build settings: defaults < config file < environment.

        The config file comes from the argument or ``COBRADOR_CONFIG``.
        """
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        path = config_file or env.get("COBRADOR_CONFIG")
        if path:
            values.update(_read_config_file(Path(path)))
        values.update(_from_environment(env))
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in known:
                raise SettingsError(f"unknown setting {key!r}")
            kwargs[key] = _coerce(key, known[key].type, raw)
        return cls(**kwargs)

    def with_overrides(self, **changes: Any) -> Settings:
        if "data_dir" in changes:
            # The defaults follow the data dir unless they were set.
            for name, default in self._data_dir_defaults().items():
                if getattr(self, name) == default:
                    changes.setdefault(name, Path())
        return replace(self, **changes)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (the driver we install)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if env.get("DATABASE_URL"):
        out["database_url"] = env["DATABASE_URL"]
    if env.get("REDIS_URL"):
        out["redis_url"] = env["REDIS_URL"]
    names = {f.name for f in fields(Settings)} - {"extra"}
    for key, value in env.items():
        if not key.startswith("COBRADOR_") or key == "COBRADOR_CONFIG":
            continue
        name = key[len("COBRADOR_") :].lower()
        if name in names:
            out[name] = value
    return out


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise SettingsError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from exc
    section = data.get("cobrador", data)
    if not isinstance(section, dict):
        raise SettingsError(f"config file {path}: [cobrador] must be a table")
    return dict(section)


def _whole_number(name: str, raw: Any) -> int:
    """An int from TOML or the environment; anything else (true, 2.5, "1e3", "８",
    "1_000") is refused, naming the setting's range, rather than read as some other
    number. The range itself is checked once the settings are built."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
        digits = raw.strip().lstrip("+-").lstrip("0")
        if len(digits) <= 18:
            return int(raw.strip())
        # Past any range (and int() refuses a few thousand digits with its own error).
        raise SettingsError(setting_bounds.too_long(name, len(digits)))
    raise SettingsError(setting_bounds.check(name, raw) or f"setting {name!r}: no number")


_WHOLE = re.compile(r"[+-]?[0-9]+")


def _coerce(name: str, annotation: Any, raw: Any) -> Any:
    kind = str(annotation)
    if kind.startswith("int"):
        return _whole_number(name, raw)
    try:
        if "Path" in kind:
            return None if raw in (None, "") and "None" in kind else Path(raw)
        if "Mapping" in kind:
            return dict(raw)
        if "None" in kind and raw in (None, ""):
            return None
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r}: cannot use {raw!r} ({exc})") from exc
