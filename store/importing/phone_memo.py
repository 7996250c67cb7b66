"""A memo in front of phonenumbers for the numbers an import sees most: national
numbers written as plain digits. phonenumbers decides validity and type by
matching the number against its metadata patterns. Once the leading digits of a
number leave every pattern branch still able to match it looking only at plain
`\\d`s, all numbers of that length starting with those digits get the same
answer: the library is asked once per such prefix instead of once per number
(`310` settles a Colombian mobile, `55` a Mexico City number).

Only what the library decides is remembered, never re-derived: the memo keeps
phonenumbers' own reading of the first number of each (length, prefix) and
serves it to the next ones. It steps aside (the library answers) whenever
parsing could do more than read the digits as they are: a leading 0, a leading
country code, an international or national prefix, any non-digit; and when the
patterns use a construct the prefix analysis does not know.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

try:  # CPython's own regex parser: private, so a Python without it only loses the memo
    from re import _constants as sre  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - CPython 3.11-3.13 have them
    sre = sre_parse = None
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
# An entry must stand for at least 1,000 numbers (3 free digits after its
# prefix); a longer prefix would mostly cost memory.
MIN_FREE_DIGITS = 3
MAX_ENTRIES = 50_000  # per country and process; past it the library answers (bounds memory)

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
        self.prefixes = DecisivePrefixes.for_country_code(metadata.country_code)
        self._memo: dict[int, dict[str, tuple[int, bool]]] = {}  # length -> prefix -> reading
        self.entries = 0

    def memoisable(self, text: str) -> bool:
        """True when phonenumbers reads the text as the national number itself:
        plain digits, nothing to strip, no leading zero to keep."""
        return (
            self.prefixes is not None
            and text.isascii()
            and text.isdigit()
            and text[0] != "0"
            and not text.startswith(self._country_code)
            and self._idd.match(text) is None
            and self._national_prefix.match(text) is None
        )

    def read(self, text: str) -> Reading:
        if not self.memoisable(text):
            return self._read(text)
        e164 = f"+{self._country_code}{text}"
        longest = len(text) - MIN_FREE_DIGITS
        by_prefix = self._memo.setdefault(len(text), {})
        for end in range(longest + 1):
            found = by_prefix.get(text[:end])
            if found is not None:
                return found[0], found[1], e164
        kind, valid, read_e164 = self._read(text)
        # Remember only what the library read as the digits themselves (as
        # memoisable() expects), under the shortest prefix that settles it.
        if read_e164 == e164 and self.entries < MAX_ENTRIES:
            assert self.prefixes is not None
            settled = self.prefixes.shortest(text, longest)
            if settled is not None:
                by_prefix[text[:settled]] = (kind, valid)
                self.entries += 1
        return kind, valid, read_e164


class DecisivePrefixes:
    """Which leading digits settle phonenumbers' verdict, from its metadata patterns."""

    def __init__(self, patterns: list[Any]) -> None:
        self._patterns = patterns
        self._decisive: dict[str, bool] = {}

    @staticmethod
    @cache
    def for_country_code(country_code: int) -> DecisivePrefixes | None:
        """For all regions sharing the code (+1: the US, Canada, Jamaica...), whose
        patterns number_type() may try; None if one uses an unknown construct."""
        if sre_parse is None:
            return None
        patterns = []
        for region in phonenumbers.region_codes_for_country_code(country_code):
            metadata = PhoneMetadata.metadata_for_region(region)
            if metadata is None:
                return None
            texts = [metadata.leading_digits] + [
                getattr(getattr(metadata, name), "national_number_pattern", None)
                for name in _DESCRIPTIONS
                if getattr(metadata, name) is not None
            ]
            patterns += [sre_parse.parse(text) for text in texts if text]
        prefixes = DecisivePrefixes(patterns)
        return prefixes if prefixes.decisive_prefix_known() else None

    def decisive_prefix_known(self) -> bool:
        return all(_span(p, "") is not None for p in self._patterns)

    def shortest(self, text: str, longest: int) -> int | None:
        """Length of the shortest prefix of `text` (at most `longest`) that settles
        every pattern for all numbers of the text's length starting with it."""
        for end in range(longest + 1):
            prefix = text[:end]
            decisive = self._decisive.get(prefix)
            if decisive is None:
                if len(self._decisive) >= MAX_ENTRIES:
                    return None  # bounds memory: the library answers the rest
                decisive = self._decisive[prefix] = self._settles(prefix)
            if decisive:
                return end
        return None

    def _settles(self, prefix: str) -> bool:
        """Every pattern branch that can still match after `prefix` constrains no
        digit beyond it (branches the prefix already rules out do not count)."""
        for pattern in self._patterns:
            span = _span(pattern, prefix)
            if span is None:
                return False
            if span is not _RULED_OUT and span[0] > len(prefix):
                return False
        return True


_RULED_OUT: Any = "ruled out"


def _span(items: Any, prefix: str, low: int = 0, high: int = 0, constrained: int = 0) -> Any:
    """Walk a parsed pattern from positions low..high (a range when repeats came
    before): (end of the last constrained digit, low, high) of what can follow,
    _RULED_OUT when `prefix` contradicts every branch, None for a construct this
    analysis does not know (lookarounds, unbounded repeats, anchors...)."""
    for op, arg in items:
        if op is sre.LITERAL or op is sre.IN:
            if op is sre.IN and _any_digit(arg):
                low, high = low + 1, high + 1  # \d or [0-9]: tells no digit apart
                continue
            if low == high < len(prefix):  # a known position the prefix covers
                accepted = _accepts(op, arg, ord(prefix[low]))
                if accepted is None:
                    return None
                if not accepted:
                    return _RULED_OUT
            low, high = low + 1, high + 1
            constrained = max(constrained, high)
        elif op is sre.SUBPATTERN:
            inner = _span(arg[-1], prefix, low, high, constrained)
            if inner is None or inner is _RULED_OUT:
                return inner
            constrained, low, high = inner
        elif op is sre.BRANCH:
            spans = [_span(branch, prefix, low, high, constrained) for branch in arg[1]]
            if any(s is None for s in spans):
                return None
            live = [s for s in spans if s is not _RULED_OUT]
            if not live:
                return _RULED_OUT
            constrained = max(s[0] for s in live)
            low, high = min(s[1] for s in live), max(s[2] for s in live)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            least, most, body = arg
            inner = _span(body, "")  # repeated parts are not matched against the prefix
            if inner is None or most is sre.MAXREPEAT:
                return None
            body_constrained, body_low, body_high = inner
            if body_constrained > 0:  # constrains digits: up to the end of its last copy
                constrained = max(constrained, high + most * body_high)
            low, high = low + least * body_low, high + most * body_high
        else:
            return None
    return constrained, low, high


def _accepts(op: Any, arg: Any, char: int) -> bool | None:
    """Whether a literal or character class accepts `char` (None: cannot say)."""
    if op is sre.LITERAL:
        return bool(arg == char)
    for member, value in arg:
        if member is sre.LITERAL and value == char:
            return True
        if member is sre.RANGE and value[0] <= char <= value[1]:
            return True
        if member is sre.CATEGORY and value is sre.CATEGORY_DIGIT:
            return char in _ASCII_DIGITS
        if member not in (sre.LITERAL, sre.RANGE):
            return None
    return False


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
