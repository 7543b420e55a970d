"""The KPIs of SPEC "KPIs" (guide 1.1, 7.2): resolution rate, complaint rate, hours to first
contact and the complaint loop's figures, for the report's period."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from callbacks.models import Attempt, CallbackTask
from complaints.models import CaseStage, ComplaintCase
from core.db import db, utcnow
from reports.models import response_rollups
from reports.rollups import sums
from reports.stats import hours_summary, pct, percent_interval
from tickets.models import Ticket


def resolution_rate(scope) -> dict[str, Any]:
    """% of responses answering `resolved` = yes among those that answered it, with its 95 %
    Wilson interval (from the rollups' sums)."""
    s = sums(response_rollups, scope.date_from, scope.date_to, scope.breakdown_filters,
             measures=("resolved_n", "resolved_yes"))[0]
    return percent_interval(s["resolved_yes"], s["resolved_n"])


def _ticket_filters(scope) -> list:
    return [getattr(Ticket, k) == v for k, v in scope.filters.items() if k in ("region", "agent") and v]


def complaint_rate(scope) -> float | None:
    """Complaints per 1,000 tickets handled in the period."""
    start, end = scope.utc_bounds()
    total, complaints = db.session.execute(
        select(func.count(), func.sum(case((Ticket.kind == "complaint", 1), else_=0)))
        .where(Ticket.handled_at >= start, Ticket.handled_at < end, *_ticket_filters(scope))).one()
    return round(1000 * (complaints or 0) / total, 1) if total else None


def first_contact_hours(scope) -> dict[str, Any]:
    """Hours from the ticket's handled_at to the task's first recorded attempt, over callback
    tasks created in the period (tasks not yet attempted are left out)."""
    start, end = scope.utc_bounds()
    first = (select(Attempt.task_id, func.min(Attempt.at).label("at")).group_by(Attempt.task_id).subquery())
    rows = db.session.execute(
        select(Ticket.handled_at, first.c.at)
        .select_from(CallbackTask)
        .join(first, first.c.task_id == CallbackTask.id)
        .join(Ticket, Ticket.id == CallbackTask.ticket_id)
        .where(CallbackTask.created_at >= start, CallbackTask.created_at < end, *_ticket_filters(scope))).all()
    hours = [(at - handled).total_seconds() / 3600 for handled, at in rows]
    return {**hours_summary(hours), "n": len(hours)}


def complaint_figures(scope, now: datetime | None = None) -> dict[str, Any]:
    """Cases received in the period: how many, the share of feedback deadlines met (of those
    that can be judged: fed back, or past due), how many were reopened and extended."""
    start, end = scope.utc_bounds()
    now = now or utcnow()
    received = [ComplaintCase.received_at >= start, ComplaintCase.received_at < end]
    if _ticket_filters(scope):
        received.append(ComplaintCase.ticket_id.in_(select(Ticket.id).where(*_ticket_filters(scope))))
    total, reopened, extended = db.session.execute(select(
        func.count(), func.sum(case((ComplaintCase.reopened_count > 0, 1), else_=0)),
        func.sum(case((ComplaintCase.extended.is_(True), 1), else_=0))).where(*received)).one()
    judged, on_time = db.session.execute(
        select(func.count(), func.sum(case((CaseStage.on_time.is_(True), 1), else_=0)))
        .join(ComplaintCase, ComplaintCase.id == CaseStage.case_id)
        .where(*received, CaseStage.name == "fed_back",
               or_(CaseStage.completed_at.is_not(None), and_(CaseStage.due_at.is_not(None), CaseStage.due_at < now)))
    ).one()
    return {"total": total, "feedback_on_time": pct(on_time or 0, judged), "feedback_judged": judged,
            "reopened": reopened or 0, "extended": extended or 0}


def compute_kpis(scope, now: datetime | None = None) -> dict[str, Any]:
    return {"resolution_rate": resolution_rate(scope), "complaint_rate": complaint_rate(scope),
            "first_contact_hours": first_contact_hours(scope), "complaints": complaint_figures(scope, now)}
