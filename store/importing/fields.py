"""Field parsers shared by the imports: each returns a value or raises
FieldError with a reason a person can act on."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache, partial

import phonenumbers
import pycountry

from store.importing.phone_memo import PhoneReadings, Reading
from store.models import Protection

SUPPORTED_COUNTRIES = ("MX", "CO", "PE", "US")
DEFAULT_CURRENCY = {"MX": "MXN", "CO": "COP", "PE": "PEN", "US": "USD"}


class FieldError(ValueError):
    pass


def parse_country(text: str) -> str:
    code = text.strip().upper()
    if not code:
        raise FieldError("country is required (ISO alpha-2: MX, CO, PE or US)")
    if code not in SUPPORTED_COUNTRIES:
        raise FieldError(
            f"unknown country {text!r}; expected one of {', '.join(SUPPORTED_COUNTRIES)}"
        )
    return code


@lru_cache(maxsize=1024)
def parse_region(text: str, country: str) -> str:
    code = text.strip().upper()
    if not code.startswith(f"{country}-"):
        raise FieldError(
            f"region {text!r} is not a subdivision of {country} "
            f"(use ISO 3166-2, e.g. {country}-{_example_region(country)})"
        )
    if pycountry.subdivisions.get(code=code) is None:
        raise FieldError(f"unknown region {text!r} for {country} (ISO 3166-2 code expected)")
    return code


def _example_region(country: str) -> str:
    return {"MX": "SON", "CO": "DC", "PE": "LIM", "US": "TX"}.get(country, "XX")


MONEY_LIMIT = Decimal("1e12")


def parse_money(text: str, column: str = "amount", allow_zero: bool = True) -> Decimal:
    cleaned = text.strip()
    if not cleaned:
        raise FieldError(f"{column} is required")
    if "," in cleaned:
        raise FieldError(
            f"{column} {text!r}: use a dot for decimals and no thousands separators (e.g. 1234.50)"
        )
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise FieldError(f"{column} {text!r} is not a number") from exc
    if not value.is_finite():
        raise FieldError(f"{column} {text!r} is not a number")
    if value < 0:
        raise FieldError(f"{column} {text!r} is negative")
    if not allow_zero and value == 0:
        raise FieldError(f"{column} must be greater than zero")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise FieldError(f"{column} {text!r} has more than 2 decimals")
    if value >= MONEY_LIMIT:
        raise FieldError(f"{column} {text!r} is too large")
    return value


# Debts are owed in the country's own currency or in dollars (dollar loans are common
# in Peru and exist in Mexico); any other currency in a country's row is a shifted
# column or a file of another country, never a debt to collect as it stands.
FOREIGN_CURRENCY_ALLOWED = "USD"


@lru_cache(maxsize=512)
def parse_currency(text: str, country: str | None = None) -> str:
    code = text.strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise FieldError(f"unknown currency {text[:20]!r} (ISO 4217 code expected, e.g. MXN)")
    own = DEFAULT_CURRENCY.get(country or "")
    if own and code not in (own, FOREIGN_CURRENCY_ALLOWED):
        raise FieldError(
            f"currency {code} is not used for debts in {country} "
            f"(expected {own} or {FOREIGN_CURRENCY_ALLOWED})"
        )
    return code


def parse_date(text: str, column: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise FieldError(f"{column} {text!r} is not a date in YYYY-MM-DD form") from exc


def parse_instant(text: str, column: str) -> datetime:
    """ISO 8601 with an offset; an instant without one is ambiguous and refused."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FieldError(f"{column} {text!r} is not an ISO 8601 date-time") from exc
    if value.tzinfo is None:
        raise FieldError(f"{column} {text!r} has no UTC offset (e.g. 2026-03-01T10:15:00-06:00)")
    return value


# Mexico's dialling prefixes retired in 2019-2020, still in many a creditor's file:
# "+52 1" before a mobile, "044"/"045" before a mobile dialled at home, "01" before
# a long-distance number. Every Mexican number has 10 digits since 2001, so each
# reads one way only (compliance/numbers.py reads "+52 1" the same for registries).
_SEPARATORS = str.maketrans("", "", " -().\t/\u00a0")
_MX_LEGACY = re.compile(r"(?:(?:\+|00)?521|0(?:44|45|1))(\d{10})")


