"""Local time, quiet hours and working days."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Shanghai"


def to_local(utc_naive: datetime, tz: str | None) -> datetime:
    return utc_naive.replace(tzinfo=UTC).astimezone(ZoneInfo(tz or DEFAULT_TZ))


def to_utc_naive(aware: datetime) -> datetime:
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


def iso_utc(utc_naive: datetime | None) -> str | None:
    """A stored (naive UTC) time as the API and webhooks write it: ISO 8601 with `Z`."""
    return utc_naive.isoformat() + "Z" if utc_naive else None
