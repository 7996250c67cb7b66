"""How the portal shows things to a debtor: in the account's Spanish (es_MX, es_CO,
es_PE: babel's CLDR data) or in English when the debtor picks it. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import format_decimal

from console.money import money_format

KB = 1024


@dataclass(frozen=True)
class DebtorLocale:
    locale: str  # a babel locale: es_MX, es_CO, es_PE... or en

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
