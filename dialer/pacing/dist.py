"""A duration distribution read from a scenario file: the pacing simulator's and pbxsim's.

Written as a number (constant) or an object with a `dist` key: constant(value),
uniform(min, max), exponential(mean) or lognormal(mean, sd). Bad input raises
the caller's error type with a message naming the field.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

KINDS = ("constant", "uniform", "exponential", "lognormal")


class DistError(ValueError):
    """A distribution that cannot be read; the message names the field."""


@dataclass(frozen=True)
class Dist:
    """kind and its parameters: constant (a), uniform (a..b), exponential (mean a),
    lognormal (mu a, sigma b of the underlying normal)."""

    kind: str
    a: float
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.a)
        if self.kind == "lognormal":
            return rng.lognormvariate(self.a, self.b)
        return self.a


def parse_dist(raw: Any, where: str, error: type[ValueError] = DistError) -> Dist:
    """The distribution written at `where`; raises `error` (the caller's own type)."""

    def number(key: str, positive: bool = False) -> float:
        if key not in raw:
            raise error(f"{where}.{key}: missing")
        value = raw[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise error(f"{where}.{key}: expected a finite number, got {value!r}")
        if positive and value <= 0:
            raise error(f"{where}.{key}: must be > 0")
        if value < 0:
            raise error(f"{where}.{key}: must be >= 0")
        return float(value)

    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if not math.isfinite(raw) or raw < 0:
            raise error(f"{where}: expected a finite number >= 0, got {raw!r}")
        return Dist("constant", float(raw))
    if not isinstance(raw, dict) or "dist" not in raw:
        raise error(f"{where}: expected a number or an object with a 'dist' key")
    kind = raw["dist"]
    if kind == "constant":
        return Dist(kind, number("value"))
    if kind == "uniform":
        lo, hi = number("min"), number("max")
        if hi < lo:
            raise error(f"{where}: max must be >= min")
        return Dist(kind, lo, hi)
    if kind == "exponential":
        return Dist(kind, number("mean", positive=True))
    if kind == "lognormal":
        mean, sd = number("mean", positive=True), number("sd")
        sigma2 = math.log(1.0 + (sd / mean) ** 2)
        return Dist(kind, math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    raise error(f"{where}.dist: unknown dist {kind!r} ({', '.join(KINDS)})")
