"""Money as a person reads it: one formatter, below every layer that shows an amount
(the console's pages, the debtor's assistant, the legal dossier)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cobrador.ground import money_words
from cobrador.ground.money_words import MoneyFormat, money_format


@pytest.mark.parametrize(
    ("country", "currency", "shown"),
    [("MX", "MXN", "$12,500.00 MXN"), ("CO", "COP", "$12.500,00 COP"),
     ("PE", "PEN", "S/\u00a012,500.00 PEN"), ("US", "USD", "$12,500.00 USD")],
)  # fmt: skip
def test_given_an_account_country_when_an_amount_is_shown_then_its_notation_and_currency(
    country: str, currency: str, shown: str
) -> None:
    assert money_format(country, currency).show(Decimal("12500")) == shown


def test_given_no_country_then_mexican_notation_never_an_error() -> None:
    assert money_format("", "mxn") == MoneyFormat("es_MX", "MXN")
    assert money_format(None, None).locale == "es_MX"
    assert MoneyFormat("xx_nope", "MXN").show(Decimal("1.5")) == "1.50 MXN"


def test_given_the_console_and_the_assistant_then_they_use_this_formatter_not_a_copy() -> None:
    from console import money
    from selfservice import assistant

    assert money.money_format is money_words.money_format
    assert money.MoneyFormat is money_words.MoneyFormat
    assert "format_currency" not in vars(assistant)
