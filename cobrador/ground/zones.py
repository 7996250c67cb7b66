"""Time zones from the pinned `tzdata` package, never from the host's files.

Python's zoneinfo reads the host's zone files (TZPATH) before the `tzdata`
package. A host whose files predate late 2022 still has Mexico's daylight
saving time, abolished that October: it puts Mexico City at UTC-5 from April to
October, so 07:30 there passes as 08:30 and calls, texts and visits go out an
hour before the law allows. Every hour the compliance engine judges must come
from the zone data this project pins and tests (pyproject: tzdata), so
importing the `cobrador` package (the command line's first import, and the
test suite's) empties TZPATH before anything builds a zone.
"""

from __future__ import annotations

import zoneinfo


def use_pinned_zones() -> None:
    """Read zones from the `tzdata` package only, from the next zone built on.

    The cache is left alone: zones already built stay valid (and equal to
    themselves); the package import runs this before any is built.
    """
    zoneinfo.reset_tzpath(to=())
