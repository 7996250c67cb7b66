"""Every console string has an English text, and English pages render in English."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from console.i18n import activate, gettext_

REPO = Path(__file__).resolve().parents[3]


def test_given_console_sources_when_extracting_strings_then_none_lacks_english() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "console" / "locale" / "update.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_given_english_active_when_translating_then_english_and_spanish_by_default() -> None:
    assert activate("en") == "en"
    assert gettext_("Usuario o contraseña incorrectos.") == "Wrong user name or password."
    assert activate("fr") == "es"
    assert gettext_("Usuario o contraseña incorrectos.") == "Usuario o contraseña incorrectos."
