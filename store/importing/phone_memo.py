"""A memo in front of phonenumbers for the numbers an import sees most: national
numbers written as plain digits. phonenumbers decides validity and type by
matching the number against its metadata patterns; when every pattern of the
country looks at no more than the first `depth` digits (the rest are `\\d`s),
numbers of one length sharing those digits get the same answer, and the
library is asked once per such prefix instead of once per number.

Only what the library decides is remembered, never re-derived: the memo keeps
phonenumbers' own reading of the first number of each (country, length,
prefix) and serves it to the next ones. It steps aside (the library answers)
whenever parsing could do more than read the digits as they are: a leading 0,
a leading country code, an international or national prefix, any non-digit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata

# Number descriptions phonenumbers matches a national number against
# (number_type, is_valid_number_for_region, region_code_for_number).
_DESCRIPTIONS = (
    "general_desc", "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
    "personal_number", "voip", "pager", "uan", "voicemail", "no_international_dialling",
)  # fmt: skip
_ASCII_DIGITS = frozenset(range(ord("0"), ord("9") + 1))
MAX_ENTRIES = 50_000  # per country and process; past it the library answers (bounds memory)
# An entry must stand for at least 1,000 numbers (3 free digits), else it would
# mostly cost memory: for a country whose patterns reach deep, the library answers.
MIN_FREE_DIGITS = 3

# phonenumbers' reading of a number for a country: (number type, valid for the
# country, E.164). Parse errors are raised, never remembered.
Reading = tuple[int, bool, str]


class PhoneReadings:
    """`read(text)` for one country: phonenumbers' reading, memoised by prefix."""

    def __init__(self, country: str, read: Callable[[str], Reading]) -> None:
        self.country = country
        self._read = read  # the library path: parse, number_type, validity
        metadata = PhoneMetadata.metadata_for_region(country)
        if metadata is None:
            raise ValueError(f"phonenumbers has no metadata for {country!r}")
        self._country_code = str(metadata.country_code)
        self._idd = re.compile(metadata.international_prefix or "(?!)")
        self._national_prefix = re.compile(metadata.national_prefix_for_parsing or "(?!)")
        self.depth = decisive_depth(metadata.country_code)
        self._memo: dict[tuple[int, str], tuple[int, bool]] = {}

    def memoisable(self, text: str) -> bool:
        """True when phonenumbers reads the text as the national number itself:
        plain digits, nothing to strip, no leading zero to keep."""
        return (
            self.depth is not None
            and text.isascii()
            and text.isdigit()
            and len(text) - self.depth >= MIN_FREE_DIGITS
            and text[0] != "0"
            and not text.startswith(self._country_code)
            and self._idd.match(text) is None
            and self._national_prefix.match(text) is None
        )

    def read(self, text: str) -> Reading:
        if not self.memoisable(text):
            return self._read(text)
        e164 = f"+{self._country_code}{text}"
        key = (len(text), text[: self.depth])
        found = self._memo.get(key)
        if found is not None:
            return found[0], found[1], e164
        kind, valid, read_e164 = self._read(text)
        # The library read the digits as they are (as memoisable() expects): remember.
        if read_e164 == e164 and len(self._memo) < MAX_ENTRIES:
            self._memo[key] = (kind, valid)
        return kind, valid, read_e164


@cache
def decisive_depth(country_code: int) -> int | None:
    """How many leading digits the metadata patterns of every region sharing the
    country code can tell apart (beyond them, only `\\d`s): None when a pattern
    has a construct this analysis does not know, and then nothing is memoised."""
    depths = []
    for region in phonenumbers.region_codes_for_country_code(country_code):
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            return None
        patterns = [metadata.leading_digits] + [
            getattr(getattr(metadata, name), "national_number_pattern", None)
            for name in _DESCRIPTIONS
            if getattr(metadata, name) is not None
        ]
        for pattern in filter(None, patterns):
            depth = _pattern_depth(sre_parse.parse(pattern))
            if depth is None:
                return None
            depths.append(depth[0])
    return max(depths, default=None)


def _pattern_depth(items: Any, start: int = 0) -> tuple[int, int] | None:
    """(position after the last digit a pattern constrains, furthest position it
    can reach), the positions counted from `start`; None for unknown constructs
    (lookarounds, unbounded repeats, anchors...)."""
    constrained = reach = start
    for op, arg in items:
        if op is sre.LITERAL or (op is sre.IN and not _any_digit(arg)):
            reach += 1
            constrained = reach
        elif op is sre.IN:
            reach += 1  # \d or [0-9]: accepts every digit, tells none apart
        elif op is sre.SUBPATTERN:
            inner = _pattern_depth(arg[-1], reach)
            if inner is None:
                return None
            constrained, reach = max(constrained, inner[0]), inner[1]
        elif op is sre.BRANCH:
            branches = [_pattern_depth(branch, reach) for branch in arg[1]]
            if any(b is None for b in branches):
                return None
            constrained = max([constrained, *(b[0] for b in branches)])  # type: ignore[index]
            reach = max(b[1] for b in branches)  # type: ignore[index]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            _low, high, body = arg
            inner = _pattern_depth(body)
            if inner is None or high is sre.MAXREPEAT:
                return None
            if inner[0] > 0:  # the repeated part constrains digits: up to its last copy
                constrained = max(constrained, reach + high * inner[1])
            reach += high * inner[1]
        else:
            return None
    return constrained, reach


def _any_digit(members: list[tuple[Any, Any]]) -> bool:
    """Whether a character class accepts every ASCII digit (`\\d`, `[0-9]`, ...)."""
    chars: set[int] = set()
    for op, arg in members:
        if op is sre.CATEGORY and arg is sre.CATEGORY_DIGIT:
            return True
        if op is sre.RANGE:
            chars.update(range(arg[0], arg[1] + 1))
        elif op is sre.LITERAL:
            chars.add(arg)
        else:
            return False
    return chars >= _ASCII_DIGITS
