"""The agents' scheduled breaks as instants: a plan row (a local start time on some
weekdays, in a named IANA zone, for a length) becomes, for a given instant, the next
break not yet begun and the break going on. Pure: times in, times out; the plan is read
from SQL by dialer/break_store.py.

Local times become instants through zoneinfo on each day, so a break at 14:00 is at
14:00 on both sides of a daylight-saving change. A start the clock skips (02:30 on the
night it jumps from 02:00 to 03:00) is taken with the offset before the jump, i.e. at
03:30; a start the clock shows twice is the first of the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


@dataclass(frozen=True)
class BreakRule:
    """One break of an agent's plan (store.models.AgentBreak)."""

    id: int
    agent_id: int
    start_minute: int  # local minutes after midnight, 0..1439
    minutes: int
    weekdays: frozenset[int]  # date.weekday() values
    reason: str
    zone: str  # IANA zone of start_minute

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0


@dataclass(frozen=True)
class Occurrence:
    """A rule on one local day: it begins at `start` (epoch seconds) and lasts."""

    rule: BreakRule
    day: date  # the local day of its start, in the rule's zone
    start: float

    @property
    def end(self) -> float:
        return self.start + self.rule.seconds


def weekdays_text(days: Iterable[int]) -> str:
    """The weekdays as stored: "mon,tue,..." in week order."""
    return ",".join(WEEKDAYS[d] for d in sorted(set(days)))


def weekdays_of(text: str) -> frozenset[int]:
    """The stored weekdays back as date.weekday() values; unknown words are ignored."""
    return frozenset(WEEKDAYS.index(w) for w in text.split(",") if w in WEEKDAYS)


def start_on(rule: BreakRule, day: date) -> float:
    """The instant the rule's break starts on local `day` (whatever its weekday)."""
    hour, minute = divmod(rule.start_minute, 60)
    local = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(rule.zone))
    return local.timestamp()


def _occurrences(rule: BreakRule, now: float, days: Iterable[int]) -> list[Occurrence]:
    """The rule's breaks on the local days `days` away from now's day in its zone."""
    today = datetime.fromtimestamp(now, ZoneInfo(rule.zone)).date()
    found = []
    for offset in days:
        day = today + timedelta(days=offset)
        if day.weekday() in rule.weekdays:
            found.append(Occurrence(rule, day, start_on(rule, day)))
    return found


def next_break(rules: Iterable[BreakRule], now: float) -> Occurrence | None:
    """The first break not yet begun, today or tomorrow (each rule's local days); a
    break already begun, even one still going on, is not next."""
    ahead = [o for r in rules for o in _occurrences(r, now, (0, 1)) if o.start > now]
    return min(ahead, key=lambda o: o.start, default=None)


def breaks_going_on(rules: Iterable[BreakRule], now: float) -> list[Occurrence]:
    """The breaks begun and not over at `now` (one begun yesterday may run past
    midnight), earliest first."""
    going = [o for r in rules for o in _occurrences(r, now, (-1, 0)) if o.start <= now < o.end]
    return sorted(going, key=lambda o: o.start)


def _week_spans(start_minute: int, minutes: int, weekdays: Iterable[int]) -> list[tuple[int, int]]:
    """The rule's spans as minutes of the week from Monday 00:00, wrapped at its end."""
    spans = []
    for day in weekdays:
        begin = day * MINUTES_PER_DAY + start_minute
        end = begin + minutes
        if end <= MINUTES_PER_WEEK:
            spans.append((begin, end))
        else:  # Sunday night into Monday
            spans += [(begin, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]
    return spans


def overlap(a: tuple[int, int, Iterable[int]], b: tuple[int, int, Iterable[int]]) -> bool:
    """Whether two breaks of one zone, each (start_minute, minutes, weekdays), share a
    minute of the week; a break past midnight runs into the next day."""
    return any(x0 < y1 and y0 < x1 for x0, x1 in _week_spans(*a) for y0, y1 in _week_spans(*b))
