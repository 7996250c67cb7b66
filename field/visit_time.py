"""The instant a check-in is judged at: pure, from the server's receipt and what the app
says of its own clock (a phone's clock may be wrong by hours, or set back on purpose).

- Sent as the agent acted (the app's clock shows at most ONLINE_LAG between acting
  and sending): judged at the server's receipt, whatever the phone's clock says.
- Queued offline: the phone's time of the act, moved onto the server's clock by the
  offset the phone shows now (its clock when sending minus the receipt), is accepted
  only when it is consistent: the phone's offset at its last sync before the act
  (the server's time it last received and its own clock then) differs from today's
  by at most MAX_DRIFT (the clock was not changed while offline); the act is not
  before that sync, nor before the visit was assigned, nor after the receipt; and it
  waited at most MAX_QUEUE. Anything else is refused as `clock_unsure` (fail closed):
  the agent is told why and the audit log keeps every time.

A clock set back and restored while offline with no sync in between cannot be seen
from here; the sync bound keeps such an act after the last time the server saw the
phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from field.checkin import EARLIEST, LATEST

ONLINE_LAG = timedelta(minutes=2)
MAX_DRIFT = timedelta(minutes=5)
SKEW = timedelta(minutes=2)  # network delay and the Date header's whole seconds
MAX_QUEUE = timedelta(hours=14)

CLOCK_UNSURE = "clock_unsure"


class ClockError(ValueError):
    """A clock report that is not well formed (a 400, not a refusal)."""


@dataclass(frozen=True)
class DeviceClock:
    """What the app reports of its clock with an operation: its clock when the request
    left (`sent_at`), and the last sync before the act: the server's instant it
    received then (`synced_server_at`) and its own clock at that moment."""

    sent_at: datetime | None = None
    synced_server_at: datetime | None = None
    synced_device_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"sent_at": self.sent_at, "synced_server_at": self.synced_server_at,
                "synced_device_at": self.synced_device_at}  # fmt: skip


@dataclass(frozen=True)
class JudgedInstant:
    """`at` is the instant to judge at (None: refused, `why` says what failed);
    `source` is `receipt` or `device`."""

    at: datetime | None
    source: str
    why: str | None = None

    @property
    def trusted(self) -> bool:
        return self.at is not None


def _instant(raw: object, name: str) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise ClockError(f"{name} must be an ISO 8601 instant")
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ClockError(f"{name} must be an ISO 8601 instant") from exc
    if at.tzinfo is None:
        raise ClockError(f"{name} must carry its UTC offset")
    if not EARLIEST <= at < LATEST:
        # A clock wrong by years is judged like any wrong clock; one past datetime's
        # range would raise OverflowError in the arithmetic below.
        raise ClockError(f"{name} must be an instant between the years 1900 and 9000")
    return at


def parse_instant(raw: object, name: str) -> datetime | None:
    """An instant the phone reports (absent: None); ClockError when malformed."""
    return _instant(raw, name)


def parse_clock(sent_at: object, synced: object) -> DeviceClock:
    """The clock report of a request body (`sent_at`, `synced: {server_at, device_at}`);
    absent parts are None (an older app), malformed ones a ClockError."""
    server_at = device_at = None
    if synced is not None:
        if not isinstance(synced, dict):
            raise ClockError("synced is an object with server_at and device_at")
        server_at = _instant(synced.get("server_at"), "synced.server_at")
        device_at = _instant(synced.get("device_at"), "synced.device_at")
        if (server_at is None) != (device_at is None):
            raise ClockError("synced needs both server_at and device_at")
    return DeviceClock(_instant(sent_at, "sent_at"), server_at, device_at)


def judge_instant(
    acted_at: datetime, clock: DeviceClock, received_at: datetime, assigned_at: datetime
) -> JudgedInstant:
    """When the act happened on the server's clock, or why that cannot be trusted.
    `acted_at` is the phone's clock at the act (the fix's time)."""
    if clock.sent_at is None:
        # An app that does not report its clock: only an act stamped as received
        # can be judged (at the receipt); a queued one, or a wrong clock, cannot.
        if abs(received_at - acted_at) <= ONLINE_LAG:
            return JudgedInstant(received_at, "receipt")
        return JudgedInstant(None, "device", "no_clock_report")
    lag = clock.sent_at - acted_at  # both on the phone's clock: its error cancels
    if lag < -SKEW:
        return JudgedInstant(None, "device", "acted_after_sending")
    if lag <= ONLINE_LAG:
        return JudgedInstant(received_at, "receipt")
    if lag > MAX_QUEUE:
        return JudgedInstant(None, "device", "queued_too_long")
    if clock.synced_server_at is None or clock.synced_device_at is None:
        return JudgedInstant(None, "device", "no_sync_before")
    offset_now = clock.sent_at - received_at
    offset_then = clock.synced_device_at - clock.synced_server_at
    if abs(offset_now - offset_then) > MAX_DRIFT:
        return JudgedInstant(None, "device", "clock_changed")
    if clock.synced_server_at > received_at + SKEW:
        return JudgedInstant(None, "device", "sync_after_receipt")
    at = acted_at - offset_now
    if at < clock.synced_server_at - SKEW:
        return JudgedInstant(None, "device", "before_last_sync")
    if at < assigned_at - SKEW:
        return JudgedInstant(None, "device", "before_assignment")
    return JudgedInstant(at, "device")
