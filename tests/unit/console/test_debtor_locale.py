"""What the portal shows a debtor in their locale (file sizes, dates, times with
their zone) and how it reads a date the debtor typed: one day, or why not."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.debtor_locale import (
    DateTyped,
    DebtorLocale,
    console_locale,
    debtor_locale,
    spoken_locale,
    zone_label,
)
from console.i18n import activate, current_language


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
    assert mx.moment(at, ZoneInfo("America/Mexico_City")) == "mar 24 de nov, 14:00"
    assert co.moment(at, ZoneInfo("America/Bogota")) == "mar, 24 de nov, 15:00"
    assert en.moment(at, ZoneInfo("America/Mexico_City")) == "Tue, Nov 24, 14:00"
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


# ---- what an agent and a supervisor read: one zone label, dates in words ----------


@pytest.mark.parametrize(
    ("zone", "locale", "label"),
    [
        ("America/Mexico_City", "es_MX", "Ciudad de México"),
        ("America/Mexico_City", "en", "Mexico City"),
        ("America/Cancun", "es_MX", "Cancún"),
        ("America/Bogota", "es_CO", "Bogotá"),
        ("America/Lima", "es_PE", "Lima"),
        ("UTC", "es_MX", "UTC"),
        ("Etc/UTC", "en", "UTC"),
        ("Etc/GMT+5", "es_MX", "UTC−5"),  # POSIX sign: five hours behind, never "GMT+5"
        ("Etc/GMT-14", "es_MX", "UTC+14"),
    ],
)
def test_given_a_zone_when_labelled_then_a_city_or_an_offset_never_the_iana_id(
    zone: str, locale: str, label: str
) -> None:
    assert zone_label(ZoneInfo(zone), locale) == label


def test_given_no_zone_when_labelled_then_said_unknown_in_the_console_language() -> None:
    activate("es")
    assert zone_label(None, "es_MX") == "zona horaria desconocida"
    assert DebtorLocale("es_MX").zones_name(()) == "zona horaria desconocida"
    activate("en")
    try:
        assert DebtorLocale("en").zones_name(()) == "unknown time zone"
    finally:
        activate("es")


def test_given_candidate_zones_when_labelled_then_each_city_once_strongest_first() -> None:
    zones = (
        ZoneInfo("America/Cancun"),
        ZoneInfo("America/Mexico_City"),
        ZoneInfo("America/Cancun"),
    )
    assert DebtorLocale("es_MX").zones_name(zones) == "Cancún, Ciudad de México"


def test_given_an_instant_when_stamped_for_an_agent_then_words_and_zone_label_beside_iso() -> None:
    at = datetime(2026, 12, 6, 20, 5, tzinfo=UTC)
    got = DebtorLocale("es_MX").stamp(at, (ZoneInfo("America/Mexico_City"),))
    assert got == {"utc": "2026-12-06T20:05+00:00", "local": "2026-12-06 14:05",
                   "zone": "America/Mexico_City", "shown": "6 dic 2026, 14:05",
                   "zone_label": "Ciudad de México"}  # fmt: skip
    naive = DebtorLocale("en").stamp(at.replace(tzinfo=None), ())  # stored naive: UTC
    assert (naive["shown"], naive["zone_label"]) == ("Dec 6, 2026, 20:05", "UTC")
    assert DebtorLocale("es_MX").stamp(None, ())["shown"] == ""


def test_given_a_time_for_an_agent_when_worded_then_24_hour_clock_and_the_city_in_both_languages() -> (
    None
):
    at = datetime(2026, 12, 6, 20, 5, tzinfo=UTC)
    mexico = ZoneInfo("America/Mexico_City")
    assert DebtorLocale("es_MX").when(at, mexico) == "6 dic 2026, 14:05 (Ciudad de México)"
    assert DebtorLocale("en").when(at, mexico) == "Dec 6, 2026, 14:05 (Mexico City)"
    assert DebtorLocale("en").when(at, mexico, day=False) == "14:05 (Mexico City)"
    assert DebtorLocale("en").clock(at, mexico) == "14:05"  # never "2:05 PM"
    # No zone known: the time in UTC, said as such; never a bare time.
    assert DebtorLocale("es_MX").when(at, None, day=False) == "20:05 (UTC)"
    assert DebtorLocale("es_MX").when(None, mexico) == ""


@pytest.mark.parametrize(
    ("lang", "country", "said"),
    [
        ("es", "MX", "6 de diciembre de 2026"),
        ("es", "PE", "6 de diciembre de 2026"),
        ("en", "MX", "December 6, 2026"),
        ("fr", "CO", "6 de diciembre de 2026"),  # a language the console lacks: Spanish
    ],
)
def test_given_the_console_language_when_an_agent_reads_a_date_then_in_its_words(
    lang: str, country: str, said: str
) -> None:
    activate(lang)
    try:
        assert spoken_locale(country).day(date(2026, 12, 6)) == said
        assert console_locale().english is (lang == "en")
        assert current_language() == ("en" if lang == "en" else "es")
    finally:
        activate("es")


def test_given_peru_when_september_is_read_then_setiembre_as_peruvians_write_it() -> None:
    activate("es")
    assert spoken_locale("PE").day(date(2026, 9, 1)) == "1 de setiembre de 2026"


@pytest.mark.parametrize(
    ("country", "lang", "first", "last", "shown"),
    [
        (
            "MX",
            "es",
            date(2026, 11, 24),
            date(2026, 12, 9),
            "Elija una fecha entre el 24 de noviembre de 2026 y el 9 de diciembre de 2026.",
        ),
        (
            "PE",
            "es",
            date(2026, 9, 1),
            date(2026, 9, 15),  # Peru writes "setiembre"
            "Elija una fecha entre el 1 de setiembre de 2026 y el 15 de setiembre de 2026.",
        ),
        (
            "CO",
            "en",
            date(2026, 12, 7),
            date(2027, 1, 6),
            "Choose a date between December 7, 2026 and January 6, 2027.",
        ),
        ("MX", "es", date(2026, 11, 24), date(2026, 11, 24), "Elija el 24 de noviembre de 2026."),
        ("MX", "en", date(2026, 11, 24), date(2026, 11, 24), "Choose November 24, 2026."),
        ("MX", "es", date(2026, 11, 24), date(2026, 11, 23), ""),  # no day allowed: no words
        ("MX", "es", date(2026, 11, 24), None, ""),
    ],
)
def test_given_a_date_inputs_range_when_worded_then_both_days_in_the_debtors_locale(
    country: str, lang: str, first: date, last: date | None, shown: str
) -> None:
    activate(lang)
    try:
        assert debtor_locale(country, lang).allowed_days(first, last) == shown
    finally:
        activate("es")
