"""The caller's number (ANI) as the carrier sent it, normalised to E.164 with phonenumbers.

Pure: text in, a verdict out. A withheld or unusable number is a verdict, not an
error: the call is still answered (the pop opens a search).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

# What carriers and Asterisk put in CALLERID(num) when the caller hides it.
_WITHHELD = {"", "anonymous", "unknown", "private", "restricted", "unavailable", "withheld"}
_STRIP = str.maketrans("", "", " -().\t/")


class AniStatus(StrEnum):
    ok = "ok"  # a valid number of the campaign's country
    foreign = "foreign"  # a valid number of another country
    withheld = "withheld"  # the caller hid the number
    invalid = "invalid"  # something was sent, but not a usable number


@dataclass(frozen=True)
class Ani:
    status: AniStatus
    e164: str | None = None  # '+525512345678' when status is ok or foreign

    @property
    def searchable(self) -> bool:
        return self.e164 is not None


def normalise_ani(raw: str | None, country: str) -> Ani:
    """ANI text -> Ani. `country` (ISO alpha-2) reads national numbers."""
    text = (raw or "").strip().translate(_STRIP)
    if text.lower() in _WITHHELD:
        return Ani(AniStatus.withheld)
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = text[1:] if text.startswith("+") else text
    if not digits.isdigit() or not digits.isascii() or len(digits) > 17:
        return Ani(AniStatus.invalid)
    candidates = [text] if text.startswith("+") else [text, "+" + text]
    for candidate in candidates:
        number = _parse(candidate, country)
        if number is not None:
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            region = phonenumbers.region_code_for_number(number)
            status = AniStatus.ok if region == country.upper() else AniStatus.foreign
            return Ani(status, e164)
    return Ani(AniStatus.invalid)


def _parse(text: str, country: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, country.upper())
    except phonenumbers.NumberParseException:
        return None
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        # Mexico's old mobile prefix "1" (dropped in 2019); carriers still send it.
        number = phonenumbers.PhoneNumber(country_code=52, national_number=int(national[1:]))
    return number if phonenumbers.is_valid_number(number) else None
