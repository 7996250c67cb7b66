"""Hostile registry files (REUS...): a file the reader cannot take whole is one
RegistryImportError that says why, read in bounded memory; never csv.Error or a
line read whole however long."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.registry_import import MAX_REJECTS, RegistryImportError, read_registry_file
from store.importing.csv_source import MAX_LINE_CHARS


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "reus.csv"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"5" * (MAX_LINE_CHARS + 10), "line 1 is longer than"),
        (b"5512345678\n" + b"5" * (MAX_LINE_CHARS + 10), "line 2 is longer than"),
        (b"phone,name\n5512345678," + b"x" * 200_000 + b"\n", "a cell is longer than 131072"),
        (b'phone,"' + b"x" * 200_000 + b'"\n5512345678,a\n', "a cell is longer than 131072"),
        ("phone\n5512345678\n".encode("utf-16"), "UTF-16 text; save it as UTF-8"),
    ],
)  # fmt: skip
def test_given_a_file_no_registry_is_then_a_registry_import_error(
    tmp_path: Path, data: bytes, message: str
) -> None:
    with pytest.raises(RegistryImportError, match=message):
        read_registry_file(write(tmp_path, data), "MX")


def test_given_more_bad_lines_than_the_bound_then_stopped_with_the_first_ones_reported(
    tmp_path: Path,
) -> None:
    with pytest.raises(RegistryImportError, match="over 10 bad lines") as caught:
        read_registry_file(write(tmp_path, b"nope\n" * 100), "MX", max_rejects=10)
    assert [r.line for r in caught.value.rejects][:3] == [1, 2, 3]
    assert MAX_REJECTS >= 1_000_000  # a real registry's few bad lines are far below it
