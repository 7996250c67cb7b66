"""The bounded label values cobrador's metrics may carry, and helpers that map
free-form inputs onto them (so an id or a phone number can never become a label)."""

from __future__ import annotations

import re
from datetime import datetime

# Label names a cobrador metric may use. Each one has a small, fixed or
# slowly-changing set of values: never an id, a phone number or a name.
ALLOWED_LABEL_NAMES = frozenset(
    {
        "campaign",  # configured campaign names (a handful per deployment)
        "country",  # ISO 3166-1 alpha-2 of the debtor's profile
        "region",  # ISO 3166-2 subdivision from REGIONS, or "unknown"
        "hour",  # debtor's local hour of day, "00".."23" (zero-padded: sorts right)
        "result",  # call / recording / purge results below
        "reason",  # compliance reason codes and the few operational reasons
        "outcome",  # disposition codes agents record (promise, refusal, ...)
        "state",  # agent states and call states below
        "window",  # rolling windows of abandonment and service level
        "mode",  # dialing mode
        "allowed",  # compliance decision: "true" / "false"
        "stage",  # where a compliance check ran: hopper / originate
        "registry",  # do-not-call registry name (REUS, RNE, ...)
        "witness",  # where audit checkpoints are kept: database, directory, http_1, ...
        "channel",  # contact channel: call, sms, whatsapp, email, visit, chat, letter
        "step",  # a strategy step: its template name (configured), or "call"
    }
)

# Fixed value sets; the naming test checks every sample against them.
WINDOWS = ("1h", "24h", "30d")
MODES = ("preview", "progressive", "predictive")
ALLOWED_VALUES = ("true", "false")
STAGES = ("hopper", "originate")
AGENT_STATES = (
    "logged_out",
    "ready",
    "reserved",
    "talking",
    "wrap_up",
    "paused",
    "no_audio",
    "pausing",
)
# A placed call's life: ringing, answered and screened (AMD), waiting for an
# agent (the 2 s abandonment clock runs), bridged ("connected" in the
# dialer's snapshot), or playing the safe harbor.
CALL_STATES = ("ringing", "screening", "waiting_agent", "connected", "bridged", "safe_harbor")
# An attempt's final result, as the dialer stores it (dialer/call_state.py):
# contact = a human answered and was bridged to an agent; early_hangup = the
# debtor answered and hung up before an agent was due (not an abandon); lost = its
# dialer died and Asterisk's end was not seen, or someone answered and no agent was
# on it (closed by another dialer's reconciliation).
CALL_RESULTS = (
    "contact",
    "machine",
    "abandoned",
    "early_hangup",
    "busy",
    "no_answer",
    "failed",
    "cancelled",
    "blocked",
    "invalid_number",
    "declined",
    "lost",
)
# What answered a placed call (dialer/loop/finishing.py answered_as): a person or a
# machine as screened, or unscreened when the far end hung up before any verdict.
ANSWER_RESULTS = ("human", "machine", "unscreened")
INBOUND_RESULTS = ("answered", "abandoned")
PROMISE_RESULTS = ("kept", "broken")
RECORDING_RESULTS = ("purged", "held", "failed", "dry_run")
HOURS = tuple(f"{h:02d}" for h in range(24))
# Contact channels (store.models.ContactChannel: the mailed letter, the debtor's portal too).
CHANNELS = ("call", "sms", "whatsapp", "email", "visit", "chat", "letter", "portal")
# A message's delivery status as its provider reports it (outreach/channels).
MESSAGE_RESULTS = ("sent", "delivered", "failed", "read", "replied")
# What the outreach scheduler adds: no answer from the send, refused or waiting at the
# final check.
SCHEDULER_RESULTS = ("uncertain", "blocked", "waiting")

FIXED_VALUES: dict[str, frozenset[str]] = {
    "window": frozenset(WINDOWS),
    "mode": frozenset(MODES),
    "allowed": frozenset(ALLOWED_VALUES),
    "stage": frozenset(STAGES),
    "state": frozenset(AGENT_STATES + CALL_STATES),
    "result": frozenset(
        CALL_RESULTS
        + ANSWER_RESULTS
        + INBOUND_RESULTS
        + PROMISE_RESULTS
        + RECORDING_RESULTS
        + MESSAGE_RESULTS
        + SCHEDULER_RESULTS
    ),
    "channel": frozenset(CHANNELS),
    "hour": frozenset(HOURS),
}

