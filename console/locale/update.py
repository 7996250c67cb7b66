"""Regenerate the catalogs from the sources: `python console/locale/update.py`
(`--check`: only report strings without an English text).

Extracts every marked string (Python `_`, `gettext_`, `N_`; jinja2 `_()`), then
writes es (identity, plus labels for code values) and en (from translations_en).
Fails if an English text is missing, so new strings never ship untranslated.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).parent
# Words the console shows that live below it (cobrador/ground: code words, money, time).
GROUND = HERE.parent.parent / "cobrador" / "ground"
# The field app's questionnaire (field/questionnaire.py): the app shows its words.
FIELD_WORDS = HERE.parent.parent / "field" / "questionnaire.py"
sys.path.insert(0, str(HERE))
from translations_en import EN, ES_VALUES  # noqa: E402


def main() -> int:
    check_only = "--check" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(HERE.parent / "babel.cfg"),
             "-k", "N_", "-k", "gettext_", "-k", "_", "--no-location", "--omit-header", "-o", str(pot), str(HERE.parent), str(GROUND), str(FIELD_WORDS)],
            check=True, capture_output=True,
        )  # fmt: skip
        with pot.open("rb") as fh:
            template = read_po(fh)
    missing = []
    for lang, table in (("en", EN), ("es", ES_VALUES)):
        catalog = Catalog(locale=lang, project="cobrador console", fuzzy=False)
        ids = [m.id for m in template if m.id] + [k for k in table if k not in template]
        for msgid in ids:
            text = table.get(msgid, "")
            if lang == "en" and not text:
                missing.append(msgid)
            if text:
                catalog.add(msgid, text)
        if check_only:
            continue
        out = HERE / lang / "LC_MESSAGES" / "messages.po"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as fh:
            write_po(fh, catalog, omit_header=False, sort_output=True, width=100)
    if missing:
        print("missing English texts:\n" + "\n".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
