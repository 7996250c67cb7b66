"""The range each whole-number setting may take, and the check Settings runs on them:
a retention of -1 day purged everything at once, a timeout of 0 refused every request.
Every int field of Settings has a row here (a test holds it to that)."""

from __future__ import annotations

from dataclasses import dataclass

MINUTE, HOUR, DAY = 60, 3600, 86400
PORT_MAX = 65535
# selfservice/payment_links.py MAX_LINK_HOURS (this layer imports nothing above it;
# tests/unit/test_setting_bounds.py holds the two equal).
PAYMENT_LINK_HOURS_MAX = 24 * 30


@dataclass(frozen=True)
class Bound:
    """`low`..`high` inclusive, in `unit`; `zero` (when set) says what 0 means, and
    0 is then allowed too."""

    low: int
    high: int
    unit: str
    zero: str = ""

    def allows(self, value: int) -> bool:
        return self.low <= value <= self.high or (bool(self.zero) and value == 0)

    def describe(self) -> str:
        span = f"{self.low} to {self.high}" + (f" {self.unit}" if self.unit else "")
        return f"0 ({self.zero}) or {span}" if self.zero else span


def _port(zero: str = "") -> Bound:
    return Bound(1, PORT_MAX, "", zero)


# Ports we listen on: 0 lets the system pick a free one (the embedded demo, tests);
# ports we connect to (AMI, SMPP, SMTP) have no such meaning.
_FREE_PORT = "a free port the system picks"
_NO_BOUND = "no bound per address"

BOUNDS: dict[str, Bound] = {
    "recordings_purge_every_seconds": Bound(MINUTE, 7 * DAY, "seconds", "never"),
    "ami_port": _port(),
    "fastagi_port": _port(_FREE_PORT),
    "fastagi_max_connections": Bound(1, 100_000, "connections"),
    "console_port": _port(_FREE_PORT),
    "console_max_sockets_per_user": Bound(1, 1000, "WebSockets"),
    "console_max_sockets": Bound(1, 1_000_000, "WebSockets"),
    "console_max_connections": Bound(1, 1_000_000, "connections"),
    "console_max_connections_per_address": Bound(1, 1_000_000, "connections", _NO_BOUND),
    "metrics_port": _port(_FREE_PORT),
    "console_metrics_port": _port(_FREE_PORT),
    "outreach_metrics_port": _port("no /metrics listener"),
    "metrics_max_connections": Bound(1, 100_000, "connections"),
    "metrics_max_connections_per_address": Bound(1, 100_000, "connections", _NO_BOUND),
    # A browser renews its SIP credentials at a third of their life.
    "phone_credential_ttl": Bound(MINUTE, DAY, "seconds"),
    "phone_turn_ttl": Bound(MINUTE, 7 * DAY, "seconds"),
    "audit_checkpoint_every_entries": Bound(1, 10_000_000, "entries"),
    "audit_checkpoint_every_seconds": Bound(1, DAY, "seconds"),
    "smpp_port": _port(),
    "smtp_port": _port(),
    "email_inbound_port": _port(_FREE_PORT),
    "email_inbound_max_connections": Bound(1, 10_000, "connections"),
    # At least a day: a mail marked handled by mistake can still be read the next hour.
    "unproven_reply_retention_days": Bound(1, 3650, "days"),
    "callbacks_port": _port(_FREE_PORT),
    "callbacks_max_connections": Bound(1, 100_000, "connections"),
    "callbacks_max_connections_per_address": Bound(1, 100_000, "connections", _NO_BOUND),
    # Below half a minute a notification's own delivery and clock skew refuse it.
    "mercadopago_webhook_max_age_seconds": Bound(30, DAY, "seconds"),
    "payment_link_hours": Bound(1, PAYMENT_LINK_HOURS_MAX, "hours"),
    # Metres: below 10 no phone's GPS can check in; above 10 km it proves no visit.
    "field_checkin_radius_m": Bound(10, 10_000, "metres"),
    "field_checkin_max_accuracy_m": Bound(5, 10_000, "metres"),
    "field_position_retention_hours": Bound(1, 24 * 365, "hours"),
}


def check(name: str, value: object) -> str | None:
    """Why `value` is no good for setting `name` (None when it is), in words a person
    acts on: the setting's name and its allowed range."""
    bound = BOUNDS.get(name)
    use = f"; use {bound.describe()}" if bound else ""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"setting {name!r}: {str(value)[:40]!r} is not a whole number{use}"
    if bound and not bound.allows(value):
        return f"setting {name!r}: {value} is out of range{use}"
    return None


def too_long(name: str, digits: int) -> str:
    """check's words for a number too long to read (more than 18 digits)."""
    bound = BOUNDS.get(name)
    use = f"; use {bound.describe()}" if bound else ""
    return f"setting {name!r}: a number of {digits} digits is out of range{use}"
