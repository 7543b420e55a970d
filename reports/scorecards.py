"""Scorecards per front-line agent and per team (region), guide 4.2: CSAT and resolution rate
with 95 % Wilson intervals, callback on-time % and first-contact hours, ranked by the lower
bound of the CSAT interval so a lucky small sample never tops the table."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, case, func, select

from callbacks.models import Attempt, CallbackTask
from core.db import db
from reports.models import response_rollups
from reports.rollups import sums
from reports.stats import hours_summary, pct, percent_interval
from tickets.models import Ticket

LOW_SAMPLE = 30
GROUPS = ("agent", "region")


CARD_MEASURES = ("n", "overall_n", "top2", "resolved_n", "resolved_yes")


def _response_sums(scope, by: str) -> list[dict]:
    return sums(response_rollups, scope.date_from, scope.date_to, scope.breakdown_filters, by=(by,),
                measures=CARD_MEASURES)


def callback_figures(scope, by: str) -> dict[str, dict]:
    """Callback tasks created in the period, attributed to the agent / region of their ticket."""
    start, end = scope.utc_bounds()
    first_attempt = (select(Attempt.task_id, func.min(Attempt.at).label("first_at"))
                     .group_by(Attempt.task_id).subquery())
    on_time = and_(CallbackTask.met_at.is_not(None), CallbackTask.met_at <= CallbackTask.due_at)
    rows = db.session.execute(
        select(getattr(Ticket, by).label("key"), Ticket.handled_at, first_attempt.c.first_at,
               case((on_time, 1), else_=0).label("on_time"),
               case((CallbackTask.met_at.is_not(None), 1), else_=0).label("met"))
        .join(Ticket, CallbackTask.ticket_id == Ticket.id)
        .outerjoin(first_attempt, first_attempt.c.task_id == CallbackTask.id)
        .where(CallbackTask.created_at >= start, CallbackTask.created_at < end))
    out: dict[str, dict] = defaultdict(lambda: {"total": 0, "on_time": 0, "hours": []})
    for key, handled_at, first_at, in_time, _met in rows:
        group = out[key or "—"]
        group["total"] += 1
        group["on_time"] += in_time
        if first_at is not None and handled_at is not None:
            group["hours"].append((first_at - handled_at).total_seconds() / 3600)
    return out


def scorecards(scope, by: str = "agent", summed: list[dict] | None = None,
               callbacks: dict[str, dict] | None = None) -> list[dict[str, Any]]:
    """One card per agent (or region), highest CSAT lower bound first; unknown bounds last.
    `summed` (the scope's rollup sums by `by` with CARD_MEASURES) and `callbacks` (its
    callback_figures): when the caller has read them already."""
    if by not in GROUPS:
        raise ValueError(by)
    rows = summed if summed is not None else _response_sums(scope, by)
    responses = {row[by] or "—": row for row in rows if row["n"]}
    callbacks = callbacks if callbacks is not None else callback_figures(scope, by)
    cards = []
    for key in sorted(set(responses) | set(callbacks)):
        s = responses.get(key, {})
        c = callbacks.get(key, {"total": 0, "on_time": 0, "hours": []})
        hours = c["hours"]
        cards.append({
            by: key, "n": s.get("n", 0),
            "csat": percent_interval(s.get("top2") or 0, s.get("overall_n") or 0),
            "resolution_rate": percent_interval(s.get("resolved_yes") or 0, s.get("resolved_n") or 0),
            "callbacks": {"total": c["total"], "on_time": c["on_time"], "sla": pct(c["on_time"], c["total"])},
            "first_contact_hours": hours_summary(hours),
            "low_sample": s.get("n", 0) < LOW_SAMPLE})
    cards.sort(key=lambda card: (card["csat"]["ci_low"] is None, -(card["csat"]["ci_low"] or 0)))
    return cards


def staff_scorecard(scope, user_id: int) -> dict[str, Any]:
    """A callback agent's own card: the tasks they owned that were created in the period,
    closed, on time, resolved (with its interval) and hours from handling to their first call."""
    start, end = scope.utc_bounds()
    first_attempt = (select(Attempt.task_id, func.min(Attempt.at).label("first_at"))
                     .where(Attempt.staff_id == user_id).group_by(Attempt.task_id).subquery())
    rows = db.session.execute(
        select(CallbackTask.state, CallbackTask.met_at, CallbackTask.due_at, CallbackTask.resolved,
               func.coalesce(Ticket.handled_at, CallbackTask.created_at), first_attempt.c.first_at)
        .outerjoin(Ticket, CallbackTask.ticket_id == Ticket.id)
        .outerjoin(first_attempt, first_attempt.c.task_id == CallbackTask.id)
        .where(CallbackTask.owner_id == user_id, CallbackTask.created_at >= start,
               CallbackTask.created_at < end)).all()
    hours = [(first - since).total_seconds() / 3600 for *_rest, since, first in rows if first is not None]
    on_time = sum(1 for _state, met, due, *_rest in rows if met is not None and met <= due)
    answered = [resolved for _s, _m, _d, resolved, *_rest in rows if resolved is not None]
    return {"tasks": len(rows), "closed": sum(1 for state, *_rest in rows if state == "done"),
            "callbacks": {"total": len(rows), "on_time": on_time, "sla": pct(on_time, len(rows))},
            "resolution_rate": percent_interval(sum(answered), len(answered)),
            "first_contact_hours": hours_summary(hours),
            "low_sample": len(rows) < LOW_SAMPLE}
