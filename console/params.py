"""Numbers from requests, parsed into the range of the column they are meant for.

Every id or amount a client sends goes through here: out of range, not a
number, or absurdly long gives a ``ParamError`` with a reason (a 400 or a 404
for the caller), never an ``OverflowError`` or a database error (a 500).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation

from aiohttp import web

# Integer columns (users, campaigns, skill groups) and BigInteger ones (accounts,
# attempts, decisions, recordings...): the largest id each can hold.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
_MAX_DIGITS = 19
_MAX_DECIMAL_TEXT = 32


# The years a date in a request may name: none of ours is outside them, and a day
# more, or a time zone, applied to 9999-12-31 or 0001-01-01 is past what datetime
# holds (OverflowError, a 500).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def plausible_year(value: date) -> bool:
    """Whether a date (or datetime) a request gave is within EARLIEST..LATEST_YEAR."""
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


class ParamError(ValueError):
    """A number the request gave is unusable; the message says why (English)."""


def parse_id(value: str | None, name: str, maximum: int = INT64_MAX) -> int:
    """A positive id no larger than its column: only ASCII digits, at most 19 of them."""
    text = (value or "").strip()
    if not text or not text.isascii() or not text.isdigit():
        raise ParamError(f"{name} must be a positive integer")
    if len(text) > _MAX_DIGITS or not 1 <= int(text) <= maximum:
        raise ParamError(f"{name} is out of range (1 to {maximum})")
    return int(text)


def parse_decimal(
    value: str | None, name: str, minimum: Decimal, maximum: Decimal, places: int
) -> Decimal:
    """A decimal inside [minimum, maximum] that keeps its value at ``places``
    decimals (``0.00001`` with 4 places is refused, never stored as 0)."""
    text = (value or "").strip().replace(",", ".")
    if not text or len(text) > _MAX_DECIMAL_TEXT:
        raise ParamError(f"{name} must be a number")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ParamError(f"{name} must be a number") from None
    if not number.is_finite() or not minimum <= number <= maximum:
        raise ParamError(f"{name} must be between {minimum} and {maximum}")
    rounded = number.quantize(Decimal(1).scaleb(-places))
    if rounded != number.normalize() and rounded.is_zero():
        raise ParamError(f"{name} is too small to keep at {places} decimals")
    return rounded


def id_or_404(value: str | None, maximum: int = INT64_MAX) -> int:
    """A path id: one no row can have is simply not found."""
    try:
        return parse_id(value, "id", maximum)
    except ParamError:
        raise web.HTTPNotFound() from None


def id_or_400(value: str | None, name: str, maximum: int = INT64_MAX) -> int:
    """A JSON API id: 400 with the reason and the field."""
    try:
        return parse_id(value, name, maximum)
    except ParamError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"ok": False, "reason": str(exc), "field": name}),
            content_type="application/json",
        ) from None
