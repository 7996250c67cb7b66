"""Where the browser tests write their screenshots: build/screenshots/ by default, so a
test run leaves the work tree clean; the README's docs/screenshots/ only when asked
(`make screenshots` sets COBRADOR_SCREENSHOTS_DIR=docs/screenshots)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "build" / "screenshots"

# The browser of a floor in Mexico (the demo data's country): its language and its
# clock. Chromium's own zone is UTC, and every time a page shows in the reader's zone
# ("Mi día" from the agent's midnight, the wallboard's figures) would read "UTC" in
# the README's pictures, which no floor sees. Spread into `browser.new_context(...)`.
FLOOR_BROWSER = {"locale": "es-MX", "timezone_id": "America/Mexico_City"}


def screenshot_path(name: str) -> str:
    """The file to write screenshot `name` to (its directory made if missing);
    COBRADOR_SCREENSHOTS_DIR, when set, is taken from the repository's root."""
    configured = os.environ.get("COBRADOR_SCREENSHOTS_DIR")
    directory = REPO / configured if configured else DEFAULT
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory / name)
