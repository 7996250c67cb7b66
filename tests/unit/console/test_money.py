"""Money as agents type it: the account country's notation (babel), strict, never guessed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from console.money import MoneyError, money_format, parse_amount

MX = money_format("MX", "MXN")
CO = money_format("CO", "COP")
PE = money_format("PE", "PEN")


@pytest.mark.parametrize(
    ("fmt", "typed", "amount"),
    [
        (CO, "1.500,50", Decimal("1500.50")),
        (CO, "1.500", Decimal("1500.00")),
        (CO, "1500,5", Decimal("1500.50")),
        (CO, "$ 2.450 COP", Decimal("2450.00")),
        (MX, "2,450.00", Decimal("2450.00")),
        (MX, "1,500", Decimal("1500.00")),
        (MX, "2450", Decimal("2450.00")),
        (MX, "$2,450.50 MXN", Decimal("2450.50")),
        (MX, "12.5", Decimal("12.50")),
        (PE, "1,500.50", Decimal("1500.50")),  # CLDR es_PE: "." for decimals
    ],
)
def test_given_the_account_notation_when_typed_then_the_exact_decimal(fmt, typed, amount):
    got = parse_amount(typed, fmt)
    assert got == amount and isinstance(got, Decimal) and str(got) == str(amount)


@pytest.mark.parametrize(
    ("fmt", "typed", "reason"),
    [
        (MX, "2.450", "ambiguo"),  # 2.45 or 2450? never stored as 2.45
        (CO, "1,500", "ambiguo"),
        (MX, "1,5", "no es un monto"),  # was stored as 15
        (MX, "1.500,50", "no es un monto"),
        (CO, "2,450.00", "no es un monto"),
        (MX, "2.4501", "dos decimales"),
        (MX, "", "Escriba el monto"),
        (MX, "dos mil", "solo cifras"),
        (MX, "1e3", "solo cifras"),
        (MX, "-5", "solo cifras"),
        (MX, "9" * 40, "solo cifras"),
    ],
)
def test_given_ambiguous_or_malformed_amount_when_typed_then_refused_with_a_reason(
    fmt, typed, reason
):
    with pytest.raises(MoneyError) as err:
        parse_amount(typed, fmt)
    assert reason in err.value.render()


def test_given_an_amount_when_read_back_then_symbol_cents_and_currency():
    assert MX.show(Decimal("2450")) == "$2,450.00 MXN"
    assert CO.show(Decimal("1500.50")) == "$1.500,50 COP"  # COP cents are not rounded away
    assert PE.show(Decimal("1500.5")) == "S/\u00a01,500.50 PEN"
    assert parse_amount("S/ 1,500.50", PE) == Decimal("1500.50")
    assert MX.example == "2,450.00" and CO.example == "2.450,00"
    for fmt in (MX, CO, PE):  # what an agent types is read back as the same amount
        assert parse_amount(fmt.typed(Decimal("1234567.5")), fmt) == Decimal("1234567.50")
    assert "«.»" in parse_err(MX, "2.450") and "2,450.00" in parse_err(MX, "2.450")


def parse_err(fmt, typed):  # type: ignore[no-untyped-def]
    with pytest.raises(MoneyError) as err:
        parse_amount(typed, fmt)
    return err.value.render()
