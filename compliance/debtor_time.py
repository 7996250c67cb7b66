"""The debtor's time on the agent page: the zones come from compliance's one resolver
(compliance/timezones.py: account zone, region, country, number; every candidate),
and every time shown is labelled with the zone it is in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from compliance.timezones import country_zones, resolve_zones
from store.models import Account


def debtor_zones(
    account_timezone: str | None, country: str, region: str | None, phone_e164: str | None
) -> tuple[ZoneInfo, ...]:
    """The candidate zones, strongest source first (empty: unknown, fail closed)."""
    return resolve_zones(account_timezone or None, country or "", region or None,
                         phone_e164 or "").zones  # fmt: skip


def date_zones(
    account_timezone: str | None, country: str, region: str | None, phone_e164: str | None
) -> tuple[ZoneInfo, ...]:
    """The zones the debtor's *date* may be read in: their candidates, else every zone
    of their country (a Colombian or Peruvian account is never read in Mexico City's
    date because its own zone could not be resolved); empty only for a country we
    know no zones of. For reading dates, never for deciding a contact (that fails
    closed on an unknown zone)."""
    return debtor_zones(account_timezone, country, region, phone_e164) or country_zones(country)


def local_days(now: datetime, zones: tuple[ZoneInfo, ...]) -> tuple[date, ...]:
    """The debtor's date at `now` in each zone, earliest first and without repeats:
    one date most of the day, two near midnight when the zones straddle it (23:30 in
    Tijuana is already 01:30 of the next day in Cancún). UTC's date with no zone."""
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    return tuple(sorted({aware.astimezone(z).date() for z in zones})) or (
        aware.astimezone(UTC).date(),
    )


def day_begun(day: date, zones: tuple[ZoneInfo, ...]) -> datetime:
    """The instant (UTC) from which `day` has begun in every one of `zones`: the latest
    of their midnights (local_days' earliest date is `day` from then on); UTC's midnight
    with no zone. Whatever is dated that day for the debtor (a reminder 'your payment
    is due today', a day past due) is never early wherever they are: 00:00 UTC is
    still 18:00 of the day before in Mexico City."""
    starts = [datetime.combine(day, time(0), zone) for zone in zones]
    return max(starts, default=datetime.combine(day, time(0), UTC)).astimezone(UTC)


def debtor_day(
    at: datetime, account_timezone: str | None, country: str, region: str | None
) -> date:
    """The date `at` falls on for the debtor, read in favour of the debtor: the
    earliest of their zones' dates (date_zones). A payment at 20:00 on the promise's
    day in Mexico City (02:00 UTC the next day) was made on that day, and a promise
    is over only once its day has ended in every zone the debtor may be in."""
    return local_days(at, date_zones(account_timezone, country, region, None))[0]


def account_day(at: datetime, account: Account) -> date:
    """debtor_day of an account row: what the store's promise bookkeeping is given
    (store/plan_tracking.py DebtorDay; the store reads no zones of its own)."""
    return debtor_day(at, account.timezone, account.country, account.region)


def stamp(at: datetime | None, zones: tuple[ZoneInfo, ...]) -> dict[str, Any]:
    """A time to show: in the debtor's first zone, else UTC, always with its zone."""
    if at is None:
        return {"utc": None, "local": "", "zone": ""}
    zone = zones[0] if zones else ZoneInfo("UTC")
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)
    return {
        "utc": at.isoformat(timespec="minutes"),
        "local": local.strftime("%Y-%m-%d %H:%M"),
        "zone": zone.key,
    }
