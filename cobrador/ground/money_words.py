"""Money as a person reads it, in the account's country and currency: the one
formatter of the console's pages, the debtor's portal and assistant, and the legal
dossier.

Babel's CLDR data says which symbol separates thousands and which decimals
(Colombia: $1.500,50 COP; Mexico: $1,500.50 MXN; Peru: S/ 1,500.50 PEN). Decimal
only, never float. Machine fields (JSON, exports) keep plain amounts ("1500.50").
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal, get_decimal_symbol, get_group_symbol

EXAMPLE = Decimal("2450.00")
FALLBACK_LOCALE = "es_MX"


@dataclass(frozen=True)
class MoneyFormat:
    locale: str  # e.g. es_MX
    currency: str  # ISO 4217

    @property
    def decimal(self) -> str:
        return str(get_decimal_symbol(self.locale))

    @property
    def group(self) -> str:
        return str(get_group_symbol(self.locale))

    @property
    def example(self) -> str:
        return self.typed(EXAMPLE)

    def typed(self, amount: Decimal) -> str:
        """How a person of this country types the amount ("2,450.00", "2.450,00")."""
        return str(format_decimal(amount, format="#,##0.00", locale=self.locale))

    def show(self, amount: Decimal) -> str:
        """ "$2,450.00 MXN": the local symbol, every cent, and the code (symbols repeat:
        "$" is the peso of Mexico and of Colombia)."""
        try:
            symbol = format_currency(
                amount, self.currency, locale=self.locale, currency_digits=False
            )
        except (ValueError, LookupError, UnknownLocaleError):  # a locale CLDR does not know
            symbol = f"{amount:.2f}"
        return f"{symbol} {self.currency}".strip()

    def as_dict(self) -> dict[str, str]:
        return {"locale": self.locale, "currency": self.currency, "decimal": self.decimal,
                "group": self.group, "example": self.example}  # fmt: skip


def money_format(country: str | None, currency: str | None) -> MoneyFormat:
    """Spanish of the account's country (es_MX, es_CO, es_PE...); English for the US;
    Mexico's Spanish for a country CLDR does not know."""
    country = (country or "").upper()
    for name in (f"es_{country}", f"en_{country}"):
        try:
            Locale.parse(name)
        except (UnknownLocaleError, ValueError):
            continue
        return MoneyFormat(name, (currency or "").upper())
    return MoneyFormat(FALLBACK_LOCALE, (currency or "").upper())
