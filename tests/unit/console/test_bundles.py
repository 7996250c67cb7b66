"""The browser bundles a checkout lacks until `make install` (console/bundles.py): a
demo started from a fresh clone served the field page without its map, and with it
the list and the plan form the map's script draws, with nothing said anywhere."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from console import bundles
from console.app import _warn_missing_bundles

ROOT = Path(__file__).resolve().parents[3]


def test_given_an_empty_static_dir_then_both_bundles_are_missing_with_their_files(
    tmp_path: Path,
) -> None:
    assert bundles.missing(tmp_path) == {"phone": ["phone.js"], "map": ["map.js", "map.css"]}


def test_given_the_map_without_its_stylesheet_or_an_empty_file_then_it_is_still_missing(
    tmp_path: Path,
) -> None:
    (tmp_path / "phone.js").write_text("x")
    (tmp_path / "map.js").write_text("x")
    (tmp_path / "map.css").write_text("")  # an interrupted build
    assert bundles.missing(tmp_path) == {"map": ["map.css"]}
    (tmp_path / "map.css").write_text("x")
    assert bundles.missing(tmp_path) == {}


def test_given_a_static_dir_without_bundles_then_the_operator_is_told_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="console.app"):
        _warn_missing_bundles(tmp_path)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "browser phone is not built" in said and "field map is not built" in said
    assert said.count("make install") == 2


def test_given_the_bundles_built_then_nothing_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("phone.js", "map.js", "map.css"):
        (tmp_path / name).write_text("x")
    with caplog.at_level(logging.WARNING, logger="console.app"):
        _warn_missing_bundles(tmp_path)
    assert caplog.records == []


@pytest.mark.parametrize("target", ["demo", "install", "unit"])
def test_given_the_bundles_sources_changed_then_make_target_rebuilds_them(target: str) -> None:
    # `make demo` depended on the Python install only: a fresh clone's demo had no map.
    out = subprocess.run(
        ["make", "-n", "-W", "console/phone-src/package.json",
         "-W", "console/map-src/package.json", target],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "scripts/build-phone" in out and "scripts/build-map" in out
