"""Money as an agent types it, in the account's country and currency; how it is
shown is cobrador/ground/money_words.py's (one formatter for every page and the
legal dossier).

Parsing is strict and refuses what could mean two amounts ("2.450" in Mexico: 2.45
or 2450?) with a Spanish reason instead of guessing. Decimal only, never float.
Pure: no I/O.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import NumberFormatError, get_currency_symbol, parse_decimal

from cobrador.ground.money_words import MoneyFormat, money_format
from console.i18n import N_, FilledMessage

__all__ = ["MoneyError", "MoneyFormat", "money_format", "parse_amount"]

MAX_INPUT = 32
CENT = Decimal("0.01")


class MoneyError(FilledMessage):
    """A Spanish msgid with {texto}, {moneda}, {miles}, {decimales}, {ejemplo} filled in."""


def parse_amount(raw: str, fmt: MoneyFormat) -> Decimal:
    """The amount typed by the agent; MoneyError (with the reason) when it is not one
    number in this currency's notation, has more than two decimals or could be read two ways."""
    text = raw.strip().replace("\u00a0", " ")
    fill = {"texto": text[:MAX_INPUT], "moneda": fmt.currency, "miles": fmt.group,
            "decimales": fmt.decimal, "ejemplo": fmt.example}  # fmt: skip
    if fmt.currency and text.upper().endswith(fmt.currency):
        text = text[: -len(fmt.currency)].strip()
    for symbol in (str(get_currency_symbol(fmt.currency, locale=fmt.locale)), "$"):
        if symbol and text.startswith(symbol):
            text = text[len(symbol) :].strip()
    if not text:
        raise MoneyError(N_("Escriba el monto (por ejemplo {ejemplo})."), fill)
    if len(text) > MAX_INPUT or any(c not in "0123456789" + fmt.decimal + fmt.group for c in text):
        raise MoneyError(
            N_("Escriba solo cifras, «{miles}» para los miles y «{decimales}» para los "
               "centavos, por ejemplo {ejemplo}."),
            fill,
        )  # fmt: skip
    whole, sep, cents = text.rpartition(fmt.decimal)
    if sep and fmt.group not in text and len(cents) == 3 and text.count(fmt.decimal) == 1:
        # "2.450" in MXN, "1,500" in COP: thousands written the other country's way, or
        # three decimals? Never guess an amount someone will be asked to pay.
        raise MoneyError(
            N_("«{texto}» es ambiguo: en {moneda} «{decimales}» separa los centavos y "
               "«{miles}» los miles. Escríbalo así: {ejemplo}."),
            fill,
        )  # fmt: skip
    try:
        amount = parse_decimal(text, locale=fmt.locale, strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        raise MoneyError(
            N_(
                "«{texto}» no es un monto en {moneda}: «{miles}» separa los miles (de tres en "
                "tres) y «{decimales}» los centavos, por ejemplo {ejemplo}."
            ),
            fill,
        ) from None
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise MoneyError(N_("Escriba el monto (por ejemplo {ejemplo})."), fill)
    if amount != amount.quantize(CENT):
        raise MoneyError(N_("El monto admite como máximo dos decimales."), fill)
    return amount.quantize(CENT)
