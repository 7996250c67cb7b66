"""Bounded reading of the simulators' JSON files (pacing scenarios, pbxsim's) and of
the numbers in them: a file or a value out of bounds raises the caller's error type
with a reason, never OverflowError, RecursionError or a run that never ends."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1 << 20
# No duration, rate or count of a simulated shift comes near it; past it a run would
# not end (or a float overflows) instead of saying what is wrong.
MAX_NUMBER = 10_000_000


def load_json(path: str | Path, error: type[ValueError]) -> Any:
    """The file's JSON value; `error` says why it cannot be read."""
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise error(f"cannot read {path}: file not found") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise error(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise error(f"{path}: JSON nested too deep") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise error(f"{path}: not valid JSON ({exc})") from None


def finite(value: Any) -> float | None:
    """The value as a float when it is a number within ±MAX_NUMBER, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > MAX_NUMBER:
        return None  # before float(): a huge int does not convert
    number = float(value)
    return number if math.isfinite(number) and abs(number) <= MAX_NUMBER else None
