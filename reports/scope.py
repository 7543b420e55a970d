"""What a report covers: local dates and breakdown filters (shared by the figures and the
stored themes)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.db import utcnow
from core.timeutil import DEFAULT_TZ, to_local
from surveys.models import Response

BREAKDOWNS = ("channel", "ticket_kind", "region", "agent")


def local_today() -> date:
    """Today in the reporting time zone, whose days reports count: from 16:00 UTC on it is
    already tomorrow's date there, and a range ending on the UTC date left today out."""
    return to_local(utcnow(), None).date()


@dataclass
class Scope:
    """What a report covers: local dates [date_from, date_to] and optional filters."""
    date_from: date
    date_to: date
    filters: dict[str, str] = field(default_factory=dict)
    tz: str = DEFAULT_TZ

    @property
    def offset_hours(self) -> float:
        start = datetime.combine(self.date_from, datetime.min.time(), ZoneInfo(self.tz))
        return start.utcoffset().total_seconds() / 3600

    def utc_bounds(self) -> tuple[datetime, datetime]:
        shift = timedelta(hours=self.offset_hours)
        start = datetime.combine(self.date_from, datetime.min.time()) - shift
        return start, datetime.combine(self.date_to + timedelta(days=1), datetime.min.time()) - shift

    @property
    def breakdown_filters(self) -> dict[str, str]:
        return {k: v for k, v in self.filters.items() if k in BREAKDOWNS and v}

    def where(self, column=Response.completed_at) -> list:
        start, end = self.utc_bounds()
        clauses = [column >= start, column < end]
        clauses += [getattr(Response, k) == v for k, v in self.filters.items() if k in BREAKDOWNS and v]
        return clauses
