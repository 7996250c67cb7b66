"""store/text_fold.py: the database folds a column exactly as Python folds the text
searched for, on SQLite and on PostgreSQL (whatever its locale)."""

from __future__ import annotations

from sqlalchemy import Engine, String, literal, select

from store.text_fold import fold, folded

TEXTS = [
    "Av. Insurgentes Sur 1602, Col. Crédito Constructor, CDMX",
    "CALLE JUÁREZ 12, ÑUÑOA, Bogotá D.C.",
    "Maria.Lopez@Example.MX",
    "Rua São João, Açaí",
    "100%_off/\\'quoted'",
    "Ærø ß İ ǅ 東京",  # outside the table: left as written on both sides
    "",
]


def test_given_texts_when_folded_by_the_database_then_as_python_folds_them(
    engine: Engine,
) -> None:
    with engine.connect() as conn:
        for text in TEXTS:
            assert conn.scalar(select(folded(literal(text)))) == fold(text), text
        assert conn.scalar(select(folded(literal(None, String())))) is None


def test_given_mixed_case_and_accents_when_folded_then_plain_lower_case() -> None:
    assert fold("Col. Crédito CONSTRUCTOR, Ñuñoa") == "col. credito constructor, nunoa"
    assert fold("MARIA@EXAMPLE.MX") == "maria@example.mx"
    assert fold(None) is None
