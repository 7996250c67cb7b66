"""What a debtor's message names: the day ("el viernes", "15/12", "15 de dic", "15 de
enero de 2027", "fin de mes", "en 3 días"), the hour ("a las 5") and the amount ("dos mil quinientos", "mil 500",
"$2.500", "2,500.00", "2k", "200 lucas"). Pure. Read in favour of a question: what reads
two ways (two days, two amounts, "el otro viernes", "05/06", "entre 500 y 800", "unos
500", "31 de febrero") is unclear and never guessed: a wrong promise is worse than a
question (docs/assistant.md).
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from selfservice.intents import normalize
from selfservice.normalize import MAX_CHARS

CENT = Decimal("0.01")
MAX_AMOUNT_DIGITS = 12  # an amount longer than this is not an amount
# A day and month both 12 or less ("05/06") read month first too; when that reading is
# a day this near, the message is unclear (day first is the countries' way, not everyone's).
NEAR = timedelta(days=62)
# An unmarked number (no $, currency, "mil"...) is an amount from this much, outside a
# date, hour, count or reference: "te pago 800 el viernes" but not "te pago 15".
UNMARKED_MIN = Decimal(100)
UNMARKED_MAX_DIGITS = 7  # longer and unmarked: a phone, a folio, a card

WEEKDAYS = ("lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo")
EN_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
          "septiembre", "octubre", "noviembre", "diciembre")  # fmt: skip
EN_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
             "september", "october", "november", "december")  # fmt: skip


def _month_words() -> dict[str, int]:
    words: dict[str, int] = {}
    for number, (es, en) in enumerate(zip(MONTHS, EN_MONTHS, strict=True), start=1):
        words.update({es: number, es[:3]: number, en: number, en[:3]: number})
    words.update({"setiembre": 9, "set": 9, "sept": 9, "sep": 9})
    return words


MONTH_WORDS = _month_words()
_MONTH = "(?:" + "|".join(sorted(MONTH_WORDS, key=len, reverse=True)) + r")\b"
_WEEKDAY = "(?:" + "|".join(WEEKDAYS + EN_WEEKDAYS) + ")"

# Spanish number words (accents folded), each its value.
NUMBER_WORDS: dict[str, int] = {
    "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13,
    "catorce": 14, "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18,
    "diecinueve": 19, "veinte": 20, "veintiun": 21, "veintiuno": 21, "veintidos": 22,
    "veintitres": 23, "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26,
    "veintisiete": 27, "veintiocho": 28, "veintinueve": 29, "treinta": 30, "cuarenta": 40,
    "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90, "cien": 100,
    "ciento": 100, "doscientos": 200, "doscientas": 200, "trescientos": 300,
    "trescientas": 300, "cuatrocientos": 400, "cuatrocientas": 400, "quinientos": 500,
    "quinientas": 500, "seiscientos": 600, "seiscientas": 600, "setecientos": 700,
    "setecientas": 700, "ochocientos": 800, "ochocientas": 800, "novecientos": 900,
    "novecientas": 900,
}  # fmt: skip
_NUMBER = r"(?:\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"


def fold(text: str) -> str:
    """Lower case, accents and "ñ" folded, punctuation kept ("$2.500", "15/12", "S/")."""
    decomposed = unicodedata.normalize("NFKD", text[:MAX_CHARS].lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# ---- days ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayReading:
    day: date | None  # the one day the message names (None: none, or unclear)
    unclear: bool = False  # it names a day that reads two ways, or none that exists


# "15/12", "15-12-2026", "15.12.2026" (a dot only with the year: "2.50" is money).
_NUMERIC_DATE = re.compile(
    r"(?<![\d.,$])(\d{1,2})\s*([/-])\s*(\d{1,2})(?:\s*\2\s*(\d{4}|\d{2}))?(?![\d.,]*\d)"
    r"(?!\s*(?:dias|semanas|meses|cuotas|pagos|partes|horas|hrs|am|pm|mil|k\b))"
    r"|(?<![\d.,$])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?![\d.,]*\d)"
)
# Money as written with separators or a sign: taken out before a day is looked for, so
# "$2.500.000 el 30" or "1,200.00 el 20" name no day 2 or 1.
_FORMATTED_MONEY = re.compile(r"\$\s*\d[\d.,]*|s/\s*\d[\d.,]*|\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?"
                              r"|\d+[.,]\d{1,2}(?!\d)")  # fmt: skip
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|por ?ciento|percent)")
# After a number, words that make it no day of the month.
_NOT_A_DAY = (r"(?!\s*(?:%|(?:mil|k|pesos|soles|varos|dinero|barras|palos|mxn|cop|pen|dolares|"
              r"por ciento|dias|semanas|meses|cuotas|pagos|partes|horas|hrs|minutos|am|pm)\b))")  # fmt: skip
# A year after a day and month: "15 de enero de 2027", "enero 15 2027" (commas gone);
# never one followed by money ("el 15 de enero 2000 pesos": 2,000 pesos).
_MONEY_AFTER = r"(?!\s*(?:mil|k|pesos?|soles?|varos?|lucas?|barras?|mxn|cop|pen|dolares)\b)"
_YEAR = rf"(?:\s+(?:de\s+|del\s+|of\s+)?((?:19|20)\d{{2}})\b{_MONEY_AFTER})?"
_YEAR_SAID = re.compile(r"\b(?:de|del|of)\s+(?:19|20)\d{2}\b")
_DAY_OF_MONTH = re.compile(
    rf"\b(?:el|dia|al|del|para el|hasta el|on the|the)\s+(?:dia\s+)?(\d{{1,2}})(?:st|nd|rd|th)?"
    rf"\b{_NOT_A_DAY}(?:\s+(?:de\s+|of\s+)?({_MONTH}){_YEAR})?"
    rf"|\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+de|\s+of)?\s+({_MONTH}){_YEAR}"
    rf"|\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:mil|k|pesos|soles|dolares)\b)"
    rf"{_YEAR}"
    rf"|\b({_WEEKDAY})\s+(\d{{1,2}})\b{_NOT_A_DAY}(?:\s+(?:de\s+)?({_MONTH}){_YEAR})?"
    rf"|\b(\d{{1,2}})(?:st|nd|rd|th)\b"
)
_SPAN = re.compile(
    rf"\b(?:en|dentro de|de aqui a|in)\s+(unos\s+|unas\s+|a\s+|about\s+)?({_NUMBER}|a)\s+"
    r"(dias?|semanas?|days?|weeks?)\b"
)
_NEXT_WEEK = re.compile(
    r"^(?:de |of )?(?:la |the )?(?:proxima semana|semana que viene|siguiente semana|otra semana"
    r"|next week)"
)
_MONTH_END = re.compile(
    r"\b(?:fin(?:es|ales)? de(?:l| este)? mes|ultimo dia del mes|end of (?:the )?month)\b"
)
_MORNING_BEFORE = ("la", "las", "esta", "this")
_WEEKDAY_AND_DAY = re.compile(rf"{_WEEKDAY} \d{{1,2}}\b{_NOT_A_DAY}")
_DAYISH = rf"(?:\d{{1,2}}|{_WEEKDAY}|manana|hoy|quincena|pasado|today|tomorrow)"
_EITHER = re.compile(
    rf"\b{_DAYISH}\s+(?:o|u|or|y/o|o bien)\s+(?:el\s+|la\s+|pasado\s+|the\s+)?{_DAYISH}\b"
)


def day_reading(text: str, today: date, floor: date | None = None) -> DayReading:
    """The day a message names, read from `today`; unclear when its mentions disagree
    ("el viernes 14" when Friday is the 11th; "hoy o mañana") or one reads two ways.
    `floor`: the debtor's earliest today (read_day), before which a day and month named
    without a year ("7/12") is next year's; `today` when not given."""
    floor = today if floor is None else min(floor, today)
    raw = fold(text)
    mentions: list[date | None] = []  # None: a mention that reads two ways
    for match in _NUMERIC_DATE.finditer(raw):
        parts = match.groups()
        day, month, year = (parts[0], parts[2], parts[3]) if parts[0] else parts[4:7]
        mentions.append(_numeric_day(int(day), int(month), year, floor))
    rest = _PERCENT.sub(" ", _NUMERIC_DATE.sub(" ", raw))
    plain = normalize(_FORMATTED_MONEY.sub(" ", rest))
    words = plain.split()
    mentions.extend(_word_days(plain, words, today))
    for match in _DAY_OF_MONTH.finditer(plain):
        groups = match.groups()
        day_text = next(g for g in (groups[0], groups[3], groups[7], groups[10], groups[13]) if g)
        month_text = groups[1] or groups[4] or groups[6] or groups[11]
        year_text = groups[2] or groups[5] or groups[8] or groups[12]
        found = _month_day(int(day_text), month_text, today, floor, year_text)
        if (
            year_text
            and abs(int(year_text) - today.year) > 1
            and not _YEAR_SAID.search(match.group(0))
        ):
            found = None  # "el 15 de enero 2000": a year long gone, or an amount?
        if groups[9] and found is not None and found.weekday() != _weekday_number(groups[9]):
            found = None  # "el viernes 14" when the 14th is a Monday
        mentions.append(found)
    for match in _SPAN.finditer(plain):
        vague, number, span = match.groups()
        count = int(number) if number.isdigit() else NUMBER_WORDS.get(number, 1)
        weeks = span.startswith(("semana", "week"))
        # "en ocho días", "en quince días": a week, two weeks, or the number said?
        unclear = (vague or "").strip() in ("unos", "unas", "about") or (
            not weeks and count in (8, 15)
        )
        mentions.append(None if unclear else today + timedelta(days=count * (7 if weeks else 1)))
    if _EITHER.search(plain):
        mentions.append(None)  # "el 12 o 13", "hoy o mañana": the debtor has not chosen
    if any(m is None for m in mentions) or len(set(mentions)) > 1:
        return DayReading(None, unclear=True)
    return DayReading(mentions[0] if mentions else None)


