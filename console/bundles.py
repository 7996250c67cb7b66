"""The browser bundles built by node from their lockfiles (`make install`:
scripts/build-phone, scripts/build-map), which a checkout does not carry: the
agent's web phone and the supervisors' field map. A server started without them
still serves every page; this says which are missing so the operator hears it at
start and the page that needs one says so instead of staying blank."""

from __future__ import annotations

from pathlib import Path

# What each bundle is for, and the files `make install` writes for it.
BUNDLES: dict[str, tuple[str, ...]] = {
    "phone": ("phone.js",),
    "map": ("map.js", "map.css"),
}


def missing(static_dir: Path) -> dict[str, list[str]]:
    """Each bundle with a file absent (or empty) under `static_dir`, with those files."""
    out: dict[str, list[str]] = {}
    for name, files in BUNDLES.items():
        absent = [f for f in files if not _present(static_dir / f)]
        if absent:
            out[name] = absent
    return out


def _present(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False
