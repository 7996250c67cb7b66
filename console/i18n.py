"""Console translations: Spanish source strings, English from a Babel catalog.

The message ids are the Spanish texts, so Spanish never depends on a catalog.
The English ``.po`` ships in the package and is compiled in memory at start-up
(no build step, no binary files in the repository).
"""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"

_current: ContextVar[gettext.NullTranslations | None] = ContextVar(
    "console_translations", default=None
)
_language: ContextVar[str] = ContextVar("console_language", default=DEFAULT_LANGUAGE)
_SPANISH = gettext.NullTranslations()
_catalogs: dict[str, gettext.NullTranslations] = {}


def load_catalogs() -> dict[str, gettext.NullTranslations]:
    if _catalogs:
        return _catalogs
    _catalogs["es"] = gettext.NullTranslations()
    for lang in LANGUAGES:
        po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        _catalogs[lang] = gettext.GNUTranslations(buf)
    return _catalogs


def activate(lang: str) -> str:
    """Make ``lang`` the language of the current task; returns the language used."""
    catalogs = load_catalogs()
    chosen = lang if lang in catalogs else DEFAULT_LANGUAGE
    _current.set(catalogs[chosen])
    _language.set(chosen)
    return chosen


def current_language() -> str:
    """The language ``activate`` chose for the current task ("es" when none was)."""
    return _language.get()


def gettext_(message: str) -> str:
    return (_current.get() or _SPANISH).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return (_current.get() or _SPANISH).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


_ = gettext_


class FilledMessage(ValueError):
    """A refusal worded as a Spanish msgid with {placeholders}: translated where it is
    shown (the person's language), then filled in (a typed amount, a date format...)."""

    def __init__(self, msgid: str, fill: dict[str, str]) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.fill = fill

    def render(self, tr: object = None) -> str:
        text = tr(self.msgid) if callable(tr) else self.msgid
        for key, value in self.fill.items():
            text = text.replace("{" + key + "}", value)
        return str(text)