def _numeric_day(day: int, month: int, year_text: str | None, floor: date) -> date | None:
    year = int(year_text) if year_text else floor.year
    year += 2000 if year < 100 else 0
    found = _safe_date(year, month, day)
    if found is not None and not year_text and found < floor:
        found = _safe_date(year + 1, month, day)
    if found is not None and day <= 12 and month <= 12 and day != month:
        other = _safe_date(year, day, month)
        if other is not None and not year_text and other < floor:
            other = _safe_date(year + 1, day, month)
        if other is not None and floor <= other <= floor + NEAR:
            return None  # "05/06" near May or June: read both ways
    return found


def _word_days(plain: str, words: list[str], today: date) -> list[date | None]:
    found: list[date | None] = []
    said = [
        (i, w) for i, w in enumerate(words) if not (i + 1 < len(words) and words[i + 1] == "no")
    ]
    for index, word in said:  # "hoy no puedo, mañana" names tomorrow
        before = words[index - 1] if index else ""
        if word in ("manana", "tomorrow") and before == "pasado":
            found.append(today + timedelta(days=2))
        elif (word == "manana" and before not in _MORNING_BEFORE) or (
            word == "tomorrow" and before != "after"
        ):
            found.append(today + timedelta(days=1))
        elif word in ("hoy", "today", "tonight"):
            found.append(today)
        elif word == "quincena":
            if before in ("otra", "siguiente"):
                found.append(None)
            else:
                fifteenth = today.replace(day=15)
                found.append(fifteenth if fifteenth >= today else _month_end(today))
        elif (word in WEEKDAYS or word in EN_WEEKDAYS) and not _WEEKDAY_AND_DAY.match(
            " ".join(words[index : index + 3])
        ):  # "el viernes 18" is read with its day of the month
            found.append(_weekday(index, words, today))
    if "day after tomorrow" in plain:
        found = [d for d in found if d != today + timedelta(days=1)]
        found.append(today + timedelta(days=2))
    if _MONTH_END.search(plain):
        found.append(_month_end(today))
    return found


