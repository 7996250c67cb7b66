"""Days and amounts as debtors write them (selfservice/reading.py): every reading that
could book a wrong promise is unclear instead, and asked for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfservice.reading import AmountReading, DayReading, day_reading, read_amount

TODAY = date(2026, 12, 7)  # a Monday
D = Decimal
UNCLEAR_AMOUNT = AmountReading(None, unclear=True)
UNCLEAR_DAY = DayReading(None, unclear=True)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("dos mil quinientos", D(2500)), ("mil quinientos", D(1500)), ("mil 500", D(1500)),
        ("2 mil 500", D(2500)), ("2 mil quinientos", D(2500)), ("quinientos soles", D(500)),
        ("ciento veinte mil", D(120000)), ("treinta y cinco mil", D(35000)),
        ("doscientos cincuenta mil trescientos", D(250300)), ("mil pesos", D(1000)),
        ("$2.500", D(2500)), ("2,500.00", D(2500)), ("2.500,00", D(2500)), ("$1,500", D(1500)),
        ("1.500.000 pesos", D(1500000)), ("$1,500.50", D("1500.50")), ("1500.5 pesos", D("1500.50")),
        ("2k", D(2000)), ("2.5k", D(2500)), ("1,5 mil", D(1500)), ("$1.5 mil", D(1500)),
        ("un millon", D(1000000)), ("medio millón", D(500000)),
        ("un millón y medio", D(1500000)), ("S/ 1,200.00", D(1200)), ("s/.500", D(500)),
        ("te pago 800 el viernes", D(800)), ("1200 varos", D(1200)),
        ("pago 2 cuotas de 1500", D(1500)), ("MIL QUINIENTOS PESOS", D(1500)),
    ],
)  # fmt: skip
def test_given_an_amount_as_written_then_its_value(text: str, amount: Decimal) -> None:
    assert read_amount(text) == AmountReading(amount.quantize(D("0.01")))


@pytest.mark.parametrize(
    ("text", "currency", "amount"),
    [("200 lucas", "COP", D(200000)), ("50 lucas", "PEN", D(50)), ("una luca", "PEN", D(1)),
     ("2 palos", "COP", D(2000000)), ("20 barras", "COP", D(20000))],
)  # fmt: skip
def test_given_money_slang_then_read_in_the_accounts_country(
    text: str, currency: str, amount: Decimal
) -> None:
    assert read_amount(text, currency=currency).amount == amount


@pytest.mark.parametrize("text", ["200 lucas", "2 palos", "20 barras"])
def test_given_slang_of_another_country_then_unclear_never_a_guess(text: str) -> None:
    assert read_amount(text, currency="MXN") == UNCLEAR_AMOUNT
    assert read_amount(text) == UNCLEAR_AMOUNT


@pytest.mark.parametrize(
    "text",
    [
        "-500 pesos", "entre 500 y 800", "500 o 600 pesos", "500-800", "unos 500 pesos",
        "como 2 mil", "mil y pico", "mas o menos 3 mil", "100 dolares", "50 usd",
        "9" * 40 + " pesos", "12.5000", "mil mil", "3 de los 5 mil",
        "te pago 500 y luego 300", "2500 pesos mas 300 de intereses",
    ],
)  # fmt: skip
def test_given_an_amount_that_reads_two_ways_or_none_then_unclear(text: str) -> None:
    assert read_amount(text) == UNCLEAR_AMOUNT


@pytest.mark.parametrize(
    "text",
    [
        "2 mil 3 mil", "dos mil tres mil", "mil dos mil", "2k 3k", "2k 3 mil", "2 mil y 3 mil",
        "2 mil 500 mil", "mil quinientos mil", "mil mil quinientos", "500 600", "1500 2000",
        "trescientos doscientos", "quinientos seiscientos", "1 millon 2 millones",
        "500 500", "1 500", "500 y 500", "500 mas 500", "quinientos y quinientos",
        "te pago 2 mil 3 mil el viernes",
    ],
)  # fmt: skip
def test_given_two_amounts_run_together_then_unclear_never_their_sum(text: str) -> None:
    # "2 mil 3 mil" is 2,000 and 3,000 or 5,000; "500 500" may be 500,500 written with a
    # space; "500 y 500" 1,000 or 500 twice: asked, never added up.
    assert read_amount(text) == UNCLEAR_AMOUNT
    assert read_amount(text, bare=True) == UNCLEAR_AMOUNT


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("un millon 500 mil", D(1500000)), ("dos millones quinientos mil", D(2500000)),
        ("mil millones", D(1000000000)), ("dos mil millones", D(2000000000)),
        ("ciento veinticinco", D(125)), ("mil novecientos noventa y nueve", D(1999)),
        ("mil y 500", D(1500)), ("500, si 500", D(500)), ("pago 500 y ya", D(500)),
    ],
)  # fmt: skip
def test_given_one_amount_in_several_words_then_one_amount(text: str, amount: Decimal) -> None:
    assert read_amount(text) == AmountReading(amount.quantize(D("0.01")))


def test_given_colombian_slang_after_a_larger_unit_then_one_amount() -> None:
    assert read_amount("2 palos 500 lucas", currency="COP").amount == D(2500000)
    assert read_amount("2 lucas 3 mil", currency="COP") == UNCLEAR_AMOUNT


@pytest.mark.parametrize(
    "text",
    [
        "el 15", "el viernes", "a las 5 de la tarde", "el 50% el viernes", "folio 883921",
        "mi cel 5512345678", "te pago una parte", "en 3 dias", "15/12", "15 de diciembre",
        "dentro de 2 semanas", "en dos partes", "15", "la mitad", "",
    ],
)  # fmt: skip
def test_given_no_amount_then_none(text: str) -> None:
    assert read_amount(text) == AmountReading(None)


def test_given_how_much_was_asked_then_a_bare_number_counts_and_zero_is_zero() -> None:
    assert read_amount("15", bare=True).amount == D("15.00")
    assert read_amount("0", bare=True).amount == D("0.00")
    assert read_amount("0 pesos").amount == D("0.00")  # the dialogue refuses it
    assert read_amount("-15", bare=True) == UNCLEAR_AMOUNT
    assert read_amount("el 15", bare=True).amount is None  # a day, not an amount


def test_given_an_absurd_amount_then_its_value_and_the_dialogue_bounds_it() -> None:
    assert read_amount("999999999999 pesos").amount == D("999999999999.00")
    assert read_amount("9999999999999 pesos") == UNCLEAR_AMOUNT


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("mañana", date(2026, 12, 8)), ("MAÑANA SIN FALTA", date(2026, 12, 8)),
        ("pasado mañana", date(2026, 12, 9)), ("mañana en la mañana", date(2026, 12, 8)),
        ("el viernes en la mañana", date(2026, 12, 11)), ("por la mañana", None),
        ("hoy no puedo, mañana", date(2026, 12, 8)),
        ("mañana, no, el viernes", date(2026, 12, 11)), ("hoy mismo", date(2026, 12, 7)),
        ("el 15 de dic", date(2026, 12, 15)), ("15 dic", date(2026, 12, 15)),
        ("dic 15", date(2026, 12, 15)), ("el 5 de enero", date(2027, 1, 5)),
        ("5 de ene", date(2027, 1, 5)), ("15/12", date(2026, 12, 15)),
        ("15/01", date(2027, 1, 15)), ("15-12-2026", date(2026, 12, 15)),
        ("el 15", date(2026, 12, 15)), ("el 3", date(2027, 1, 3)), ("el dia 20", date(2026, 12, 20)),
        ("el lunes 14", date(2026, 12, 14)), ("el viernes de la próxima semana", date(2026, 12, 18)),
        ("el lunes de la semana que viene", date(2026, 12, 14)), ("el sábado", date(2026, 12, 12)),
        ("el proximo viernes", date(2026, 12, 11)), ("en 3 días", date(2026, 12, 10)),
        ("dentro de 2 semanas", date(2026, 12, 21)), ("en una semana", date(2026, 12, 14)),
        ("fin de mes", date(2026, 12, 31)), ("a fines de mes", date(2026, 12, 31)),
        ("la quincena", date(2026, 12, 15)), ("$2.500.000 el 30", date(2026, 12, 30)),
        ("S/ 1,200.00 el 20 de diciembre", date(2026, 12, 20)), ("el 50% el viernes", date(2026, 12, 11)),
        ("on friday", date(2026, 12, 11)), ("tomorrow", date(2026, 12, 8)),
        ("the day after tomorrow", date(2026, 12, 9)), ("on the 15th", date(2026, 12, 15)),
        ("dec 15", date(2026, 12, 15)), ("la próxima semana", None), ("a las 5 de la tarde", None),
        ("te pago 2 mil", None), ("en unos días", None), ("", None),
    ],
)  # fmt: skip
def test_given_a_day_as_written_then_that_day(text: str, day: date | None) -> None:
    assert day_reading(text, TODAY) == DayReading(day)


@pytest.mark.parametrize(
    "text",
    [
        "el otro viernes", "el otro lunes", "el viernes 14", "el viernes pasado",
        "31 de febrero", "el 31/02", "30/02/2027", "el 0", "el 45", "el 12 o 13",
        "hoy o mañana", "mañana o pasado", "el viernes o el sabado", "el 15 y el 30",
        "en ocho dias", "en quince dias", "en unos 3 dias", "la otra quincena",
    ],
)  # fmt: skip
def test_given_a_day_that_reads_two_ways_or_none_then_unclear(text: str) -> None:
    assert day_reading(text, TODAY) == UNCLEAR_DAY


def test_given_a_day_missing_from_this_month_then_unclear() -> None:
    assert day_reading("el 31", date(2026, 11, 20)) == UNCLEAR_DAY  # November has 30
    assert day_reading("el 31", date(2026, 12, 7)).day == date(2026, 12, 31)


def test_given_day_and_month_both_twelve_or_less_then_unclear_when_both_are_near() -> None:
    # 1 Jan: "1/2" is 1 Feb day first, 2 Jan month first: both within weeks.
    assert day_reading("1/2", date(2027, 1, 1)) == UNCLEAR_DAY
    # 7 Dec: "10/12" month first is 12 Oct, ten months away: day first it is.
    assert day_reading("10/12", TODAY).day == date(2026, 12, 10)
    # "05/06" is June 5 (months away; the dialogue refuses it), May 6 is as far.
    assert day_reading("05/06", TODAY).day == date(2027, 6, 5)


def test_given_a_date_gone_by_with_its_year_then_that_date_for_the_dialogue_to_refuse() -> None:
    assert day_reading("10/11/2026", TODAY).day == date(2026, 11, 10)
    assert day_reading("10/11", TODAY).day == date(2027, 11, 10)  # no year: the next one


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("el 15 de enero de 2027", date(2027, 1, 15)), ("el 15 de enero del 2027", date(2027, 1, 15)),
        ("15 de enero 2027", date(2027, 1, 15)), ("enero 15, 2027", date(2027, 1, 15)),
        ("January 15, 2027", date(2027, 1, 15)), ("January 15th, 2027", date(2027, 1, 15)),
        ("the 15th of January 2027", date(2027, 1, 15)), ("15 January 2027", date(2027, 1, 15)),
        ("15/01/27", date(2027, 1, 15)), ("15-01-2027", date(2027, 1, 15)),
        ("el viernes 15 de enero de 2027", date(2027, 1, 15)),
        ("el viernes 15 de enero", date(2027, 1, 15)),
        # Gone by or far, as written: the dialogue refuses them with a reason.
        ("el 15 de enero de 2026", date(2026, 1, 15)), ("el 20 de diciembre de 2025", date(2025, 12, 20)),
        ("15/01/26", date(2026, 1, 15)), ("el 15 de enero de 2028", date(2028, 1, 15)),
    ],
)  # fmt: skip
def test_given_a_date_with_its_year_then_that_year_never_another(text: str, day: date) -> None:
    # Before, a year after a month's name was dropped: "el 15 de enero de 2026" read as
    # 15 January 2027 (the next one), a date the debtor did not write.
    assert day_reading(text, TODAY) == DayReading(day)


@pytest.mark.parametrize(
    "text",
    ["el 31 de febrero de 2027", "el jueves 15 de enero de 2027", "el 29 de febrero de 2027"],
)
def test_given_a_date_with_its_year_that_does_not_exist_then_unclear(text: str) -> None:
    assert day_reading(text, TODAY) == UNCLEAR_DAY


def test_given_a_number_after_a_date_that_may_be_a_year_or_money_then_never_guessed() -> None:
    # Money after it: the amount, not a year.
    assert day_reading("te pago el 15 de enero 2000 pesos", TODAY).day == date(2027, 1, 15)
    assert read_amount("te pago el 15 de enero 2000 pesos").amount == D("2000.00")
    # Bare and far from this year: a year long gone, or 2,000? Asked.
    assert day_reading("te pago el 15 de enero 2000", TODAY) == UNCLEAR_DAY
    assert day_reading("enero 15 2028", TODAY) == UNCLEAR_DAY
    # Said as a year ("de 2000"): that date, for the dialogue to refuse.
    assert day_reading("el 15 de enero de 2000", TODAY).day == date(2000, 1, 15)


@pytest.mark.parametrize(
    ("text", "amount"),
    [("I will pay 500 on January 15, 2027", D(500)), ("enero 15, 2027", None),
     ("el 15 de enero 2027", None), ("te pago 800 el 15 de enero de 2027", D(800))],
)  # fmt: skip
def test_given_a_dates_year_then_it_is_no_amount(text: str, amount: Decimal | None) -> None:
    expected = None if amount is None else amount.quantize(D("0.01"))
    assert read_amount(text) == AmountReading(expected)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["", "MXN", "COP", "PEN"]), st.booleans())
def test_given_any_text_then_reading_never_raises_and_never_goes_back(
    text: str, currency: str, bare: bool
) -> None:
    amount = read_amount(text, bare=bare, currency=currency)
    assert amount.amount is None or amount.amount >= 0
    assert not (amount.unclear and amount.amount is not None)
    day = day_reading(text, TODAY)
    assert day.day is None or not day.unclear


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(
    ["el", "15", "de", "dic", "mil", "500", "2", "k", "lucas", "viernes", "mañana", "la", "no",
     "o", "y", "medio", "millon", "$", "2.500", "1,5", "pesos", "-", "otro", "proxima", "semana",
     "a", "las", "5", "en", "3", "dias", "unos", "dolares", "31/02", "05/06", "hoy"]
), max_size=12))  # fmt: skip
def test_given_any_mix_of_day_and_money_words_then_reading_never_raises(words: list[str]) -> None:
    text = " ".join(words)
    for currency in ("MXN", "COP", "PEN"):
        read_amount(text, currency=currency)
        read_amount(text, bare=True, currency=currency)
    for today in (TODAY, date(2026, 2, 28), date(2026, 12, 31)):
        day = day_reading(text, today)
        assert day.day is None or day.day >= today or "/" in text
