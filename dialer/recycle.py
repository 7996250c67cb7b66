"""When an account comes back after a call, by result: pure rules with sane
defaults that a campaign may override (`config["recycle"]`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance.debtor_time import day_begun


def promise_hold_until(due_date: date, zones: tuple[ZoneInfo, ...] = ()) -> datetime:
    """An account with an open promise is not dialed before the day after its date
    has begun in every zone the debtor may be in (`zones`: compliance/debtor_time.py
    date_zones; UTC's midnight with none), the day the promise is broken on
    (debtor_day); then a broken promise brings it back with a high priority. UTC's
    midnight let the dialer call a Mexico City debtor from 18:00 of the promised day,
    while they could still pay."""
    return day_begun(due_date + timedelta(days=1), zones)


@dataclass(frozen=True)
class RecycleRule:
    delay_seconds: float
    max_attempts: int  # of this result in a row before the account rests


# Defaults sit inside every shipped profile's caps (MX: 1 attempt/hour, 3/day):
# the caps still decide at originate; these only space the retries sensibly.
DEFAULT_RULES: dict[str, RecycleRule] = {
    "no_answer": RecycleRule(2 * 3600, 6),
    "busy": RecycleRule(20 * 60, 6),
    "machine": RecycleRule(4 * 3600, 4),
    "abandoned": RecycleRule(3600, 3),
    # Answered and hung up before an agent was due: spaced like an unanswered call.
    "early_hangup": RecycleRule(2 * 3600, 6),
    "failed": RecycleRule(6 * 3600, 3),
    # The carrier says the number does not exist: checked once more a day later (a
    # carrier's misroute, a number being ported), then the account rests a week.
    # Never spaced like a busy line: every redial costs a trunk channel and counts
    # against the debtor's caps.
    "invalid_number": RecycleRule(24 * 3600, 2),
    # The debtor rejected the call (603): someone is there and said no. Not spaced
    # like a no-answer (2 h) nor a busy line (20 min): calling straight back after a
    # refusal reads as pressure.
    "declined": RecycleRule(4 * 3600, 3),
    "blocked": RecycleRule(30 * 60, 1000),
    "cancelled": RecycleRule(3600, 1000),
    # A conversation: the agent's disposition decides what is next; until then
    # the account rests a day.
    "contact": RecycleRule(24 * 3600, 1000),
}
REST_SECONDS = 7 * 24 * 3600  # after max_attempts of one result in a row


class RecycleConfigError(ValueError):
    pass


def rules_for(config: Mapping[str, Any] | None) -> dict[str, RecycleRule]:
    """Defaults overlaid with a campaign's `recycle` table; bad values are errors."""
    rules = dict(DEFAULT_RULES)
    if config is not None and not isinstance(config, Mapping):
        raise RecycleConfigError("recycle must be a table of result = { ... }")
    for result, spec in (config or {}).items():
        if result not in DEFAULT_RULES:
            raise RecycleConfigError(f"recycle: unknown result {result!r}")
        try:
            delay = float(spec.get("delay_minutes", rules[result].delay_seconds / 60)) * 60
            maximum = int(spec.get("max", rules[result].max_attempts))
        except (TypeError, ValueError, AttributeError) as exc:
            raise RecycleConfigError(f"recycle.{result}: {exc}") from exc
        if delay < 0 or maximum < 1:
            raise RecycleConfigError(f"recycle.{result}: delay must be >= 0 and max >= 1")
        rules[result] = RecycleRule(delay, maximum)
    return rules


def next_attempt_after(result: str, same_in_a_row: int, ended_at: float,
                       rules: Mapping[str, RecycleRule]) -> float:  # fmt: skip
    """When the account may be dialed again; `same_in_a_row` counts this call."""
    rule = rules.get(result, DEFAULT_RULES["failed"])
    if same_in_a_row >= rule.max_attempts:
        return ended_at + REST_SECONDS
    return ended_at + rule.delay_seconds
