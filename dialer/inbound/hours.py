"""The center's opening hours for inbound calls: open now? when does it open next?

Pure: hours per weekday in the center's IANA zone; instants in, instants out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance.profile import WEEKDAYS, ProfileError, Window, _parse_windows


@dataclass(frozen=True)
class OpeningHours:
    zone: ZoneInfo
    days: tuple[tuple[Window, ...], ...]  # 7 entries, Monday first

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(w.contains(minute) for w in self.days[local.weekday()])

    def next_opening(self, at: datetime) -> datetime | None:
        """The first opening instant after `at` (at itself when open); None if never open."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        for offset in range(0, 8):
            day = local.date() + timedelta(days=offset)
            for window in self.days[day.weekday()]:
                start = datetime.combine(
                    day, time(window.start // 60, window.start % 60), tzinfo=self.zone
                )
                if start > at:
                    return start
        return None

    def describe(self) -> dict[str, list[str]]:
        return {d: [str(w) for w in ws] for d, ws in zip(WEEKDAYS, self.days, strict=True)}


def parse_hours(raw: Mapping[str, Any], zone: ZoneInfo) -> OpeningHours:
    from dialer.inbound.settings import InboundSettingsError

    if not isinstance(raw, Mapping):
        raise InboundSettingsError("inbound.hours: expected a table of weekdays")
    try:
        days = tuple(_parse_windows(raw.get(d, []), f"inbound.hours.{d}") for d in WEEKDAYS)
    except ProfileError as exc:
        raise InboundSettingsError(str(exc)) from exc
    return OpeningHours(zone, days)
