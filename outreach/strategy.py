"""Staged collection strategies: the ``strategy`` table of a campaign's rules file, read
and checked (errors in English, for the operator), and the pure plan of what is due
for one account at one instant. No I/O: the scheduler (outreach/scheduler.py) hands in
the account's state and the clock.

    [strategy.stages.friendly]
    steps = [
      { day = 0, channel = "sms", template = "recordatorio" },
      { day = 3, channel = "email", template = "recordatorio" },
      { day = 5, channel = "call" },
      { event = "promise_made", channel = "sms", template = "confirmacion_promesa" },
      { event = "promise_due", days_before = 2, channel = "sms", template = "recordatorio_promesa" },
      { event = "promise_broken", channel = "sms", template = "promesa_incumplida" },
    ]

    [strategy.stages.firm]
    enter_days_past_due = 30      # from any earlier stage once the debt is this old
    enter_after_days = 21         # or after this long in the stage before without a kept promise
    steps = [{ day = 0, channel = "whatsapp", template = "aviso_firme" }]

A cadence step's day counts from the instant the account entered its stage. While a
promise is open the cadence waits; a kept promise passes over the steps it covered;
a broken promise runs the next step at once (the latest one overdue, else the next
one). When several cadence steps are overdue only the latest runs: the others are
passed over, so a pause never ends in a burst. Stages only move forward and never
into ``legal``: that is a person's decision, and a legal account gets nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from compliance.debtor_time import day_begun, local_days

# The stages a strategy may move an account through, in order. `legal` is not here:
# only a person moves an account there.
AUTOMATIC_STAGES = ("friendly", "firm", "prelegal")
LEGAL = "legal"
STEP_CHANNELS = ("call", "sms", "whatsapp", "email", "letter")
MESSAGE_CHANNELS = ("sms", "whatsapp", "email", "letter")
MAX_DAY = 366
# An event older than this when first seen (a promise imported with its history, a
# scheduler down for days) is past news: no confirmation or "broken" message for it.
EVENT_FRESHNESS = timedelta(days=3)
STEP_KEYS = {"day", "event", "days_before", "channel", "template"}
STAGE_KEYS = {"steps", "enter_days_past_due", "enter_after_days"}


class Event(StrEnum):
    promise_made = "promise_made"  # written confirmation of what was agreed
    promise_due = "promise_due"  # a reminder `days_before` a promise or instalment is due
    promise_broken = "promise_broken"  # what to say when a promise breaks


class StrategyError(ValueError):
    """A campaign's strategy table is wrong (said to the operator, in English)."""


@dataclass(frozen=True)
class Step:
    """One step of a stage: on a day of the stage (cadence) or on an event."""

    channel: str
    template: str | None = None  # None only for a call: the agent speaks
    day: int | None = None
    event: Event | None = None
    days_before: int = 0


@dataclass(frozen=True)
class StageRules:
    steps: tuple[Step, ...] = ()
    enter_days_past_due: int | None = None
    enter_after_days: int | None = None

    @property
    def cadence(self) -> tuple[tuple[int, Step], ...]:
        """(index in `steps`, step) of the day steps, by day."""
        days = [(i, s) for i, s in enumerate(self.steps) if s.day is not None]
        return tuple(sorted(days, key=lambda pair: (pair[1].day or 0, pair[0])))


@dataclass(frozen=True)
class Strategy:
    stages: Mapping[str, StageRules] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.stages

    def rules(self, stage: str) -> StageRules:
        return self.stages.get(stage, StageRules())

    def templates(self) -> set[tuple[str, str]]:
        """Every (stage, template) the strategy names."""
        return {(st, s.template) for st, r in self.stages.items() for s in r.steps if s.template}


# ---------------------------------------------------------------------------- parsing


