"""Local time, quiet hours and working days."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Shanghai"


def to_local(utc_naive: datetime, tz: str | None) -> datetime:
    return utc_naive.replace(tzinfo=UTC).astimezone(ZoneInfo(tz or DEFAULT_TZ))


def to_utc_naive(aware: datetime) -> datetime:
    if aware.tzinfo is UTC:  # the usual "Z": no conversion, a third of the cost (a million times an import)
        return aware.replace(tzinfo=None)
    return aware.astimezone(UTC).replace(tzinfo=None)


def from_local(local_naive: datetime, tz: str | None) -> datetime:
    """A wall-clock time in `tz` (as a form gives it) to naive UTC."""
    return to_utc_naive(local_naive.replace(tzinfo=ZoneInfo(tz or DEFAULT_TZ)))


def parse_iso(value: str) -> datetime:
    """ISO 8601 to naive UTC; a value without offset is taken as UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return to_utc_naive(parsed) if parsed.tzinfo else parsed


RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 date-time (what OpenAPI's `format: date-time` means: an offset is required)
    to naive UTC; ValueError otherwise. A leap second reads as :59, fractions beyond
    microseconds are cut."""
    match = RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("not an RFC 3339 date-time")
    day, minutes, seconds, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]
    seconds = "59" if seconds == "60" else seconds
    return parse_iso(f"{day}T{minutes}:{seconds}{fraction}{offset.upper()}")


def within_allowed_hours(utc_naive: datetime, tz: str | None, start: int, end: int) -> datetime:
    """The first moment at or after `utc_naive` that falls in [start, end) local time."""
    local = to_local(utc_naive, tz)
    if local.hour < start:
        local = local.replace(hour=start, minute=0, second=0, microsecond=0)
    elif local.hour >= end:
        local = (local + timedelta(days=1)).replace(hour=start, minute=0, second=0, microsecond=0)
    return to_utc_naive(local)


def is_working_day(day: date, holidays: set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(utc_naive: datetime, days: int, tz: str | None, holidays: list[str]) -> datetime:
    """The same local time of day, `days` working days later (weekends and holidays skipped)."""
    off = {date.fromisoformat(h) for h in holidays}
    local = to_local(utc_naive, tz)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if is_working_day(local.date(), off):
            added += 1
    return to_utc_naive(local)


class LocalCalendar:
    """`within_allowed_hours` and `add_working_days` for a batch of many times (bulk intake), with
    the same answers for less work: a zone's offset is looked up once per UTC hour (when it is
    the same at both ends of the hour), a time outside the allowed hours moves where the first
    of its local day, side and offset moved, and working days are counted once per local date."""

    def __init__(self, holidays: list[str]):
        self.holidays = holidays
        self._off = {date.fromisoformat(h) for h in holidays}
        self._offsets: dict[tuple[str | None, datetime], timedelta | None] = {}
        self._moved: dict[tuple, datetime] = {}
        self._shifts: dict[tuple[date, int], int] = {}

    def _offset(self, utc_naive: datetime, tz: str | None) -> timedelta | None:
        key = (tz, utc_naive.replace(minute=0, second=0, microsecond=0))
        if key not in self._offsets:
            first = to_local(key[1], tz).utcoffset()
            last = to_local(key[1] + timedelta(hours=1, microseconds=-1), tz).utcoffset()
            self._offsets[key] = first if first == last else None  # a change within the hour
        return self._offsets[key]

    def within_allowed_hours(self, utc_naive: datetime, tz: str | None, start: int, end: int) -> datetime:
        offset = self._offset(utc_naive, tz)
        if offset is None:
            return within_allowed_hours(utc_naive, tz, start, end)
        local = utc_naive + offset
        if start <= local.hour < end:
            return utc_naive
        # Moved to `start` on its local day or the next: the same for its day, side and offset
        # (the offset tells a repeated hour's second pass, whose fold the move keeps).
        key = (tz, local.date(), local.hour < start, offset, start, end)
        if key not in self._moved:
            self._moved[key] = within_allowed_hours(utc_naive, tz, start, end)
        return self._moved[key]

    def add_working_days(self, utc_naive: datetime, days: int, tz: str | None, holidays: list[str]) -> datetime:
        if holidays is not self.holidays:
            return add_working_days(utc_naive, days, tz, holidays)
        local = to_local(utc_naive, tz)
        key = (local.date(), days)
        if key not in self._shifts:
            shift = added = 0
            while added < days:
                shift += 1
                added += is_working_day(key[0] + timedelta(days=shift), self._off)
            self._shifts[key] = shift
        shift = self._shifts[key]
        return to_utc_naive(local + timedelta(days=shift) if shift else local)  # + 0 days would drop the fold


def iso_utc(utc_naive: datetime | None) -> str | None:
    """A stored (naive UTC) time as the API and webhooks write it: ISO 8601 with `Z`."""
    return utc_naive.isoformat() + "Z" if utc_naive else None