def without_legacy_prefix(text: str, country: str) -> str:
    """The number as it is dialled today (Mexico's retired prefixes dropped)."""
    if country != "MX":
        return text
    found = _MX_LEGACY.fullmatch(text.translate(_SEPARATORS))
    return f"+52{found.group(1)}" if found else text


def parse_phone(text: str, country: str, column: str) -> tuple[str, int]:
    """National or E.164 number -> (E.164, phonenumbers number type)."""
    try:
        kind, valid, e164 = phone_readings(country).read(
            without_legacy_prefix(text.strip(), country)
        )
    except phonenumbers.NumberParseException as exc:
        raise FieldError(f"{column} {text!r} is not a phone number") from exc
    if not valid:
        raise FieldError(f"{column} {text!r} is not a valid number for {country}")
    return e164, kind


def read_phone(text: str, country: str) -> Reading:
    """phonenumbers' reading of a number written for a country (no memo)."""
    number = phonenumbers.parse(text, country)
    # One number_type() call answers both "valid?" and "what type?": it is the
    # expensive part of validation, and a million-row import does it per number.
    kind = phonenumbers.number_type(number)
    valid = kind != phonenumbers.PhoneNumberType.UNKNOWN and (
        number.country_code == _country_code(country)
        and (number.country_code != 1 or phonenumbers.is_valid_number_for_region(number, country))
    )
    return kind, valid, f"+{number.country_code}{phonenumbers.national_significant_number(number)}"


@lru_cache(maxsize=64)
def phone_readings(country: str) -> PhoneReadings:
    """The per-process memo of phonenumbers' readings for a country."""
    return PhoneReadings(country, partial(read_phone, country=country))


@lru_cache(maxsize=64)
def _country_code(country: str) -> int:
    return int(phonenumbers.country_code_for_region(country))


YES = {"yes", "y", "si", "sí", "s", "true", "1"}
NO = {"no", "n", "false", "0"}


# An import's protection cell (compliance/protection.py): empty keeps what the account
# has, `none` clears it, a value sets it.
CLEAR_PROTECTION = "none"
PROTECTIONS = tuple(Protection.__members__)


def parse_protection(text: str) -> str | None:
    """None for an empty cell (keep), CLEAR_PROTECTION for `none`, else the protection."""
    value = text.strip().lower()
    if not value:
        return None
    if value == CLEAR_PROTECTION or value in PROTECTIONS:
        return value
    raise FieldError(
        f"unknown protection {text!r}; expected one of {', '.join(PROTECTIONS)}, "
        f"or {CLEAR_PROTECTION} to clear it (empty keeps what the account has)"
    )


# An import's phone_N_third_party cell: a mark that the number reaches someone who is
# not the debtor (phones.status third_party). Empty keeps what the number has (a
# supervisor's mark survives the next file), `none` clears the mark. "no" is refused:
# a file could mean either, and clearing by mistake would call the third party again.
CLEAR_THIRD_PARTY = "none"
# How much of a refused cell an error repeats: enough to recognise it, never the whole.
CELL_ECHO = 40


def parse_third_party(text: str, column: str) -> bool | None:
    """None for an empty cell (keep), False for `none` (clear), True for yes (mark)."""
    value = text.strip().lower()
    if not value:
        return None
    if value == CLEAR_THIRD_PARTY:
        return False
    if value in YES:
        return True
    shown = text.strip()
    more = f" (of {len(shown)} characters)" if len(shown) > CELL_ECHO else ""
    raise FieldError(
        f"{column}: unknown value {shown[:CELL_ECHO]!r}{more}; expected yes (the number "
        "reaches someone who is not the debtor), "
        f"{CLEAR_THIRD_PARTY} to clear a mark, or empty to keep it"
    )


def parse_yes_no(text: str, column: str) -> bool:
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise FieldError(f"{column} {text!r} must be yes or no")
