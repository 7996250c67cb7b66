"""Pacing scenarios: the JSON files under bench/pacing/scenarios, parsed and checked.

A scenario describes a campaign shift for the simulator: team size, how calls
end (phases of answer/talk behaviour that may change mid-shift), wrap-up,
machine detection, agent pauses, and optionally blended inbound (an `inbound`
section: Poisson arrivals with a rate per phase of the day, talk time, the
callers' patience in queue, the wait target, the overflow limit and the skill
group), and optionally the previous days' abandonment history (a `history`
section: the legal 1 h / 24 h / 30 d windows start where yesterday ended
instead of empty). Bad input raises `ScenarioError` naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.pacing.dist import Dist
from dialer.pacing.dist import parse_dist as _parse_dist
from dialer.pacing.json_input import MAX_NUMBER, finite, load_json


class ScenarioError(ValueError):
    pass


# A simulated floor and shift stay the size of a real one: past these a run would
# take hours or memory the bench does not have, instead of saying what is wrong.
MAX_AGENTS = 10_000
MAX_SEEDS = 1_000
MAX_SHIFT_SECONDS = 7 * 24 * 3600


def parse_dist(raw: Any, field: str) -> Dist:
    return _parse_dist(raw, field, ScenarioError)


def _num(raw: dict[str, Any], key: str, field: str) -> float:
    value = finite(raw[key])
    if value is None:
        raise ScenarioError(f"{field}.{key}: expected a finite number up to {MAX_NUMBER}, got "
                            f"{str(raw[key])[:40]}")  # fmt: skip
    return value


def _pos(raw: dict[str, Any], key: str, field: str) -> float:
    value = _num(raw, key, field)
    if value <= 0:
        raise ScenarioError(f"{field}.{key}: must be > 0")
    return value


def _nonneg(raw: dict[str, Any], key: str, field: str) -> float:
    value = _num(raw, key, field)
    if value < 0:
        raise ScenarioError(f"{field}.{key}: must be >= 0")
    return value


@dataclass(frozen=True)
class Phase:
    from_seconds: float
    p_human: float
    p_machine: float
    p_busy: float
    p_failed: float
    answer: Dist
    talk: Dist


@dataclass(frozen=True)
class PauseRule:
    """A share of the team pauses `for_seconds`: every `every_seconds` from a random
    phase, or once at `at_seconds` (a lunch hour) when that is set. `scheduled`: the
    break is in the floor's break plan, so the policy sees it coming (`AgentView.
    break_at`); by default a lunch hour is and periodic short breaks are not."""

    agent_fraction: float
    every_seconds: float
    for_seconds: float
    at_seconds: float | None = None
    scheduled: bool = False


@dataclass(frozen=True)
class InboundPhase:
    from_seconds: float
    per_hour: float


@dataclass(frozen=True)
class Inbound:
    """Debtors calling in: Poisson arrivals whose rate changes by phase of the shift.

    `skill_agents`: how many agents (the first ones) take inbound from the
    start of a caller's wait; after `overflow_after_seconds` in queue any ready
    agent may take the caller. `patience`: how long a caller waits in queue
    before hanging up (drawn per caller).
    """

    phases: tuple[InboundPhase, ...]
    talk: Dist
    patience: Dist
    wait_target_seconds: float
    overflow_after_seconds: float
    skill_agents: int

    def rate_at(self, t: float) -> float:
        """Arrivals per second at time t."""
        current = self.phases[0]
        for p in self.phases:
            if p.from_seconds <= t:
                current = p
        return current.per_hour / 3600.0

    def next_change_after(self, t: float) -> float:
        """When the rate next changes after t (inf when it never does)."""
        for p in self.phases:
            if p.from_seconds > t:
                return p.from_seconds
        return math.inf


@dataclass(frozen=True)
class History:
    """The previous days' answered and abandoned calls, so the legal windows do not start empty.

    `days` earlier shifts of the same length, one per day; the latest ended
    `gap_seconds` before this one starts (0: the windows start exactly as
    yesterday's shift left them, the 1 h window included - stricter than an
    overnight break; 86400 - shift: the same clock hours every day). Each
    had `answered_per_agent_hour` person-answered calls per agent-hour and
    abandoned `abandon_ratio` of them, spread evenly (deterministic: every
    policy and seed meets the same past).
    """

    days: int
    answered_per_agent_hour: float
    abandon_ratio: float
    gap_seconds: float = 0.0

    def events(self, agents: int, shift_seconds: float) -> tuple[list[float], list[float]]:
        """(answer times, abandon times), sorted, all before 0 on the shift's clock."""
        n = round(self.answered_per_agent_hour * agents * shift_seconds / 3600.0)
        m = min(n, round(self.abandon_ratio * n))
        answers: list[float] = []
        abandons: list[float] = []
        for day in range(self.days, 0, -1):
            start = -day * shift_seconds - day * self.gap_seconds
            step = shift_seconds / n if n else 0.0
            day_answers = [start + (i + 0.5) * step for i in range(n)]
            answers.extend(day_answers)
            abandons.extend(day_answers[int((j + 0.5) * n / m)] for j in range(m))
        return answers, abandons


DEFAULT_HISTORY = History(days=30, answered_per_agent_hour=14.0, abandon_ratio=0.02)


@dataclass(frozen=True)
class Scenario:
    name: str
    agents: int
    shift_seconds: float
    seeds: int
    ring_timeout_seconds: float
    connect_grace_seconds: float
    abandon_target: float
    phases: tuple[Phase, ...]
    wrap: Dist
    machine_detect: Dist
    pauses: tuple[PauseRule, ...]
    busy_seconds: Dist
    failed_seconds: Dist
    max_ringing: int
    tick_seconds: float = 1.0
    inbound: Inbound | None = None
    history: History | None = None

    def phase_at(self, t: float) -> Phase:
        current = self.phases[0]
        for p in self.phases:
            if p.from_seconds <= t:
                current = p
        return current


def load_scenario(path: str | Path) -> Scenario:
    return parse_scenario(load_json(path, ScenarioError))


def parse_scenario(raw: Any) -> Scenario:
    if not isinstance(raw, dict):
        raise ScenarioError("scenario: expected a JSON object")
    try:
        name = raw["name"]
        if not isinstance(name, str) or not name:
            raise ScenarioError("name: expected a non-empty string")
        agents = raw["agents"]
        if isinstance(agents, bool) or not isinstance(agents, int) or not 1 <= agents <= MAX_AGENTS:
            raise ScenarioError(f"agents: expected an integer from 1 to {MAX_AGENTS}")
        seeds = raw.get("seeds", 10)
        if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
            raise ScenarioError(f"seeds: expected an integer from 1 to {MAX_SEEDS}")
        shift = _pos(raw, "shift_seconds", "scenario")
        if shift > MAX_SHIFT_SECONDS:
            raise ScenarioError(f"shift_seconds: at most {MAX_SHIFT_SECONDS} (one week)")
        ring_timeout = _pos(raw, "ring_timeout_seconds", "scenario")
        grace = (
            _nonneg(raw, "connect_grace_seconds", "scenario")
            if "connect_grace_seconds" in raw
            else 2.0
        )
        target = _pos(raw, "abandon_target", "scenario") if "abandon_target" in raw else 0.03
        if target >= 1:
            raise ScenarioError("abandon_target: must be < 1")
        phases_raw = raw["phases"]
        wrap = parse_dist(raw["wrap_seconds"], "wrap_seconds")
        detect = parse_dist(raw["machine_detect_seconds"], "machine_detect_seconds")
    except KeyError as exc:
        raise ScenarioError(f"scenario: missing field {exc.args[0]!r}") from None
    if not isinstance(phases_raw, list) or not phases_raw:
        raise ScenarioError("phases: expected a non-empty list")
    phases = tuple(_parse_phase(p, i) for i, p in enumerate(phases_raw))
    if phases[0].from_seconds != 0:
        raise ScenarioError("phases[0].from_seconds: the first phase must start at 0")
    if any(b.from_seconds <= a.from_seconds for a, b in zip(phases, phases[1:], strict=False)):
        raise ScenarioError("phases: from_seconds must increase")
    pauses_raw = raw.get("pauses", [])
    if not isinstance(pauses_raw, list):
        raise ScenarioError("pauses: expected a list")
    pauses = tuple(_parse_pause(p, i) for i, p in enumerate(pauses_raw))
    busy = parse_dist(
        raw.get("busy_seconds", {"dist": "uniform", "min": 3, "max": 8}), "busy_seconds"
    )
    failed = parse_dist(
        raw.get("failed_seconds", {"dist": "uniform", "min": 0.5, "max": 3}), "failed_seconds"
    )
    max_ringing = raw.get("max_ringing", agents * 6)
    if (isinstance(max_ringing, bool) or not isinstance(max_ringing, int)
            or not 1 <= max_ringing <= agents * 100):  # fmt: skip
        raise ScenarioError(f"max_ringing: expected an integer from 1 to {agents * 100}")
    inbound = _parse_inbound(raw["inbound"], agents) if "inbound" in raw else None
    history = _parse_history(raw["history"], target) if "history" in raw else None
    return Scenario(
        name=name,
        agents=agents,
        shift_seconds=shift,
        seeds=seeds,
        ring_timeout_seconds=ring_timeout,
        connect_grace_seconds=grace,
        abandon_target=target,
        phases=phases,
        wrap=wrap,
        machine_detect=detect,
        pauses=pauses,
        busy_seconds=busy,
        failed_seconds=failed,
        max_ringing=max_ringing,
        inbound=inbound,
        history=history,
    )


def _parse_history(raw: Any, target: float) -> History:
    field = "history"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{field}: expected an object")
    try:
        days = raw["days"]
        rate = _nonneg(raw, "answered_per_agent_hour", field)
        ratio = _nonneg(raw, "abandon_ratio", field)
    except KeyError as exc:
        raise ScenarioError(f"{field}: missing field {exc.args[0]!r}") from None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 30:
        raise ScenarioError(f"{field}.days: expected an integer in 1..30")
    if ratio > target:
        raise ScenarioError(f"{field}.abandon_ratio: must be <= abandon_target ({target:g})")
    gap = _nonneg(raw, "gap_seconds", field) if "gap_seconds" in raw else 0.0
    return History(days, rate, ratio, gap)


def _parse_inbound(raw: Any, agents: int) -> Inbound:
    field = "inbound"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{field}: expected an object")
    try:
        phases_raw = raw["phases"]
        talk = parse_dist(raw["talk_seconds"], f"{field}.talk_seconds")
        patience = parse_dist(raw["patience_seconds"], f"{field}.patience_seconds")
        target = _pos(raw, "wait_target_seconds", field)
    except KeyError as exc:
        raise ScenarioError(f"{field}: missing field {exc.args[0]!r}") from None
    overflow = (
        _nonneg(raw, "overflow_after_seconds", field) if "overflow_after_seconds" in raw else 30.0
    )
    skill = raw.get("skill_agents", agents)
    if isinstance(skill, bool) or not isinstance(skill, int) or not 1 <= skill <= agents:
        raise ScenarioError(f"{field}.skill_agents: expected an integer in 1..{agents}")
    if not isinstance(phases_raw, list) or not phases_raw:
        raise ScenarioError(f"{field}.phases: expected a non-empty list")
    phases = []
    for i, p in enumerate(phases_raw):
        where = f"{field}.phases[{i}]"
        if not isinstance(p, dict):
            raise ScenarioError(f"{where}: expected an object")
        try:
            phases.append(
                InboundPhase(_nonneg(p, "from_seconds", where), _nonneg(p, "per_hour", where))
            )
        except KeyError as exc:
            raise ScenarioError(f"{where}: missing field {exc.args[0]!r}") from None
    if phases[0].from_seconds != 0:
        raise ScenarioError(f"{field}.phases[0].from_seconds: the first phase must start at 0")
    if any(b.from_seconds <= a.from_seconds for a, b in zip(phases, phases[1:], strict=False)):
        raise ScenarioError(f"{field}.phases: from_seconds must increase")
    return Inbound(tuple(phases), talk, patience, target, overflow, skill)


def _parse_phase(raw: Any, i: int) -> Phase:
    field = f"phases[{i}]"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{field}: expected an object")
    try:
        probs = {k: _nonneg(raw, k, field) for k in ("p_human", "p_machine", "p_busy", "p_failed")}
        start = _nonneg(raw, "from_seconds", field)
        answer = parse_dist(raw["answer_seconds"], f"{field}.answer_seconds")
        talk = parse_dist(raw["talk_seconds"], f"{field}.talk_seconds")
    except KeyError as exc:
        raise ScenarioError(f"{field}: missing field {exc.args[0]!r}") from None
    if sum(probs.values()) > 1.0 + 1e-9:
        raise ScenarioError(f"{field}: p_human + p_machine + p_busy + p_failed must be <= 1")
    return Phase(
        start,
        probs["p_human"],
        probs["p_machine"],
        probs["p_busy"],
        probs["p_failed"],
        answer,
        talk,
    )


def _parse_pause(raw: Any, i: int) -> PauseRule:
    field = f"pauses[{i}]"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{field}: expected an object")
    try:
        fraction = _nonneg(raw, "agent_fraction", field)
        length = _pos(raw, "for_seconds", field)
        scheduled = raw.get("scheduled", "at_seconds" in raw)
        if not isinstance(scheduled, bool):
            raise ScenarioError(f"{field}.scheduled: expected true or false")
        if "at_seconds" in raw:
            if "every_seconds" in raw:
                raise ScenarioError(f"{field}: give every_seconds or at_seconds, not both")
            at = _nonneg(raw, "at_seconds", field)
            return _checked_pause(PauseRule(fraction, math.inf, length, at, scheduled), field)
        every = _pos(raw, "every_seconds", field)
    except KeyError as exc:
        raise ScenarioError(f"{field}: missing field {exc.args[0]!r}") from None
    if length >= every:
        raise ScenarioError(f"{field}: for_seconds must be shorter than every_seconds")
    return _checked_pause(PauseRule(fraction, every, length, None, scheduled), field)


def _checked_pause(rule: PauseRule, field: str) -> PauseRule:
    if rule.agent_fraction > 1:
        raise ScenarioError(f"{field}.agent_fraction: must be <= 1")
    return rule
