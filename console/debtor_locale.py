"""How the portal shows things to a debtor and reads what they type: in the account's
Spanish (es_MX, es_CO, es_PE: babel's CLDR data) or in English when the debtor picks
it. Dates as people write them ("1 de septiembre de 2026"), times with the city of
their zone, sizes in the locale's digits; a typed date is read only when it cannot
mean two days (the reason otherwise, in Spanish msgids). Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time, get_timezone_location
from babel.numbers import format_decimal

from console.i18n import N_, FilledMessage
from console.money import money_format

KB = 1024
MAX_TYPED = 40  # characters of a typed date read
EXAMPLE_DAY = date(2026, 12, 5)
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{2,4})")


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
        """An instant as the debtor's clock shows it: "mar, 24 de nov, 2:00 p. m."
        (the zone is said once, beside it: `zone_name`)."""
        local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)
        when = format_skeleton("MMMEd", local, locale=self.locale)
        return f"{when}, {format_time(local, 'short', locale=self.locale)}"

    def zone_name(self, zone: ZoneInfo) -> str:
        """The zone as a person names it: its city ("Ciudad de México", "Bogotá")."""
        return str(get_timezone_location(zone, locale=self.locale, return_city=True))

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
