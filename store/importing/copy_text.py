"""PostgreSQL COPY text format, built where the rows are validated.

Import workers encode their rows as COPY text (backslash escapes and `\\N` for
NULL, see https://www.postgresql.org/docs/current/sql-copy.html), so the
importing process only prepends ids and streams the text: no per-value
adaptation in the one process every row goes through. The output is byte for
byte what psycopg's own `Copy.write_row` sends (tests/unit/imports compare).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

NULL = "\\N"
# The characters psycopg escapes in COPY text.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r",
                          "\b": "\\b", "\f": "\\f", "\v": "\\v"})  # fmt: skip
_NEEDS_ESCAPE = re.compile("[\\\\\t\n\r\b\f\v]")


def text(value: str | None) -> str:
    if value is None:
        return NULL
    # Most values need no escape; translate() costs more than the search.
    return value.translate(_ESCAPES) if _NEEDS_ESCAPE.search(value) else value


def boolean(value: bool) -> str:
    return "t" if value else "f"


def instant(value: datetime) -> str:
    return str(value)  # "2026-11-24 05:00:00.000123+00:00", as psycopg writes it


def day(value: date | None) -> str:
    return NULL if value is None else value.isoformat()


def json_text(value: Any) -> str:
    return text(json.dumps(value))  # JSON escapes control characters, not backslashes
