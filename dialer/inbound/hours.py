"""The center's opening hours for inbound calls: open now? when does it open next?

Pure: hours per weekday in the center's IANA zone; instants in, instants out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from compliance.profile import WEEKDAYS, Window


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
