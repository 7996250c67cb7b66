"""How long a campaign keeps its recordings (campaign config `recording_retention_days`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

CONFIG_KEY = "recording_retention_days"
DEFAULT_RETENTION_DAYS = 365
MAX_RETENTION_DAYS = 36_500  # a hundred years: beyond that the setting is a typo


def retention_days(config: Mapping[str, Any] | None) -> int:
    """The campaign's retention in days; the default when unset or unusable.

    An unusable value (not a whole number of days in 1..36500) falls back to
    the default with a warning: a recording is never lost to a config typo.
    """
    raw = (config or {}).get(CONFIG_KEY)
    if raw is None:
        return DEFAULT_RETENTION_DAYS
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        log.warning("campaign %s=%r is not a number of days; using %d", CONFIG_KEY, raw,
                    DEFAULT_RETENTION_DAYS)  # fmt: skip
        return DEFAULT_RETENTION_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_RETENTION_DAYS:
        log.warning("campaign %s=%r is outside 1..%d; using %d", CONFIG_KEY, raw,
                    MAX_RETENTION_DAYS, DEFAULT_RETENTION_DAYS)  # fmt: skip
        return DEFAULT_RETENTION_DAYS
    return days


def retention_until(ended_at: datetime, config: Mapping[str, Any] | None) -> datetime:
    """The instant after which a purge may delete the file (unless it is held)."""
    return ended_at + timedelta(days=retention_days(config))
