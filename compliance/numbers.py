"""Fast phone-number normalisation for bulk files: a line in, an E.164 integer out.

Registry files hold millions of numbers, too many for phonenumbers.parse one by
one; this checks each number against phonenumbers' own metadata (country code,
possible lengths, the national number pattern) with plain string work.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

_STRIP = str.maketrans("", "", " -().\t/")


class BadNumber(ValueError):
    """A line that is not a phone number we can use; the message says why."""


@lru_cache(maxsize=512)
def _pattern_for_code(code: int) -> tuple[re.Pattern[str], frozenset[int]] | None:
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions:
        return None
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
    if meta is None or meta.general_desc is None or not meta.general_desc.national_number_pattern:
        return None
    lengths = frozenset(meta.general_desc.possible_length or ())
    return re.compile(meta.general_desc.national_number_pattern), lengths


def country_calling_code(country: str) -> int:
    code = phonenumbers.country_code_for_region(country.upper())
    if not code:
        raise ValueError(f"unknown country {country!r}")
    return code


class NumberNormaliser:
    """Turns '+52 55 1234 5678', '525512345678' or (with a country) '5512345678' into 525512345678."""

    def __init__(self, country: str | None = None) -> None:
        self.code = country_calling_code(country) if country else None
        self.code_text = str(self.code) if self.code else ""

    def normalise(self, raw: str) -> int:
        text = raw.strip().translate(_STRIP)
        if not text:
            raise BadNumber("empty")
        plus = text.startswith("+")
        digits = text[1:] if plus else text
        if not digits.isdigit() or not digits.isascii():
            raise BadNumber("not a phone number (digits and an optional leading + only)")
        if not plus and self.code is None:
            raise BadNumber("national number without --country; write it in E.164 (+...)")
        if not plus and self.code == 52:
            digits = _without_mx_dialling_prefix(digits)
        if plus:
            code, national = self._split_code(digits)
            return int(f"{code}{self._validate(code, national)}")
        assert self.code is not None
        try:
            return int(self.code_text + self._validate(self.code, digits))
        except BadNumber:
            # Maybe the country code was written without its "+".
            if not digits.startswith(self.code_text):
                raise
        national = self._validate(self.code, digits[len(self.code_text) :])
        return int(self.code_text + national)

    @staticmethod
    def _split_code(digits: str) -> tuple[int, str]:
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                return code, digits[size:]
        raise BadNumber("unknown country calling code")

    @staticmethod
    def _validate(code: int, national: str) -> str:
        """The national number as stored, or BadNumber saying what is wrong."""
        if code == 52 and len(national) == 11 and national.startswith("1"):
            national = national[1:]  # Mexico's old mobile prefix "1", dropped in 2019
        entry = _pattern_for_code(code)
        if entry is None:
            raise BadNumber(f"no numbering plan for +{code}")
        pattern, lengths = entry
        if lengths and len(national) not in lengths:
            raise BadNumber(f"wrong length for +{code} ({len(national)} digits)")
        if not pattern.fullmatch(national):
            raise BadNumber(f"not a valid +{code} number")
        return national


def _without_mx_dialling_prefix(digits: str) -> str:
    """A Mexican number written with a dialling prefix retired in 2019-2020: "044" or
    "045" before a mobile, "01" before a long-distance number, "00 52 1" from abroad.
    Every Mexican number has had 10 digits since 2001, so each reads one way only; a
    registry line written so is the person's number and must block it (the same reading
    as account imports: store/importing/fields.py)."""
    if len(digits) == 13 and digits[:3] in ("044", "045"):
        return digits[3:]
    if len(digits) == 12 and digits.startswith("01"):
        return digits[2:]
    if len(digits) == 15 and digits.startswith("00521"):
        return digits[5:]
    if len(digits) == 14 and digits.startswith("0052"):
        return digits[4:]
    return digits


def e164_to_int(e164: str) -> int | None:
    """The integer form used in registries; None when the text is not +digits."""
    if not e164.startswith("+") or not e164[1:].isascii() or not e164[1:].isdigit():
        return None
    return int(e164[1:])