def _weekday_number(word: str) -> int:
    return WEEKDAYS.index(word) if word in WEEKDAYS else EN_WEEKDAYS.index(word)


def _weekday(index: int, words: list[str], today: date) -> date | None:
    word = words[index]
    number = _weekday_number(word)
    before = words[index - 1] if index else ""
    after = " ".join(words[index + 1 : index + 5])
    if before == "otro" or after.startswith(("pasado", "antepasado")) or before == "last":
        return None  # "el otro viernes": this one or the next? "el viernes pasado": gone
    if _NEXT_WEEK.match(after):
        monday = today + timedelta(days=7 - today.weekday())
        return monday + timedelta(days=number)
    return today + timedelta(days=(number - today.weekday()) % 7 or 7)


def _month_day(
    day: int, month_text: str | None, today: date, floor: date, year_text: str | None = None
) -> date | None:
    if month_text and year_text:  # as written, even gone by: the dialogue refuses it
        return _safe_date(int(year_text), MONTH_WORDS[month_text], day)
    if month_text:
        month = MONTH_WORDS[month_text]
        found = _safe_date(floor.year, month, day)
        if found is not None and found < floor:
            found = _safe_date(floor.year + 1, month, day)
        return found
    if day >= today.day:  # this month's, or none: "el 31" in November is unclear
        return _safe_date(today.year, today.month, day)
    following = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return _safe_date(following.year, following.month, day)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_end(today: date) -> date:
    return today.replace(day=calendar.monthrange(today.year, today.month)[1])