def strategy_from(config: Mapping[str, Any] | None) -> Strategy:
    """A campaign's ``strategy`` table; StrategyError names the bad key. None or an
    empty table: no strategy (the campaign only dials)."""
    if config is not None and not isinstance(config, Mapping):
        raise StrategyError("strategy must be a table (strategy.stages.<stage> = ...)")
    raw = dict(config or {})
    unknown = sorted(set(raw) - {"stages"})
    if unknown:
        raise StrategyError(f"strategy: unknown key(s) {', '.join(unknown)}")
    stages_raw = raw.get("stages", {})
    if not isinstance(stages_raw, Mapping):
        raise StrategyError("strategy.stages must be a table of stage = { steps = [...] }")
    stages: dict[str, StageRules] = {}
    for stage, table in stages_raw.items():
        where = f"strategy.stages.{stage}"
        if stage == LEGAL:
            raise StrategyError(
                f"{where}: a legal account is never contacted and no strategy moves an "
                "account there (a person does)"
            )
        if stage not in AUTOMATIC_STAGES:
            raise StrategyError(f"{where}: unknown stage; one of {', '.join(AUTOMATIC_STAGES)}")
        if not isinstance(table, Mapping):
            raise StrategyError(f"{where} must be a table")
        bad = sorted(set(table) - STAGE_KEYS)
        if bad:
            raise StrategyError(f"{where}: unknown key(s) {', '.join(bad)}")
        steps_raw = table.get("steps", [])
        if not isinstance(steps_raw, list):
            raise StrategyError(f"{where}.steps must be a list of steps")
        steps = tuple(_step(s, f"{where}.steps[{i}]") for i, s in enumerate(steps_raw))
        enter_dpd = _days(table, "enter_days_past_due", where, 0, 3650)
        enter_after = _days(table, "enter_after_days", where, 1, 3650)
        if stage == AUTOMATIC_STAGES[0] and (enter_dpd is not None or enter_after is not None):
            raise StrategyError(
                f"{where}: the first stage is where accounts start; it has no entry rule"
            )
        stages[stage] = StageRules(steps, enter_dpd, enter_after)
    _check_thresholds(stages)
    return Strategy(stages)


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, Mapping):
        raise StrategyError(
            f'{where} must be a table like {{ day = 0, channel = "sms", template = "..." }}'
        )
    bad = sorted(set(raw) - STEP_KEYS)
    if bad:
        raise StrategyError(f"{where}: unknown key(s) {', '.join(bad)}")
    channel = raw.get("channel")
    if channel not in STEP_CHANNELS:
        raise StrategyError(f"{where}.channel must be one of {', '.join(STEP_CHANNELS)}")
    has_day, has_event = "day" in raw, "event" in raw
    if has_day == has_event:
        raise StrategyError(
            f"{where}: give either day (a cadence step) or event, not both or neither"
        )
    template = raw.get("template")
    if channel == "call":
        if template is not None:
            raise StrategyError(f"{where}: a call has no template (an agent speaks)")
    elif not isinstance(template, str) or not _name_ok(template):
        raise StrategyError(
            f"{where}.template must name a template (letters, digits, _ and -) for {channel}"
        )
    day = None
    event = None
    days_before = 0
    if has_day:
        day = raw["day"]
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= MAX_DAY:
            raise StrategyError(f"{where}.day must be a whole number of days from 0 to {MAX_DAY}")
        if "days_before" in raw:
            raise StrategyError(f"{where}.days_before belongs to a promise_due event step")
    else:
        try:
            event = Event(raw["event"])
        except ValueError:
            raise StrategyError(
                f"{where}.event must be one of {', '.join(e.value for e in Event)}"
            ) from None
        if event is Event.promise_due:
            days_before = raw.get("days_before", 1)
            if (
                isinstance(days_before, bool)
                or not isinstance(days_before, int)
                or not 0 <= days_before <= 30
            ):
                raise StrategyError(f"{where}.days_before must be a whole number from 0 to 30")
        elif "days_before" in raw:
            raise StrategyError(f"{where}.days_before belongs to a promise_due event step")
        if channel == "call" and event is not Event.promise_broken:
            raise StrategyError(
                f"{where}: {event.value} is a written message (sms, whatsapp, email), not a call"
            )
    return Step(
        channel=str(channel), template=template, day=day, event=event, days_before=days_before
    )


def _name_ok(name: str) -> bool:
    return 0 < len(name) <= 60 and all(c.isalnum() or c in "_-" for c in name) and name.isascii()


