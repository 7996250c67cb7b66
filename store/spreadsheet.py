"""CSV that is safe to open in a spreadsheet: every CSV the project writes goes through here.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read by Excel, LibreOffice and Google Sheets as a formula (CSV injection,
OWASP): such a cell is written with a leading ``'`` so it shows as text.
Plain numbers keep their form, so phone numbers (``+5255...``) and negative
amounts stay readable and sortable. ``EXCEL_ES`` is the flavour a Spanish
Excel opens with a double click: UTF-8 with a BOM and ``;`` between cells.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A phone number or an amount: sign, digits, spaces, one decimal separator.
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d ]*(?:[.,]\d+)?")


def safe_cell(value: Any) -> str:
    """The cell as a spreadsheet should show it: text, never a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


@dataclass(frozen=True)
class Flavour:
    name: str
    delimiter: str
    bom: bool


STANDARD = Flavour("csv", ",", False)
EXCEL_ES = Flavour("excel-es", ";", True)
FLAVOURS = {f.name: f for f in (STANDARD, EXCEL_ES)}


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


class SafeWriter:
    """csv.writer whose every cell goes through ``safe_cell``."""

    def __init__(self, fh: _Writable, flavour: Flavour = STANDARD) -> None:
        if flavour.bom:
            fh.write("\ufeff")
        self._writer = csv.writer(fh, delimiter=flavour.delimiter)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])