def parse_day(text: str, today: date, floor: date | None = None) -> date | None:
    """The day a message names; None when it names none or one that reads two ways
    (day_reading says which). Before today only with its year ("15/01/26", "15 de enero
    de 2026"): as written, for the dialogue to refuse."""
    return day_reading(text, today, floor).day


# ---- hours -------------------------------------------------------------------------------

_HOUR = re.compile(
    r"\ba las? (\d{1,2})(?: (\d{2}))?(?: (am|pm|de la manana|de la tarde|de la noche))?"
)


def parse_hour(text: str) -> time | None:
    """ "a las 5" (afternoon: nobody asks a collector for 5 in the morning), "a las 10 am"."""
    match = _HOUR.search(normalize(text))
    if not match:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3) or ""
    afternoon = half in ("pm", "de la tarde", "de la noche") and hour < 12
    if afternoon or (not half and 1 <= hour <= 7):
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


# ---- amounts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AmountReading:
    amount: Decimal | None  # the one amount the message names (None: none, or unclear)
    unclear: bool = False  # two amounts, a range, "unos 500", another currency, "-500"


# A date's year as written, comma and all ("enero 15, 2027"): no amount.
_YEAR_WRITTEN = rf"(?:\s*,?\s+(?:de\s+|del\s+|of\s+)?(?:19|20)\d{{2}}\b{_MONEY_AFTER})?"
# Numbers that are no amount: dates, hours, counts, percentages, references, years.
_NOT_AMOUNTS = re.compile(
    "|".join([
        r"\ba las? \d{1,2}(?:[:. ][0-5]\d\b)?",
        r"\b\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|hrs?|horas?)\b",
        rf"\b(?:el|dia|al|del|para el|hasta el|on the|the)\s+(?:dia\s+)?\d{{1,2}}(?:st|nd|rd|th)?"
        rf"\b(?![.,]\d){_NOT_A_DAY}(?:\s+(?:de\s+|of\s+)?{_MONTH}{_YEAR_WRITTEN})?",
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:de\s+|of\s+)?{_MONTH}{_YEAR_WRITTEN}",
        rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?!\s*(?:mil|k|pesos|soles)\b){_YEAR_WRITTEN}",
        rf"\b{_WEEKDAY}\s+\d{{1,2}}\b{_NOT_A_DAY}",
        r"\b\d{1,2}(?:st|nd|rd|th)\b",
        rf"\b{_NUMBER}\s+(?:dias?|semanas?|meses|mes|anos?|cuotas?|partes?|pagos?|quincenas?|"
        r"mensualidades|veces|plazos?|horas?|minutos?|days?|weeks?|months?|installments?)\b",
        r"\d+(?:[.,]\d+)?\s*(?:%|por ?ciento|percent)",
        r"(?:folio|referencia|ref|numero|num|no\.|n°|#|cuenta|tarjeta|convenio|contrato|credito|"
        r"cel|celular|telefono|tel|whatsapp|wsp|operacion|clave|codigo|dni|cedula|cc|rfc|curp|"
        r"ruc|nit|id)\s*:?\s*[\d\s-]{3,}",
        r"\b(?:de|del)\s+(?:19|20)\d{2}\b",
    ])
)  # fmt: skip
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|s/|[a-z]+|\$|-")
_CURRENCY_WORDS = frozenset({"pesos", "peso", "soles", "sol", "varos", "varo", "mxn", "cop",
                             "pen", "pesitos", "solecitos", "bolas"})  # fmt: skip