def _days(table: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int | None:
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StrategyError(f"{where}.{key} must be a whole number of days from {low} to {high}")
    return value


def _check_thresholds(stages: Mapping[str, StageRules]) -> None:
    last: tuple[str, int] | None = None
    for stage in AUTOMATIC_STAGES:
        rules = stages.get(stage)
        if rules is None or rules.enter_days_past_due is None:
            continue
        if last is not None and rules.enter_days_past_due <= last[1]:
            raise StrategyError(
                f"strategy.stages.{stage}.enter_days_past_due ({rules.enter_days_past_due}) must be "
                f"above {last[0]}'s ({last[1]}): stages only move forward"
            )
        last = (stage, rules.enter_days_past_due)


def strategy_for(config: Mapping[str, Any] | None) -> Strategy:
    """The strategy of a campaign's whole config (its rules file)."""
    return strategy_from((config or {}).get("strategy"))


# ---------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class PromiseFacts:
    id: int
    created_at: datetime
    due_date: date
    status: str  # open | kept | broken | cancelled
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class AccountState:
    """What the plan needs of one account. `done` holds the keys of the steps already
    run, passed over or under way (the scheduler's step rows)."""

    account_id: int
    status: str
    stage: str
    stage_entered_at: datetime
    due_date: date | None
    promises: tuple[PromiseFacts, ...] = ()
    done: frozenset[str] = frozenset()
    # The zones the debtor's date is read in (compliance/debtor_time.py date_zones:
    # their candidates, else their country's); empty: UTC's date. Several zones: a
    # date-bound step waits until its day has begun in every one (day_start) and days
    # past due count from the earliest of their dates, so nothing is ever early.
    zones: tuple[ZoneInfo, ...] = ()


@dataclass(frozen=True)
class StageChange:
    stage: str
    reason: str  # days_past_due | time_in_stage


@dataclass(frozen=True)
class DueStep:
    key: str  # unique per account: the step row's key, what makes a send happen once
    stage: str
    step: Step
    due_at: datetime
    promise_id: int | None = None
    marks: tuple[str, ...] = ()  # other keys this step settles (a broken promise's "next step")


@dataclass(frozen=True)
class Plan:
    stage_change: StageChange | None = None
    due: tuple[DueStep, ...] = ()
    passed_over: tuple[DueStep, ...] = ()  # overdue cadence steps another one replaces
    next_at: datetime | None = None  # when something may next be due (None: nothing planned)


def day_start(day: date, zones: tuple[ZoneInfo, ...] = ()) -> datetime:
    """When `day` has begun for the debtor: in the zone furthest behind of those they
    may be in (a Tijuana and Cancún account: Tijuana's midnight). UTC's midnight was
    18:00 of the day before in Mexico City, and a reminder 'your payment is due today'
    went out that evening."""
    return day_begun(day, zones)


def cadence_key(stage: str, entered: datetime, index: int) -> str:
    return f"c:{stage}:{int(entered.timestamp())}:{index}"


def event_key(event: Event, promise_id: int, index: int) -> str:
    return f"e:{event.value}:{promise_id}:{index}"


def broken_key(promise_id: int) -> str:
    return f"b:{promise_id}"


def plan(strategy: Strategy, state: AccountState, now: datetime) -> Plan:
    """What is due for the account at `now`, the stage it moves to, and when to look
    again. Pure; `now` must be aware."""
    if now.tzinfo is None:
        raise ValueError("plan() needs an aware datetime")
    if strategy.empty or state.status != "active" or state.stage == LEGAL:
        return Plan()
    stage, entered = state.stage, state.stage_entered_at
    change = next_stage(strategy, state, now)
    if change is not None:
        stage, entered = change.stage, now
    rules = strategy.rules(stage)
    due: list[DueStep] = []
    passed: list[DueStep] = []
    future: list[datetime] = []

    # 1. Event steps of the stage the account is in now.
    for index, step in enumerate(rules.steps):
        if step.event is None:
            continue
        for promise in state.promises:
            at = _event_time(step, promise, state.zones)
            if at is None:
                continue
            key = event_key(step.event, promise.id, index)
            if key in state.done:
                continue
            if at > now:
                future.append(at)
            elif now - at <= EVENT_FRESHNESS and _still_relevant(step, promise, now, state.zones):
                due.append(DueStep(key, stage, step, at, promise.id))

    # 2. The cadence: waits while a promise is open; the latest overdue step runs.
    open_promise = any(p.status == "open" for p in state.promises)
    if not open_promise:
        resolved = [
            p for p in state.promises if p.resolved_at is not None and p.resolved_at >= entered
        ]
        last = max(resolved, key=lambda p: p.resolved_at or entered, default=None)
        kept_until = last.resolved_at if last is not None and last.status == "kept" else None
        overdue: list[DueStep] = []
        upcoming: list[DueStep] = []
        for index, step in rules.cadence:
            key = cadence_key(stage, entered, index)
            if key in state.done:
                continue
            at = entered + timedelta(days=step.day or 0)
            if kept_until is not None and at <= kept_until:
                passed.append(DueStep(key, stage, step, at))  # the kept promise covered it
            elif at <= now:
                overdue.append(DueStep(key, stage, step, at))
            else:
                upcoming.append(DueStep(key, stage, step, at))
        # A broken promise runs the next step at once: the latest overdue, else the next.
        broken = last if last is not None and last.status == "broken" else None
        if broken is not None and broken.resolved_at is not None:
            mark = broken_key(broken.id)
            fresh = now - broken.resolved_at <= EVENT_FRESHNESS
            if mark not in state.done and fresh and not overdue and upcoming:
                first = upcoming.pop(0)
                overdue.append(
                    DueStep(first.key, stage, first.step, broken.resolved_at, marks=(mark,))
                )
            elif mark not in state.done and fresh and overdue:
                last_due = overdue[-1]
                overdue[-1] = DueStep(
                    last_due.key, stage, last_due.step, last_due.due_at, marks=(mark,)
                )
        if overdue:
            due.append(overdue[-1])
            passed.extend(overdue[:-1])
        future.extend(d.due_at for d in upcoming)

    # 3. When to look again: the next step, reminder or stage move.
    future.extend(_progression_times(strategy, stage, entered, state))
    later = [t for t in future if t > now]
    return Plan(change, tuple(due), tuple(passed), min(later, default=None))


def _event_time(step: Step, promise: PromiseFacts, zones: tuple[ZoneInfo, ...]) -> datetime | None:
    if step.event is Event.promise_made:
        return promise.created_at
    if step.event is Event.promise_due:
        if promise.status != "open":
            return None
        return max(
            day_start(promise.due_date - timedelta(days=step.days_before), zones),
            promise.created_at,
        )
    if step.event is Event.promise_broken and promise.status == "broken":
        return promise.resolved_at
    return None


def _still_relevant(
    step: Step, promise: PromiseFacts, now: datetime, zones: tuple[ZoneInfo, ...]
) -> bool:
    """A reminder is pointless once its date has passed: in any of the debtor's zones
    (one that is already on the next day would read a stale 'due today')."""
    if step.event is Event.promise_due:
        return local_days(now, zones)[-1] <= promise.due_date
    return True


def days_past_due(
    due_date: date | None, now: datetime, zones: tuple[ZoneInfo, ...] = ()
) -> int | None:
    """How many days the debt is past due on the debtor's date: the earliest of their
    zones' dates (UTC's with no zone), so a stage never moves before its day has come
    wherever the debtor is."""
    return None if due_date is None else (local_days(now, zones)[0] - due_date).days


def next_stage(strategy: Strategy, state: AccountState, now: datetime) -> StageChange | None:
    """The stage the account moves to now, if any: by the age of the debt (to the
    furthest stage whose threshold it passed) or by time in its stage without a kept
    promise (one stage on). Never backwards, never into legal, never while a promise
    is open."""
    if state.stage not in AUTOMATIC_STAGES or state.status != "active":
        return None
    if any(p.status == "open" for p in state.promises):
        return None
    position = AUTOMATIC_STAGES.index(state.stage)
    later = AUTOMATIC_STAGES[position + 1 :]
    dpd = days_past_due(state.due_date, now, state.zones)
    if dpd is not None:
        for stage in reversed(later):
            threshold = strategy.rules(stage).enter_days_past_due
            if stage in strategy.stages and threshold is not None and dpd >= threshold:
                return StageChange(stage, "days_past_due")
    following = next((s for s in later if s in strategy.stages), None)
    if following is not None:
        after = strategy.rules(following).enter_after_days
        if after is not None and now >= _time_clock(state) + timedelta(days=after):
            return StageChange(following, "time_in_stage")
    return None


def _time_clock(state: AccountState) -> datetime:
    """Time in the stage counts from entry, or from the last promise kept in it."""
    kept = [p.resolved_at for p in state.promises
            if p.status == "kept" and p.resolved_at is not None and p.resolved_at >= state.stage_entered_at]  # fmt: skip
    return max([state.stage_entered_at, *kept])


def _progression_times(
    strategy: Strategy, stage: str, entered: datetime, state: AccountState
) -> Sequence[datetime]:
    if stage not in AUTOMATIC_STAGES or any(p.status == "open" for p in state.promises):
        return ()
    out = []
    position = AUTOMATIC_STAGES.index(stage)
    for later in AUTOMATIC_STAGES[position + 1 :]:
        threshold = strategy.rules(later).enter_days_past_due
        if later in strategy.stages and threshold is not None and state.due_date is not None:
            out.append(day_start(state.due_date + timedelta(days=threshold), state.zones))
    following = next((s for s in AUTOMATIC_STAGES[position + 1 :] if s in strategy.stages), None)
    if following is not None and strategy.rules(following).enter_after_days is not None:
        clock = entered if stage != state.stage else _time_clock(state)
        out.append(clock + timedelta(days=strategy.rules(following).enter_after_days or 0))
    return out
