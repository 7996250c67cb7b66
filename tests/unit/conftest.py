"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import pytest


@dataclass
class ScanCount:
    """Bytes a parser's buffers examined with find/rfind/count (rescans included)."""

    examined: int = 0


def _span(length: int, start: int | None, end: int | None) -> tuple[int, int]:
    first, last, _ = slice(start, end).indices(length)
    return first, max(first, last)


def _counting_bytearray(counter: ScanCount) -> type[bytearray]:
    class CountingBuffer(bytearray):
        """A bytearray that adds up the bytes each search looks at."""

        def find(self, sub, start=None, end=None):  # type: ignore[no-untyped-def, override]
            first, last = _span(len(self), start, end)
            hit = super().find(sub, first, last)
            size = len(sub) if isinstance(sub, bytes | bytearray) else 1
            counter.examined += (hit + size - first) if hit >= 0 else last - first
            return hit

        def index(self, sub, start=None, end=None):  # type: ignore[no-untyped-def, override]
            hit = self.find(sub, start, end)
            if hit < 0:
                raise ValueError("subsection not found")
            return hit

        def rfind(self, sub, start=None, end=None):  # type: ignore[no-untyped-def, override]
            first, last = _span(len(self), start, end)
            hit = super().rfind(sub, first, last)
            counter.examined += (last - hit) if hit >= 0 else last - first
            return hit

        def count(self, sub, start=None, end=None):  # type: ignore[no-untyped-def, override]
            first, last = _span(len(self), start, end)
            counter.examined += last - first
            return super().count(sub, first, last)

    return CountingBuffer


@pytest.fixture
def scan_count(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType], ScanCount]:
    """`scan_count(module)`: every bytearray that module makes counts the bytes it searches.

    A parser that rescans its buffer on every feed shows it here as work
    growing with the square of the input, without timing anything.
    """

    def install(module: ModuleType) -> ScanCount:
        counter = ScanCount()
        monkeypatch.setattr(module, "bytearray", _counting_bytearray(counter), raising=False)
        return counter

    return install