_FOREIGN = frozenset({"dolares", "dolar", "dls", "dlls", "usd", "euros", "euro", "eur",
                      "dollars", "dollar", "bucks"})  # fmt: skip
_VAGUE_BEFORE = frozenset({"como", "unos", "unas", "aprox", "aproximadamente", "alrededor",
                           "casi", "maximo", "minimo", "hasta", "about", "around", "approx",
                           "menos", "entre"})  # fmt: skip
_VAGUE_AFTER = frozenset({"pico", "algo", "aprox", "aproximadamente"})
_CONNECTOR = frozenset({"y", "con"})
# Between two amounts, words that add them: "500 y 500", "500 más 500" (1,000, or 500
# twice?) read two ways even when the amounts are equal ("500, 500" is one said twice).
_ADDING = frozenset({"y", "mas", "and", "plus"})


def _slang(currency: str) -> dict[str, Decimal | None]:
    """Money slang of the account's country; None: a unit of unknown value here ("lucas"
    are a thousand pesos in Colombia, a sol in Peru, nothing in Mexico)."""
    colombia, peru = currency == "COP", currency == "PEN"
    return {
        "luca": Decimal(1000) if colombia else Decimal(1) if peru else None,
        "lucas": Decimal(1000) if colombia else Decimal(1) if peru else None,
        "barra": Decimal(1000) if colombia else None,
        "barras": Decimal(1000) if colombia else None,
        "palo": Decimal(1_000_000) if colombia else None,
        "palos": Decimal(1_000_000) if colombia else None,
        "k": Decimal(1000),
        "mil": Decimal(1000),
        "millon": Decimal(1_000_000),
        "millones": Decimal(1_000_000),
    }


@dataclass
class _Phrase:
    """One amount as written, numbers and words together: "dos mil quinientos"."""

    total: Decimal = Decimal(0)  # what the multipliers have closed ("dos mil" -> 2000)
    group: Decimal = Decimal(0)  # the numbers since the last multiplier
    last: Decimal | None = None  # the last number added (None right after a multiplier)
    unit: Decimal | None = None  # the last multiplier ("y medio" adds half of it)
    marked: bool = False  # a sign, a currency or a multiplier: money for sure
    digits: int = 0  # of the longest number written in digits (0: words only)
    bad: bool = False  # negative, another currency, a unit unknown here, vague, malformed
    ended: bool = False  # after a currency or a unit of slang ("200 lucas"): nothing adds
    added: bool = False  # right after "y", "más" or digits ("500 y 500"): a second amount

    def value(self) -> Decimal:
        return self.total + self.group


