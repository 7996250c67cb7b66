"""What the portal shows a debtor in their locale: file sizes (and, below, dates)."""

from __future__ import annotations

import pytest

from console.debtor_locale import debtor_locale


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
