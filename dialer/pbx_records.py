"""Asterisk's own record of the dialer's calls: CEL (channel events) and CDR files.

Asterisk writes them with cel_custom / cdr_custom in the field order below
(asterisk-conf/README.md, "CDR and CEL"). Two readers use them:

- the reconciliation (`CampaignDialer._close_orphans`): an attempt a dead dialer
  left open is closed with the outcome and the times Asterisk reports
  (`orphan_outcome`) rather than `lost` at the last moment known;
- the real-floor tier and its benchmark, which compare Asterisk's records with
  the attempts, call for call.

Everything here is pure but `read_records` (a file). A call is found by its
linkedid, `cobrador-<attempt id>`: the Originate's ChannelId, which the Local
channel's other half and the trunk channel it dials inherit.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer import channel_vars as cv
from dialer.call_state import EARLY_HANGUP, unanswered_result

# cel_custom.conf / cdr_custom.conf `fields =` (the same order).
CEL_FIELDS = ("eventtype", "eventtime", "channame", "uniqueid", "linkedid", "appname",
              "appdata", "context", "exten", "peer", "extra")  # fmt: skip
CDR_FIELDS = ("uniqueid", "linkedid", "channel", "dstchannel", "disposition", "start",
              "answer", "end", "billsec", "lastapp", "lastdata")  # fmt: skip
# Only files of this size are read whole; the reconciliation reads the tail.
READ_LIMIT_BYTES = 64 * 1024 * 1024
# CEL's `extra` is a flat object of a few short fields; anything longer, or nested
# deeper, is not Asterisk's and is read as {} (json.loads recurses once per level:
# a line of "[[[[..." raised RecursionError, which no caller expected).
JSON_LIMIT_CHARS = 64 * 1024
JSON_MAX_DEPTH = 32
# A time past year 9999 (or not finite) is no time: datetime cannot hold it.
LATEST_TIME = 253402300799.0
# Hang-up causes are Q.850 codes (0..127); a few more digits are room, not a risk.
MAX_CAUSE_DIGITS = 5
TRUNK_PREFIX = "PJSIP/"


def read_records(path: str | Path, fields: Sequence[str], limit: int = READ_LIMIT_BYTES,
                 start: int = 0) -> list[dict[str, str]]:  # fmt: skip
    """The rows of a cel_custom/cdr_custom file as dicts, from byte `start` (a size
    the file had before), the last `limit` bytes at most (a first, partial line is
    dropped). A missing file has no rows."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            begin = max(start, size - limit)
            fh.seek(begin)
            raw = fh.read()
    except FileNotFoundError:
        return []
    text = raw.decode("utf-8", "replace")
    if begin > start:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return parse_records(text.splitlines(), fields)


def parse_records(lines: Iterable[str], fields: Sequence[str]) -> list[dict[str, str]]:
    """CSV lines in `fields` order; a line with another number of fields is skipped
    (a record half-written when the file was read)."""
    out = []
    for row in csv.reader(lines):
        if len(row) == len(fields):
            out.append(dict(zip(fields, row, strict=True)))
    return out


def json_object(text: str | None) -> dict[str, Any]:
    """CEL's `extra` (and audit payloads): a JSON object, or {} when it is not one
    (or is longer than JSON_LIMIT_CHARS, or nested deeper than JSON_MAX_DEPTH)."""
    text = text or ""
    if len(text) > JSON_LIMIT_CHARS or _depth(text) > JSON_MAX_DEPTH:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _depth(text: str) -> int:
    """An upper bound of the nesting of a JSON text, in one pass: brackets counted
    outside strings (escapes skipped), so json.loads is never handed a text whose
    recursion could reach the interpreter's limit."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _digits(value: str, limit: int) -> int | None:
    """An ASCII decimal of at most `limit` digits as an int, else None (str.isdigit
    passes "²" and "٣", which int() refuses or reads as another number)."""
    if 0 < len(value) <= limit and value.isascii() and value.isdigit():
        return int(value)
    return None


def attempt_of(linkedid: str) -> int | None:
    """The attempt id of a dialer call's linkedid (`cobrador-<id>`), else None."""
    prefix = cv.originate_channel_id(0).removesuffix("0")
    rest = linkedid.removeprefix(prefix) if linkedid.startswith(prefix) else ""
    return _digits(rest, 18)  # an SQL bigint


