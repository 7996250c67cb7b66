"""The portal chat's times: on the debtor's clock, in the portal's words for the
account's country (console/debtor_locale), the zone named by its city."""

from __future__ import annotations

from datetime import UTC, datetime

from console.portal_chat_glance import when_label

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def label(zone: str, country: str, lang: str) -> str:
    """when_label at NOW, babel's narrow spaces (before "a.m.") read as spaces."""
    return when_label(NOW, zone, country, lang).replace("\u202f", " ").replace("\xa0", " ")


def test_given_a_time_then_on_the_debtors_clock_in_their_countrys_spanish() -> None:
    assert label("America/Mexico_City", "MX", "es") == "mar 24 de nov, 11:00 (Ciudad de México)"
    assert label("America/Bogota", "CO", "es") == "mar, 24 de nov, 12:00 (Bogotá)"
    assert label("America/Lima", "PE", "es") == "mar, 24 nov., 12:00 (Lima)"


def test_given_an_english_page_then_english_words() -> None:
    assert label("America/Mexico_City", "MX", "en") == "Tue, Nov 24, 11:00 (Mexico City)"


def test_given_an_unknown_zone_then_utc_named_never_an_error() -> None:
    assert label("Nowhere/Else", "MX", "es") == "mar 24 de nov, 17:00 (UTC)"


def test_given_a_naive_time_then_read_as_utc() -> None:
    naive = when_label(NOW.replace(tzinfo=None), "America/Mexico_City", "MX", "es")
    assert naive == when_label(NOW, "America/Mexico_City", "MX", "es")
