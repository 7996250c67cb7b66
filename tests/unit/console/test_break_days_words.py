"""How the break plan's list says a break's days, in Spanish and English."""

from __future__ import annotations

import pytest

from console.break_views import days_words
from console.i18n import activate

EVERY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.mark.parametrize(
    "lang, days, words",
    [
        ("es", EVERY, "todos los días"),
        ("es", EVERY[:5], "de lunes a viernes"),
        ("es", ("sat", "sun"), "sábado, domingo"),
        ("es", ("mon", "wed", "fri"), "lunes, miércoles, viernes"),
        ("en", EVERY, "every day"),
        ("en", EVERY[:5], "Monday to Friday"),
        ("en", ("sat", "sun"), "Saturday, Sunday"),
        ("en", ("tue",), "Tuesday"),
    ],
)
def test_given_a_breaks_days_when_listed_then_said_as_the_language_writes_them(lang, days, words):
    activate(lang)
    try:
        assert days_words(days) == words
    finally:
        activate("es")


def test_given_mon_to_thu_when_listed_then_each_day_is_named_not_the_working_week():
    activate("es")
    assert days_words(EVERY[:4]) == "lunes, martes, miércoles, jueves"
