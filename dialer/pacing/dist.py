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

from dialer.pacing.json_input import MAX_NUMBER, finite

KINDS = ("constant", "uniform", "exponential", "lognormal")
MAX_SD_RATIO = 1000


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
        value = finite(raw[key])
        if value is None:
            raise error(f"{where}.{key}: expected a finite number up to {MAX_NUMBER}, got "
                        f"{str(raw[key])[:40]}")  # fmt: skip
        if positive and value <= 0:
            raise error(f"{where}.{key}: must be > 0")
        if value < 0:
            raise error(f"{where}.{key}: must be >= 0")
        return value

    if isinstance(raw, int | float) and not isinstance(raw, bool):
        constant = finite(raw)
        if constant is None or constant < 0:
            raise error(
                f"{where}: expected a finite number >= 0 (at most {MAX_NUMBER}), got {str(raw)[:40]}"
            )
        return Dist("constant", constant)
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
        if sd > mean * MAX_SD_RATIO:  # (sd / mean) ** 2 would overflow a float
            raise error(f"{where}.sd: at most {MAX_SD_RATIO} times the mean")
        sigma2 = math.log(1.0 + (sd / mean) ** 2)
        return Dist(kind, math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    raise error(f"{where}.dist: unknown dist {kind!r} ({', '.join(KINDS)})")
