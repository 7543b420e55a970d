"""Report periods: the label of the week, month or quarter a local date falls in."""
from __future__ import annotations

from datetime import date


def period_of(day: date, period: str) -> str:
    """2026-W23, 2026-06 or 2026-Q2."""
    if period == "week":
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"
