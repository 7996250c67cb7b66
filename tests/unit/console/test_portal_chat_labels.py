"""The portal chat's times: in the debtor's zone, named, in the page's language."""

from __future__ import annotations

from datetime import UTC, datetime

from console.portal_chat_views import when_label

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def test_given_a_time_then_labelled_in_the_debtors_zone_in_spanish() -> None:
    assert (
        when_label(NOW, "America/Bogota", "es_CO", "es")
        == "24 nov, 12:00 hora estándar de Colombia"
    )
    assert when_label(NOW, "America/Lima", "es_PE", "es") == "24 nov., 12:00 hora estándar de Perú"


def test_given_an_english_page_then_english_names() -> None:
    assert (
        when_label(NOW, "America/Mexico_City", "es_MX", "en")
        == "24 Nov, 11:00 Central Standard Time"
    )


def test_given_an_unknown_zone_then_utc_named_never_an_error() -> None:
    assert (
        when_label(NOW, "Nowhere/Else", "es_MX", "es") == "24 nov, 17:00 hora universal coordinada"
    )


def test_given_a_naive_time_then_read_as_utc() -> None:
    assert when_label(NOW.replace(tzinfo=None), "America/Mexico_City", "es_MX", "es").startswith(
        "24 nov, 11:00"
    )
