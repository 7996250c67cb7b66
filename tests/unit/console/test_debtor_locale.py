"""What the portal shows a debtor in their locale (file sizes, dates, times with
their zone) and how it reads a date the debtor typed: one day, or why not."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.debtor_locale import DateTyped, debtor_locale


@pytest.mark.parametrize(
    ("country", "lang", "size", "shown"),
    [
        ("MX", "es", 17, "17 bytes"),  # a tiny text file: never "0.0 KB"
        ("MX", "es", 1, "1 byte"),
        ("CO", "es", 1000, "1.000 bytes"),  # Colombia groups thousands with a dot
        ("MX", "es", 1536, "1.5 KB"),
        ("CO", "es", 1536, "1,5 KB"),  # and separates decimals with a comma
        ("PE", "es", 2411724, "2.3 MB"),
        ("CO", "en", 1536, "1.5 KB"),  # English when the debtor picks it
        ("MX", "es", 10 * 1024 * 1024, "10 MB"),
    ],
)
def test_given_a_document_size_when_shown_then_bytes_kb_or_mb_in_the_locale(
    country: str, lang: str, size: int, shown: str
) -> None:
    assert debtor_locale(country, lang).size(size) == shown


def test_given_a_country_without_a_spanish_locale_when_shown_then_mexican_spanish() -> None:
    assert debtor_locale("", "es").locale == "es_MX"
    assert debtor_locale("XX", "fr").locale == "es_MX"


@pytest.mark.parametrize(
    ("country", "lang", "shown"),
    [
        ("MX", "es", "1 de septiembre de 2026"),
        ("CO", "es", "1 de septiembre de 2026"),
        ("PE", "es", "1 de setiembre de 2026"),  # Peru's own spelling (CLDR)
        ("PE", "en", "September 1, 2026"),
    ],
)
def test_given_a_due_date_when_shown_then_as_people_write_it_not_iso(
    country: str, lang: str, shown: str
) -> None:
    assert debtor_locale(country, lang).day(date(2026, 9, 1)) == shown


def test_given_an_instant_when_shown_then_the_debtors_clock_and_the_zones_city() -> None:
    at = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # 14:00 in Mexico City, 15:00 in Bogotá
    mx, co, en = debtor_locale("MX", "es"), debtor_locale("CO", "es"), debtor_locale("MX", "en")
    assert mx.moment(at, ZoneInfo("America/Mexico_City")) == "mar 24 de nov, 2:00\u202fp.m."
    assert co.moment(at, ZoneInfo("America/Bogota")) == "mar, 24 de nov, 3:00\u202fp.\u202fm."
    assert en.moment(at, ZoneInfo("America/Mexico_City")) == "Tue, Nov 24, 2:00\u202fPM"
    assert mx.zone_name(ZoneInfo("America/Mexico_City")) == "Ciudad de México"
    assert en.zone_name(ZoneInfo("America/Mexico_City")) == "Mexico City"
    assert co.zone_name(ZoneInfo("America/Bogota")) == "Bogotá"


@pytest.mark.parametrize(
    ("lang", "typed", "day"),
    [
        ("es", "2026-12-05", date(2026, 12, 5)),  # what a date picker posts
        ("es", "05/12/2026", date(2026, 12, 5)),  # day first, as in Mexico, Colombia, Peru
        ("es", "5/12/2026", date(2026, 12, 5)),
        ("es", " 5-12-2026 ", date(2026, 12, 5)),
        ("es", "5.12.2026", date(2026, 12, 5)),
        ("en", "2026-12-05", date(2026, 12, 5)),
        ("en", "25/12/2026", date(2026, 12, 25)),  # only one reading: the 25th is a day
        ("en", "12/25/2026", date(2026, 12, 25)),  # month first, as in the US: still one
        ("en", "05/05/2026", date(2026, 5, 5)),
    ],
)
def test_given_a_typed_date_with_one_reading_when_read_then_that_day(
    lang: str, typed: str, day: date
) -> None:
    assert debtor_locale("MX", lang).read_day(typed) == day


@pytest.mark.parametrize(
    ("lang", "typed", "says"),
    [
        ("es", "", "Elija una fecha."),
        ("es", "   ", "Elija una fecha."),
        ("es", "5/12/26", "cuatro cifras"),  # 1926 or 2026?
        ("es", "12/25/2026", "no es una fecha: escríbala como dd/mm/aaaa"),  # month 25
        ("es", "31/02/2026", "no es una fecha"),
        ("es", "2026-02-30", "no es una fecha"),
        ("es", "mañana", "no es una fecha"),
        ("es", "5 de diciembre", "no es una fecha"),
        ("es", "0/0/2026", "no es una fecha"),
        ("es", "9" * 500, "no es una fecha"),
        ("es", "\x00\n", "Elija una fecha."),
        ("en", "03/04/2026", "puede ser el April 3, 2026 o el March 4, 2026"),  # two readings
        ("en", "13/13/2026", "escríbala como dd/mm/yyyy"),
    ],
)
def test_given_a_typed_date_that_is_not_one_day_when_read_then_refused_with_how_to_write_it(
    lang: str, typed: str, says: str
) -> None:
    with pytest.raises(DateTyped) as err:
        debtor_locale("MX", lang).read_day(typed)
    assert says in err.value.render()
    assert len(err.value.render()) < 200  # an overlong input is not echoed whole


@given(st.text(max_size=60))
def test_given_any_text_when_read_then_a_day_or_a_reason_never_a_crash(typed: str) -> None:
    try:
        debtor_locale("CO", "es").read_day(typed)
    except DateTyped as exc:
        assert exc.render()