# Labels whose values come from configuration or code constants: checked by
# shape. A snake_case word of at most 40 characters with no run of 5+ digits
# cannot smuggle in a phone number or a database id.
SHAPED_VALUES: dict[str, re.Pattern[str]] = {
    "campaign": re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$"),
    "country": re.compile(r"^([A-Z]{2}|unknown)$"),
    "region": re.compile(r"^([A-Z]{2}-[A-Z0-9]{1,3}|unknown)$"),
    "reason": re.compile(r"^[a-z][a-z0-9_]{0,39}$"),
    "outcome": re.compile(r"^[a-z][a-z0-9_]{0,39}$"),
    "step": re.compile(r"^[a-z][a-z0-9_-]{0,39}$"),
    "registry": re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,19}$"),
    "witness": re.compile(r"^(database|directory|http_[0-9]{1,2})$"),
}
_DIGIT_RUN = re.compile(r"\d{5,}")

UNKNOWN = "unknown"


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ISO 3166-2 subdivisions of the countries cobrador ships profiles for. Region
# labels come only from here, so "contact by region" stays bounded (~90 values).
REGIONS: dict[str, frozenset[str]] = {
    "MX": _codes(
        "AGU BCN BCS CAM CHP CHH CMX COA COL DUR GUA GRO HID JAL MEX MIC "
        "MOR NAY NLE OAX PUE QUE ROO SLP SIN SON TAB TAM TLA VER YUC ZAC"
    ),
    "CO": _codes(
        "AMA ANT ARA ATL BOL BOY CAL CAQ CAS CAU CES CHO COR CUN DC GUA GUV "
        "HUI LAG MAG MET NAR NSA PUT QUI RIS SAP SAN SUC TOL VAC VAU VID"
    ),
    "PE": _codes(
        "AMA ANC APU ARE AYA CAJ CAL CUS HUC HUV ICA JUN LAL LAM LIM LMA LOR "
        "MDD MOQ PAS PIU PUN SAM TAC TUM UCA"
    ),
}


def label_value_problem(name: str, value: str) -> str | None:
    """Why `value` may not be used for label `name`, or None when it may."""
    if name not in ALLOWED_LABEL_NAMES:
        return f"label name {name!r} is not one of the allowed label names"
    if _DIGIT_RUN.search(value):
        return f"label {name}={value!r} holds a run of digits (an id or phone number?)"
    fixed = FIXED_VALUES.get(name)
    if fixed is not None and value not in fixed:
        return f"label {name}={value!r} is not in its fixed set"
    shape = SHAPED_VALUES.get(name)
    if shape is not None and not shape.match(value):
        return f"label {name}={value!r} does not have the allowed shape"
    return None


def country_label(country: str | None) -> str:
    """ISO alpha-2 upper case, or "unknown"."""
    if country and len(country) == 2 and country.isalpha() and country.isascii():
        return country.upper()
    return UNKNOWN


def region_label(country: str | None, subdivision: str | None) -> str:
    """`MX-JAL` style code when the subdivision is a known ISO 3166-2 code of
    the country ("JAL" or "MX-JAL" accepted), else "unknown"."""
    code = country_label(country)
    if code == UNKNOWN or not subdivision:
        return UNKNOWN
    sub = subdivision.strip().upper()
    if sub.startswith(code + "-"):
        sub = sub[len(code) + 1 :]
    return f"{code}-{sub}" if sub in REGIONS.get(code, frozenset()) else UNKNOWN


def hour_label(local_time: datetime) -> str:
    """The hour of day ("00".."23") of an aware datetime already in the debtor's zone.

    Zero-padded so that Grafana and Prometheus, which sort label values as
    strings, list hours in clock order."""
    if local_time.tzinfo is None:
        raise ValueError("hour_label needs an aware datetime in the debtor's time zone")
    return f"{local_time.hour:02d}"


def reason_label(reason: str) -> str:
    """A reason code as a label; anything not shaped like a code becomes "other"."""
    return reason if label_value_problem("reason", reason) is None else "other"


def error_reason(error: BaseException | str) -> str:
    """A reason code from an exception (or its class name): AMIActionTimeout ->
    ami_action_timeout. Bounded because exception classes are."""
    name = error if isinstance(error, str) else type(error).__name__
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return reason_label(snake)


def campaign_label(campaign: str) -> str:
    """A campaign name as a label; a name that fails the shape becomes "invalid"."""
    return campaign if label_value_problem("campaign", campaign) is None else "invalid"
