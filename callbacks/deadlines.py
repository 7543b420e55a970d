"""Deadlines from the service guide (chapters 2.3, 5.1, 5.3), configurable in the rules."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from core.timeutil import add_working_days


def deadline(kind: str, start: datetime, rules: dict[str, Any], tz: str | None,
             add_days: Callable[[datetime, int, str | None, list[str]], datetime] = add_working_days) -> datetime:
    """`add_days` counts working days (batch intake passes a LocalCalendar's, same answers)."""
    if kind == "complaint_feedback":
        days = min(int(rules["deadline_complaint_feedback_working_days"]),
                   int(rules["deadline_complaint_max_working_days"]))
        return add_days(start, days, tz, rules["holidays"])
    hours = {
        "post_handling": rules["deadline_post_handling_hours"],
        "complaint_accept": rules["deadline_complaint_accept_hours"],
        "complaint_investigate": rules["deadline_complaint_investigate_hours"],
        # A reopened complaint (二次跟踪) is handled again within the investigation time.
        "complaint_followup": rules["deadline_complaint_investigate_hours"],
        "detractor": rules["deadline_detractor_hours"],
    }[kind]
    return start + timedelta(hours=float(hours))


def callbacks_for_ticket(ticket_kind: str, rules: dict[str, Any]) -> list[str]:
    """The task kinds a handled ticket opens. Complaints always get their three stages."""
    if ticket_kind == "complaint":
        return ["complaint_accept", "complaint_investigate", "complaint_feedback"]
    if ticket_kind in rules["callback_kinds"]:
        return ["post_handling"]
    return []
