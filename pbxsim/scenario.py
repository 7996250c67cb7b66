"""Customer behaviour for pbxsim, from a JSON scenario file.

A number's behaviour comes from, in order: a per-number entry, the
`sim-customers` suffix rules of asterisk-conf (last 3 digits: 1NN human after
NN s, 2NN machine after NN s, 30N busy, 40N no answer, 50N congestion, 80N
declined (603), 60N and anything else unallocated) when `suffix_rules` is on,
else a number that does not exist (`p_dead_numbers`: the same numbers on every
call, chosen by the number itself), else the random mix drawn per call.
Bad input raises ScenarioError naming the field.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.pacing.dist import Dist
from dialer.pacing.dist import parse_dist as _parse_dist
from dialer.pacing.json_input import MAX_NUMBER, finite, load_json

HUMAN = "human"
MACHINE = "machine"
BUSY = "busy"
NO_ANSWER = "no_answer"
CONGESTION = "congestion"
UNALLOCATED = "unallocated"
QUICK_HANGUP = "quick_hangup"  # answers, says hello, hangs up while AMD still listens
DECLINED = "declined"  # the debtor rejects the call (SIP 603 Decline, Q.850 21)
BEHAVIOURS = (HUMAN, MACHINE, BUSY, NO_ANSWER, CONGESTION, UNALLOCATED, QUICK_HANGUP, DECLINED)
PROBABILITIES = ("p_human", "p_machine", "p_busy", "p_congestion", "p_unallocated", "p_declined")


class ScenarioError(ValueError):
    pass


def parse_dist(raw: Any, where: str) -> Dist:
    return _parse_dist(raw, where, ScenarioError)


def _nonneg(value: Any, where: str) -> float:
    number = finite(value)
    if number is None:
        raise ScenarioError(f"{where}: expected a number up to {MAX_NUMBER}")
    if number < 0:
        raise ScenarioError(f"{where}: must be >= 0")
    return number


@dataclass(frozen=True)
class CustomerPlan:
    """What one dialed number will do."""

    behaviour: str
    ring_seconds: float
    talk_seconds: float


@dataclass(frozen=True)
class NumberOverride:
    behaviour: str
    ring_seconds: float | None = None
    talk_seconds: float | None = None


@dataclass
class Scenario:
    p_human: float = 0.5
    p_machine: float = 0.1
    p_busy: float = 0.1
    p_congestion: float = 0.02
    p_unallocated: float = 0.03  # a carrier's "does not exist" on one call, drawn per call
    p_declined: float = 0.0
    # The share of numbers that do not exist at all: unallocated on every call (a
    # debtor's old number), so the dead-number rule (store/number_validity.py) sees
    # the same answer a day later. Chosen by a hash of the number, not the draw.
    p_dead_numbers: float = 0.0
    ring_seconds: Dist = field(default_factory=lambda: Dist("uniform", 3.0, 15.0))
    talk_seconds: Dist = field(default_factory=lambda: Dist("uniform", 30.0, 180.0))
    machine_seconds: Dist = field(default_factory=lambda: Dist("constant", 20.0))
    suffix_rules: bool = False
    suffix_talk_seconds: float = 30.0  # SIM_TALK_SECONDS in extensions.conf
    suffix_machine_seconds: float = 20.0  # SIM_MACHINE_SECONDS
    amd_human_seconds: float = 2.0
    amd_machine_seconds: float = 3.0
    safe_harbor_seconds: float = 22.5  # the stock-prompt message on Asterisk 22
    agent_answer_seconds: float = 0.2
    numbers: dict[str, NumberOverride] = field(default_factory=dict)
    seed: int | None = None

    def plan(self, number: str, rng: random.Random) -> CustomerPlan:
        override = self.numbers.get(number)
        if override is not None:
            talk_default = (
                self.machine_seconds if override.behaviour == MACHINE else self.talk_seconds
            )
            ring = override.ring_seconds
            talk = override.talk_seconds
            return CustomerPlan(
                override.behaviour,
                self.ring_seconds.sample(rng) if ring is None else ring,
                talk_default.sample(rng) if talk is None else talk,
            )
        if self.suffix_rules:
            return self._suffix_plan(number)
        if self.p_dead_numbers and number_share(number) < self.p_dead_numbers:
            return CustomerPlan(UNALLOCATED, self.ring_seconds.sample(rng) / 4, 0.0)
        draw = rng.random()
        ring = self.ring_seconds.sample(rng)
        for behaviour, p in (
            (HUMAN, self.p_human),
            (MACHINE, self.p_machine),
            (BUSY, self.p_busy),
            (CONGESTION, self.p_congestion),
            (UNALLOCATED, self.p_unallocated),
            (DECLINED, self.p_declined),
        ):
            if draw < p:
                dist = self.machine_seconds if behaviour == MACHINE else self.talk_seconds
                return CustomerPlan(behaviour, ring, dist.sample(rng))
            draw -= p
        return CustomerPlan(NO_ANSWER, ring, 0.0)

    def _suffix_plan(self, number: str) -> CustomerPlan:
        tail = number[-3:]
        if len(tail) == 3 and tail.isdigit():
            kind, nn = tail[0], int(tail[1:])
            if kind == "1":
                return CustomerPlan(HUMAN, nn, self.suffix_talk_seconds)
            if kind == "2":
                return CustomerPlan(MACHINE, nn, self.suffix_machine_seconds)
            if kind == "7":
                return CustomerPlan(QUICK_HANGUP, nn, 0.0)
            if tail[:2] == "30":
                return CustomerPlan(BUSY, 0.0, 0.0)
            if tail[:2] == "40":
                return CustomerPlan(NO_ANSWER, 0.0, 0.0)
            if tail[:2] == "50":
                return CustomerPlan(CONGESTION, 0.0, 0.0)
            if tail[:2] == "80":
                return CustomerPlan(DECLINED, 0.0, 0.0)
        return CustomerPlan(UNALLOCATED, 0.0, 0.0)


def number_share(number: str) -> float:
    """Where a number falls in [0, 1): the same for the same digits on every run."""
    digest = hashlib.sha256(number.lstrip("+").encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def parse_scenario(raw: Any) -> Scenario:
    if not isinstance(raw, dict):
        raise ScenarioError("scenario: expected a JSON object")
    known = {
        "p_human", "p_machine", "p_busy", "p_congestion", "p_unallocated", "p_declined",
        "p_dead_numbers", "ring_seconds", "talk_seconds", "machine_seconds", "suffix_rules",
        "suffix_talk_seconds", "suffix_machine_seconds", "amd_human_seconds",
        "amd_machine_seconds", "safe_harbor_seconds", "agent_answer_seconds",
        "numbers", "seed", "description",
    }  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ScenarioError(f"scenario: unknown field(s) {', '.join(unknown)}")
    scenario = Scenario()
    for name in (*PROBABILITIES, "p_dead_numbers"):
        if name in raw:
            value = _nonneg(raw[name], name)
            if value > 1:
                raise ScenarioError(f"{name}: must be <= 1")
            setattr(scenario, name, value)
    total = sum(getattr(scenario, name) for name in PROBABILITIES)
    if total > 1 + 1e-9:
        raise ScenarioError(f"{' + '.join(PROBABILITIES)} must be <= 1")
    for name in ("ring_seconds", "talk_seconds", "machine_seconds"):
        if name in raw:
            setattr(scenario, name, parse_dist(raw[name], name))
    for name in (
        "suffix_talk_seconds",
        "suffix_machine_seconds",
        "amd_human_seconds",
        "amd_machine_seconds",
        "safe_harbor_seconds",
        "agent_answer_seconds",
    ):
        if name in raw:
            setattr(scenario, name, _nonneg(raw[name], name))
    if "suffix_rules" in raw:
        if not isinstance(raw["suffix_rules"], bool):
            raise ScenarioError("suffix_rules: expected true or false")
        scenario.suffix_rules = raw["suffix_rules"]
    if "seed" in raw:
        if not isinstance(raw["seed"], int) or isinstance(raw["seed"], bool):
            raise ScenarioError("seed: expected an integer")
        scenario.seed = raw["seed"]
    numbers = raw.get("numbers", {})
    if not isinstance(numbers, dict):
        raise ScenarioError("numbers: expected an object keyed by E.164 digits")
    for number, entry in numbers.items():
        scenario.numbers[number.lstrip("+")] = _parse_override(entry, f"numbers.{number}")
    return scenario


def _parse_override(entry: Any, where: str) -> NumberOverride:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected an object")
    behaviour = entry.get("behaviour")
    if behaviour not in BEHAVIOURS:
        raise ScenarioError(f"{where}.behaviour: one of {', '.join(BEHAVIOURS)}")
    ring = entry.get("ring_seconds")
    talk = entry.get("talk_seconds")
    return NumberOverride(
        behaviour,
        None if ring is None else _nonneg(ring, f"{where}.ring_seconds"),
        None if talk is None else _nonneg(talk, f"{where}.talk_seconds"),
    )


def load_scenario(path: str | Path) -> Scenario:
    return parse_scenario(load_json(path, ScenarioError))
