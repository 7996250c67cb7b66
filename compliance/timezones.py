"""The debtor's possible time zones: explicit zone > region > the number's prefix.

IANA zones through zoneinfo only (DST and Mexico's 2022 changes come from
tzdata); several candidates mean the call must fit every one of them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType
from phonenumbers import timezone as pn_timezone
from phonenumbers.phonenumberutil import is_number_type_geographical

from compliance.profile import PROFILES_DIR


@dataclass(frozen=True)
class Zones:
    zones: tuple[ZoneInfo, ...]
    source: str  # account | region | country | number | none

    @property
    def names(self) -> str:
        return ",".join(z.key for z in self.zones)


@lru_cache(maxsize=1)
def _region_table() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    with (PROFILES_DIR / "regions.toml").open("rb") as fh:
        data = tomllib.load(fh)
    regions = {k.upper(): tuple(v) for k, v in data["zones"].items()}
    countries = {k.upper(): tuple(v) for k, v in data["countries"].items()}
    return regions, countries


@lru_cache(maxsize=1)
def _prefix_table() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """regions.toml [number_prefixes]: zones a number's E.164 prefix adds."""
    with (PROFILES_DIR / "regions.toml").open("rb") as fh:
        table = tomllib.load(fh).get("number_prefixes", {})
    return tuple((k, tuple(v)) for k, v in table.items() if k.startswith("+"))


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    """A ZoneInfo for a real IANA name; None for anything else (including fixed offsets)."""
    if not name or "/" not in name or name.startswith(("Etc/", "UTC", "GMT")):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def region_zones(country: str, region: str | None) -> tuple[ZoneInfo, ...]:
    regions, countries = _region_table()
    country = (country or "").upper()
    if region:
        code = region.strip().upper()
        if "-" not in code and country:
            code = f"{country}-{code}"
        names = regions.get(code)
        if names is None and code[:2] in countries:
            names = countries[code[:2]]
        if names:
            return tuple(z for z in (zone(n) for n in names) if z is not None)
    return ()


@lru_cache(maxsize=64)
def country_zones(country: str) -> tuple[ZoneInfo, ...]:
    """Every zone of a country: its single zone, else the zones of all its regions
    (Mexico: from Tijuana to Cancún), in the table's order; empty when unknown."""
    regions, countries = _region_table()
    code = (country or "").strip().upper()
    if not code:
        return ()
    names = list(countries.get(code, ()))
    for region, zones in regions.items():
        if region.startswith(f"{code}-"):
            names += [n for n in zones if n not in names]
    return tuple(z for z in (zone(n) for n in names) if z is not None)


def _build_number(e164: str) -> phonenumbers.PhoneNumber | None:
    """A PhoneNumber from canonical E.164 text; cheaper than phonenumbers.parse."""
    digits = e164[1:]
    if not e164.startswith("+") or not digits.isdigit() or not digits.isascii():
        return None
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            if not national or national.startswith("0"):
                break  # leading zeros need parse's handling (e.g. Italy)
            return phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None


@lru_cache(maxsize=200_000)
def number_info(e164: str) -> tuple[bool, tuple[str, ...]]:
    """(valid, candidate zone names) for an E.164 number, from phonenumbers' metadata."""
    parsed = _build_number(e164)
    if parsed is None:
        return False, ()
    # number_type() is what is_valid_number() and time_zones_for_number() both
    # compute first; computing it once halves the cost of a number seen the first time.
    ntype = phonenumbers.number_type(parsed)
    if ntype == PhoneNumberType.UNKNOWN:
        return False, ()
    if is_number_type_geographical(ntype, parsed.country_code or 0):
        found = list(pn_timezone.time_zones_for_geographical_number(parsed))
    else:
        found = list(pn_timezone.time_zones_for_number(parsed))
    for prefix, extra in _prefix_table():
        if e164.startswith(prefix):  # metadata that lags a change of the law: add, never replace
            found += [n for n in extra if n not in found]
    return True, tuple(n for n in found if zone(n) is not None)


@lru_cache(maxsize=200_000)
def resolve_zones(
    account_timezone: str | None, country: str, region: str | None, e164: str
) -> Zones:
    """Candidate zones of the debtor, strongest source first; no candidate -> Zones((), 'none')."""
    if account_timezone:
        # An explicit zone wins; an unusable one is not silently replaced by weaker data.
        explicit = zone(account_timezone)
        return Zones((explicit,), "account") if explicit else Zones((), "none")
    from_region = region_zones(country, region)
    if from_region:
        return Zones(from_region, "region")
    _, countries = _region_table()
    if country and country.upper() in countries:
        single = tuple(z for z in (zone(n) for n in countries[country.upper()]) if z)
        if single:
            return Zones(single, "country")
    _, names = number_info(e164)
    zones = tuple(z for z in (zone(n) for n in names) if z is not None)
    return Zones(zones, "number") if zones else Zones((), "none")