_MILLIONS = frozenset({"millon", "millones", "palo", "palos"})


def read_amount(text: str, *, bare: bool = False, currency: str = "") -> AmountReading:
    """The amount a message names. Marked amounts always count ("$1,500", "500 pesos",
    "2 mil", "2k", "200 lucas" in Colombia); an unmarked one counts from 100
    (UNMARKED_MIN: "800", "dos mil quinientos") outside dates, hours, counts and
    references; when ``bare`` (the question was "how much?") any number in digits does.
    Two different amounts, a range, a vague one ("unos 500", "mil y pico"), another
    currency, a unit unknown in the account's country, a negative: unclear."""
    tokens = _TOKEN.findall(_NOT_AMOUNTS.sub(" ", _NUMERIC_DATE.sub(" ", fold(text))))
    slang = _slang(currency)
    phrases: list[_Phrase] = []
    phrase: _Phrase | None = None
    sign = False

    def start(index: int, **values: Any) -> _Phrase:
        before = tokens[max(0, index - 2) : index]
        negative = index > 0 and tokens[index - 1] == "-" and (
            index < 2 or _number(tokens[index - 2]) is None
        )  # fmt: skip
        fresh = _Phrase(marked=sign, **values)
        fresh.added = (
            bool(phrases)
            and index > 0
            and (
                tokens[index - 1] in _ADDING
                or (_number(tokens[index]) is not None and _number(tokens[index - 1]) is not None)
            )
        )  # "500 y 500", "500 500" (500,500 with a space between thousands?)
        fresh.bad = negative or any(t in _VAGUE_BEFORE for t in before)
        phrases.append(fresh)
        return fresh

    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        value = _number(token)
        if value is None and token in NUMBER_WORDS:
            value = Decimal(NUMBER_WORDS[token])
        if value is not None:
            in_words = token in NUMBER_WORDS
            joins = phrase is not None and not phrase.ended and (
                phrase.last is None  # right after "mil": "mil 500", "dos mil quinientos"
                or (in_words and phrase.digits == 0 and _below(value, phrase.last))
            )  # fmt: skip
            if not joins or phrase is None:
                phrase = start(index)
            phrase.group += value
            phrase.last = value
            if not in_words:
                phrase.digits = max(phrase.digits, len(re.sub(r"\D", "", token)))
                phrase.bad = phrase.bad or _malformed(token)
            sign = False
        elif token in ("$", "s/"):
            sign = True
        elif token == "medio" and after in _MILLIONS:
            phrase = start(index, group=Decimal("0.5"), last=Decimal("0.5"))
        elif token in slang and (phrase is not None and not phrase.ended
                                 or token in ("mil", "millon")):  # fmt: skip
            if phrase is None or phrase.ended:
                phrase = start(index)
            unit = slang[token]
            phrase.marked = True
            if unit is None:
                phrase.bad, unit = True, Decimal(1)
            if phrase.unit is not None and (
                unit <= phrase.unit if phrase.last is None else unit == phrase.unit
            ):
                # No amount says one multiplier twice: "mil mil", "2 mil 3 mil" (2,000
                # and 3,000, or 5,000?), "mil quinientos mil", "2k 3 mil"; a smaller one
                # after a larger ("un millón 500 mil") or a larger after a group ("dos
                # mil quinientos millones", "mil millones") is one amount.
                phrase.bad = True
            if token in _MILLIONS:
                # Right after another multiplier, no group: "mil millones" is 1000 x 1e6.
                group = phrase.group or (Decimal(0) if phrase.unit is not None else Decimal(1))
                phrase.total = (phrase.total + group) * unit
            else:
                phrase.total += (phrase.group or 1) * unit
            phrase.group, phrase.last, phrase.unit = Decimal(0), None, unit
            phrase.ended = token not in ("mil", "k") and token not in _MILLIONS
        elif phrase is not None and token in _CONNECTOR:
            if after in ("medio", "media") and phrase.unit is not None and phrase.last is None:
                phrase.total += phrase.unit / 2  # "un millón y medio", "luca y media"
                phrase.ended = True
            elif after in _VAGUE_AFTER:
                phrase.bad = True  # "mil y pico"
        elif token in ("medio", "media") and phrase is not None and phrase.ended:
            pass
        elif phrase is not None and token in _CURRENCY_WORDS:
            phrase.marked = phrase.ended = True
        else:
            if phrase is not None and (token in _FOREIGN or token in _VAGUE_AFTER):
                phrase.bad = phrase.marked = True  # "50 usd": money, not of this account
            phrase, sign = None, False
    amounts: set[Decimal] = set()
    stray = added = False
    for found in phrases:
        counts = found.marked or (
            found.value() >= UNMARKED_MIN and found.digits <= UNMARKED_MAX_DIGITS
        ) or (bare and found.digits > 0)  # fmt: skip
        if not counts:
            # Another number in digits beside an amount: "3 de los 5 mil", "la 2 de 500"
            # (a phone or a folio, too long to be money, says nothing of the amount).
            if 0 < found.digits <= UNMARKED_MAX_DIGITS:
                stray = True
            continue
        if found.bad or len(str(int(found.value()))) > MAX_AMOUNT_DIGITS:
            return AmountReading(None, unclear=True)
        amounts.add(found.value().quantize(CENT))
        added = added or found.added
    if len(amounts) > 1 or (amounts and (stray or added)):
        return AmountReading(None, unclear=True)
    return AmountReading(amounts.pop() if amounts else None)


