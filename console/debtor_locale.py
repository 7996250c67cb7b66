"""How the console words dates, times and zones for a person: the portal's debtor, and
the agent who reads them aloud to one (in the account's Spanish: es_MX, es_CO, es_PE,
babel's CLDR data; or in English when the person picks it). Dates as people write
them ("1 de septiembre de 2026"), times with the city of their zone (`zone_label`:
the one way every page names a zone, never its IANA id), sizes in the locale's
digits; a typed date is read only when it cannot mean two days (the reason
otherwise, in Spanish msgids). Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal

from cobrador.ground.shown_time import clock, day_and_clock, in_zone
from cobrador.ground.zone_names import zone_city
from compliance.debtor_time import stamp as zone_stamp
from console.i18n import N_, FilledMessage, current_language, gettext_
from console.money import money_format

KB = 1024
MAX_TYPED = 40  # characters of a typed date read
EXAMPLE_DAY = date(2026, 12, 5)
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{2,4})")


UNKNOWN_ZONE = N_("zona horaria desconocida")
DAYS_BETWEEN = N_("Elija una fecha entre el {desde} y el {hasta}.")
ONE_DAY = N_("Elija el {desde}.")


def zone_label(zone: ZoneInfo | None, locale: str) -> str:
    """A zone as a person names it, in ``locale``: its city ("Ciudad de México",
    "Bogotá", "Lima", "Mexico City" in English); "UTC" for UTC; never the IANA id."""
    if zone is None:
        return gettext_(UNKNOWN_ZONE)
    return zone_city(zone, locale)


class DateTyped(FilledMessage):
    """A typed date that cannot be read as one day: a Spanish msgid with {texto},
    {formato}, {ejemplo}, {a}, {b} filled in where it is shown (translated)."""


@dataclass(frozen=True)
class DebtorLocale:
    locale: str  # a babel locale: es_MX, es_CO, es_PE... or en

    @property
    def english(self) -> bool:
        return self.locale.startswith("en")

    @property
    def date_pattern(self) -> str:
        """How a date is typed where the browser has no date picker."""
        return "dd/mm/yyyy" if self.english else "dd/mm/aaaa"

    def day(self, d: date) -> str:
        """ "1 de septiembre de 2026" (es_MX), "1 de setiembre de 2026" (es_PE),
        "September 1, 2026" (en)."""
        return str(format_date(d, "long", locale=self.locale))

    def moment(self, at: datetime, zone: ZoneInfo) -> str:
        """An instant as the debtor's clock shows it: "mar, 24 de nov, 14:00" (the zone
        is said once, beside it: `zone_name`). The 24-hour clock of every time the
        server renders (cobrador/ground/shown_time.py: `clock`, `when`, `stamp`, the
        assistant's replies), in English too: one page never mixes "2:00 p. m." with
        "14:00"."""
        local = in_zone(at, zone)
        when = format_skeleton("MMMEd", local, locale=self.locale)
        return f"{when}, {clock(local, zone, self.locale)}"

    def clock(self, at: datetime, zone: ZoneInfo | None) -> str:
        """The time of day on ``zone``'s clock (UTC when unknown): "14:05", the zone
        said beside it (`zone_name`, `zones_name`)."""
        return clock(at, zone or ZoneInfo("UTC"), self.locale)

    def when(self, at: datetime | None, zone: ZoneInfo | None, *, day: bool = True) -> str:
        """A time with its zone, as one string a person reads: "6 dic 2026, 14:05
        (Ciudad de México)"; ``day=False``: "14:05 (Ciudad de México)"; "" for none.
        With no zone known, the time in UTC said as such ("… (UTC)")."""
        if at is None:
            return ""
        zone = zone or ZoneInfo("UTC")
        shown = day_and_clock(at, zone, self.locale) if day else clock(at, zone, self.locale)
        return f"{shown} ({self.zone_name(zone)})"

    def utc(self, at: datetime | str | None) -> str:
        """A UTC moment for a column that says "(UTC)": "6 dic 2026, 14:05:33" (the
        seconds are evidence); an ISO string is read; "" for none; a string that is not
        a time as it is."""
        if isinstance(at, str):
            try:
                moment = datetime.fromisoformat(at) if at else None
            except ValueError:
                return at
        else:
            moment = at
        if moment is None:
            return ""
        return day_and_clock(moment, ZoneInfo("UTC"), self.locale, seconds=True)

    def zone_name(self, zone: ZoneInfo | None) -> str:
        """The zone as a person names it: its city ("Ciudad de México", "Bogotá")."""
        return zone_label(zone, self.locale)

    def zones_name(self, zones: Iterable[ZoneInfo]) -> str:
        """Every candidate zone, strongest first ("Ciudad de México, Cancún"); when
        none is known, says so (never "UTC?")."""
        names = list(dict.fromkeys(self.zone_name(z) for z in zones))
        return ", ".join(names) if names else self.zone_name(None)

    def allowed_days(self, first: date, last: date | None) -> str:
        """The days a date input allows, in words (its min and max tell only the
        browser): "Elija una fecha entre el 24 de noviembre de 2026 y el 9 de diciembre
        de 2026"; one day: "Elija el 24 de noviembre de 2026"; no range (no last day, or
        it comes before the first): empty."""
        if last is None or last < first:
            return ""
        words = gettext_(ONE_DAY if last == first else DAYS_BETWEEN)
        return words.replace("{desde}", self.day(first)).replace("{hasta}", self.day(last))

    def day_short(self, d: date) -> str:
        """ "6 dic 2026" (es_MX), "Dec 6, 2026" (en): a date in a list or table."""
        return str(format_date(d, "medium", locale=self.locale))

    def stamp(self, at: datetime | None, zones: tuple[ZoneInfo, ...]) -> dict[str, Any]:
        """compliance's stamp (``local`` as ISO for machines, ``zone`` its IANA id) plus
        what a person reads: ``shown`` ("6 dic 2026, 14:05": the 24-hour clock of the
        agent page's "hora local del deudor") and ``zone_label`` ("Ciudad de México")."""
        out = zone_stamp(at, zones)
        if at is None:
            return {**out, "shown": "", "zone_label": ""}
        zone = zones[0] if zones else ZoneInfo("UTC")
        shown = day_and_clock(at, zone, self.locale)
        return {**out, "shown": shown, "zone_label": self.zone_name(zone)}

    def read_day(self, raw: str) -> date:
        """The day a debtor typed: ISO (what a date picker posts) or day/month/year
        (the Spanish of Mexico, Colombia and Peru: always day first); in English a
        numeric date that could be day/month or month/day is refused (DateTyped says
        how to write it), never guessed. DateTyped for anything that is not one day."""
        text = "".join(c for c in raw[:MAX_TYPED] if c.isprintable()).strip()
        example = EXAMPLE_DAY.strftime("%d/%m/%Y")
        fill = {"texto": text, "formato": self.date_pattern, "ejemplo": example}
        if not text:
            raise DateTyped(N_("Elija una fecha."), fill)
        iso = _ISO.fullmatch(text)
        numeric = _NUMERIC.fullmatch(text)
        try:
            if iso:
                return date(int(iso[1]), int(iso[2]), int(iso[3]))
            if numeric:
                first, second, year = int(numeric[1]), int(numeric[2]), numeric[3]
                if len(year) != 4:
                    raise DateTyped(N_("Escriba el año con sus cuatro cifras, por ejemplo "
                                       "{ejemplo}."), fill)  # fmt: skip
                if self.english and first <= 12 and second <= 12 and first != second:
                    a, b = date(int(year), second, first), date(int(year), first, second)
                    raise DateTyped(
                        N_("«{texto}» puede ser el {a} o el {b}: escríbala como año-mes-día, "
                           "por ejemplo {iso}."),
                        {**fill, "a": self.day(a), "b": self.day(b), "iso": a.isoformat()},
                    )  # fmt: skip
                if self.english and second > 12 >= first:  # month/day, as in the US
                    return date(int(year), first, second)
                return date(int(year), second, first)
        except DateTyped:
            raise
        except ValueError:
            pass  # a day that does not exist (31/02)
        raise DateTyped(N_("«{texto}» no es una fecha: escríbala como {formato}, por ejemplo "
                           "{ejemplo}."), fill)  # fmt: skip

    def size(self, size_bytes: int) -> str:
        """A file's size a person reads: "17 bytes", "1.5 KB", "2,3 MB" (the locale's
        decimal sign), never "0.0 KB" for a small file."""
        n = max(0, int(size_bytes))
        if n < KB:  # "byte" in Spanish and in English alike
            return f"{format_decimal(n, locale=self.locale)} {'byte' if n == 1 else 'bytes'}"
        value, unit = (n / KB, "KB") if n < KB * KB else (n / (KB * KB), "MB")
        return f"{format_decimal(value, format='#,##0.#', locale=self.locale)} {unit}"


def debtor_locale(country: str, lang: str) -> DebtorLocale:
    """English when the debtor chose it; else the Spanish of the account's country."""
    if lang == "en":
        return DebtorLocale("en")
    return DebtorLocale(money_format(country, "").locale)


def spoken_locale(country: str) -> DebtorLocale:
    """What an agent reads to the debtor of ``country``: in the console's language
    (console/i18n.py's current one), the Spanish of the debtor's country ("6 de
    setiembre" in Peru), or English."""
    return debtor_locale(country, current_language())


def console_locale() -> DebtorLocale:
    """How a page with no account (the supervisor's) words dates and zones: the
    console's language, Mexican Spanish by default."""
    return debtor_locale("MX", current_language())