def _time(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 < seconds <= LATEST_TIME else None  # NaN fails both


@dataclass
class PbxCall:
    """One debtor call as Asterisk's CEL tells it; times in Asterisk's wall clock."""

    attempt_id: int
    trunk_started_at: float | None = None  # the carrier channel was created
    answered_at: float | None = None  # the dialer's channel (;1) was answered
    ended_at: float | None = None  # ... and hung up
    cause: int | None = None
    bridged_at: float | None = None  # it entered an agent's ConfBridge
    safe_harbor: bool = False  # it played the safe-harbor message (a Playback)
    far_end_hung_up_first: bool = False  # the carrier (debtor) sent the hang-up


def calls_from_cel(rows: Iterable[Mapping[str, str]]) -> dict[int, PbxCall]:
    """Per attempt, what the CEL rows of its channels say."""
    calls: dict[int, PbxCall] = {}
    for row in rows:
        attempt_id = attempt_of(row.get("linkedid", ""))
        if attempt_id is None:
            continue
        event, at = row.get("eventtype", ""), _time(row.get("eventtime", ""))
        channel = row.get("channame", "")
        own = row.get("uniqueid") == cv.originate_channel_id(attempt_id)  # the ;1 half
        if own and event == "CHAN_START":
            # A new call under this id (ids restart with a new database): the last wins.
            calls[attempt_id] = PbxCall(attempt_id)
        call = calls.setdefault(attempt_id, PbxCall(attempt_id))
        if channel.startswith(TRUNK_PREFIX):
            if event == "CHAN_START" and call.trunk_started_at is None:
                call.trunk_started_at = at
            elif event == "HANGUP":
                source = str(json_object(row.get("extra")).get("hangupsource") or "")
                # The carrier's BYE (or refusal) names the trunk channel itself;
                # when we hang up first the source is empty or the dialplan.
                call.far_end_hung_up_first = source == channel
            continue
        if not own:
            continue
        app = row.get("appname", "").lower()
        if event == "ANSWER" and call.answered_at is None:
            call.answered_at = at
        elif event == "APP_START" and app == "confbridge" and call.bridged_at is None:
            call.bridged_at = at
        elif event == "APP_START" and app == "playback" and call.answered_at is not None:
            call.safe_harbor = True
        elif event == "HANGUP":
            call.ended_at = at
            cause = json_object(row.get("extra")).get("hangupcause")
            call.cause = (
                _digits(str(cause), MAX_CAUSE_DIGITS)
                if isinstance(cause, int | str) and not isinstance(cause, bool)
                else None
            )
        elif event == "CHAN_END" and call.ended_at is None:
            call.ended_at = at
    return calls


@dataclass(frozen=True)
class Outcome:
    """How a call ended, by Asterisk's record: the attempt's result and times."""

    result: str
    answered_at: float | None
    ended_at: float
    cause: int | None
    bridged_at: float | None


def orphan_outcome(call: PbxCall) -> Outcome | None:
    """The result of a call whose dialer died, from Asterisk's record of it; None
    while Asterisk has not recorded its end.

    Unanswered: by the hang-up cause, as for a live call (`call_state.unanswered_result`).
    Answered: `contact` when it entered an agent's ConfBridge; `abandoned` when it
    was told the safe-harbor message (a person the dead dialer could not bridge);
    `early_hangup` when the debtor hung up first, before either; otherwise we hung
    up on it without an agent: `machine` (the dialplan drops only what AMD called
    a machine).
    """
    if call.ended_at is None:
        return None
    if call.answered_at is None:
        # CEL's hangupcause 0: Asterisk recorded no cause; read as nobody answered.
        result = unanswered_result(None if call.cause == 0 else call.cause)
    elif call.bridged_at is not None:
        result = "contact"
    elif call.safe_harbor:
        result = "abandoned"
    elif call.far_end_hung_up_first:
        result = EARLY_HANGUP
    else:
        result = "machine"
    return Outcome(result, call.answered_at, call.ended_at, call.cause, call.bridged_at)


@dataclass(frozen=True)
class CdrOutcome:
    disposition: str
    answered: bool
    start: float | None
    end: float | None


def cdr_outcome(rows: Iterable[Mapping[str, str]], attempt_id: int) -> CdrOutcome | None:
    """The CDR of the dialer's own channel (;1) of an attempt; None without one.
    Several records (one per bridge it was in) merge: answered if any was."""
    mine = [r for r in rows if r.get("uniqueid") == cv.originate_channel_id(attempt_id)]
    if not mine:
        return None
    answered = any(r.get("disposition") == "ANSWERED" for r in mine)
    starts = [t for r in mine if (t := _time(r.get("start", ""))) is not None]
    ends = [t for r in mine if (t := _time(r.get("end", ""))) is not None]
    return CdrOutcome(
        disposition="ANSWERED" if answered else mine[0].get("disposition", ""),
        answered=answered,
        start=min(starts) if starts else None,
        end=max(ends) if ends else None,
    )