def _below(value: Decimal, last: Decimal) -> bool:
    """A number word that completes the one before it: "ciento veinte", "treinta y
    cinco", "doscientos cincuenta"; not "trescientos doscientos" nor "quince cinco"
    (two amounts said one after the other)."""
    place = Decimal(10) ** (len(str(int(last))) - 1)
    return value < place and last % place == 0


def _number(token: str) -> Decimal | None:
    """A number as written: "2.500" and "2,500" two thousand five hundred, "2,500.00" and
    "2.500,00" too, "2.50" and "1,5" with decimals; None when no number."""
    if not token[:1].isdigit():
        return None
    separators = [c for c in token if c in ".,"]
    if not separators:
        digits, cents = token, ""
    else:
        last = max(token.rfind("."), token.rfind(","))
        tail = token[last + 1 :]
        if len(tail) in (1, 2) and (len(set(separators)) == 2 or len(separators) == 1):
            digits, cents = re.sub(r"[.,]", "", token[:last]), tail
        else:
            digits, cents = re.sub(r"[.,]", "", token), ""
    if len(digits) > MAX_AMOUNT_DIGITS:
        return Decimal(10) ** MAX_AMOUNT_DIGITS  # too long: read as absurd, never cut
    try:
        return Decimal(digits) + (Decimal(f"0.{cents}") if cents else Decimal(0))
    except InvalidOperation:
        return None


def _malformed(token: str) -> bool:
    """Separators that are neither thousands nor decimals ("12.5000", "1,50,0")."""
    parts = re.split(r"[.,]", token)
    if len(parts) == 1:
        return False
    if len(parts[-1]) in (1, 2) and (len(parts) == 2 or all(len(p) == 3 for p in parts[1:-1])):
        return not 1 <= len(parts[0]) <= (3 if len(parts) > 2 else MAX_AMOUNT_DIGITS)
    return not (1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:]))


def parse_amount(text: str, *, bare: bool = False, currency: str = "") -> Decimal | None:
    """read_amount's amount (None: none, or unclear)."""
    return read_amount(text, bare=bare, currency=currency).amount
