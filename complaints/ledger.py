"""The complaint ledger (投诉处理台账, guide 5.1): every case with received time, content,
handler, each stage's time and on-time flag, feedback time, result and re-check outcome."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from complaints.evidence import lacks_evidence
from complaints.forms import CASE_STATE_LABELS, RECHECK_LABELS, STAGE_LABELS
from complaints.models import STAGES, CaseStage, ComplaintCase
from core.accounts import User
from core.db import db, utcnow
from core.timeutil import from_local, to_local
from tickets.models import Ticket


def overdue_condition(now: datetime):
    return exists().where(CaseStage.case_id == ComplaintCase.id, CaseStage.completed_at.is_(None),
                          CaseStage.due_at < now)


def ledger_query(filters: dict[str, Any], now: datetime | None = None):
    """Newest first; filters: stage (or "new"), overdue, region, category, handler (user id),
    date_from / date_to (local dates of receipt)."""
    now = now or utcnow()
    query = (select(ComplaintCase).join(Ticket, ComplaintCase.ticket_id == Ticket.id)
             .options(selectinload(ComplaintCase.stages), selectinload(ComplaintCase.recordings),
                      selectinload(ComplaintCase.files), selectinload(ComplaintCase.customer),
                      selectinload(ComplaintCase.handler), selectinload(ComplaintCase.ticket)))
    stage = filters.get("stage")
    if stage == "new":
        query = query.where(ComplaintCase.stage.is_(None))
    elif stage in STAGES:
        query = query.where(ComplaintCase.stage == stage)
    if filters.get("overdue"):
        query = query.where(overdue_condition(now))
    if filters.get("region"):
        query = query.where(Ticket.region == filters["region"])
    if filters.get("category"):
        query = query.where(ComplaintCase.category == filters["category"])
    if filters.get("handler"):
        query = query.where(ComplaintCase.handler_id == int(filters["handler"]))
    if isinstance(filters.get("date_from"), date):
        query = query.where(ComplaintCase.received_at >= from_local(datetime.combine(filters["date_from"], time()), None))
    if isinstance(filters.get("date_to"), date):
        end = datetime.combine(filters["date_to"] + timedelta(days=1), time())
        query = query.where(ComplaintCase.received_at < from_local(end, None))
    return query.order_by(ComplaintCase.received_at.desc(), ComplaintCase.id.desc())


def known_values() -> dict[str, list]:
    """What the filters offer: regions and categories in use, and the handlers."""
    regions = db.session.scalars(select(Ticket.region).join(ComplaintCase, ComplaintCase.ticket_id == Ticket.id)
                                 .distinct().order_by(Ticket.region))
    categories = db.session.scalars(select(ComplaintCase.category).distinct().order_by(ComplaintCase.category))
    handlers = db.session.execute(select(User.id, User.name).join(ComplaintCase, ComplaintCase.handler_id == User.id)
                                  .distinct().order_by(User.name))
    return {"regions": [r for r in regions if r], "categories": [c for c in categories if c],
            "handlers": [(str(i), n) for i, n in handlers]}


def is_overdue(case: ComplaintCase, now: datetime) -> bool:
    return any(s.completed_at is None and s.due_at is not None and s.due_at < now for s in case.stages)


def _when(value: datetime | None, tz: str | None) -> str:
    return to_local(value, tz).strftime("%Y-%m-%d %H:%M") if value else ""


def _flag(row: CaseStage | None) -> str:
    if row is None or row.on_time is None:
        return ""
    return _("on time") if row.on_time else _("late")


def header() -> list[str]:
    cols = [_("Case number"), _("Received"), _("Customer"), _("Category"), _("Content"), _("Region"),
            _("Handler"), _("State"), _("Stage")]
    for name in STAGES:
        label = str(STAGE_LABELS[name])
        cols += [_("%(stage)s: time", stage=label), _("%(stage)s: on time", stage=label)]
    cols += [_("Feedback deadline"), _("Extended"), _("Feedback time"), _("Result: reason"),
             _("Result: measures"), _("Result: rectification plan"), _("Result: follow-up arrangement"),
             _("Re-check outcome"), _("Times reopened"), _("Recordings"), _("Files"), _("Without evidence")]
    return cols


def row(case: ComplaintCase, evidence_days: int, now: datetime) -> list[Any]:
    tz = case.customer.timezone
    cells: list[Any] = [case.number, _when(case.received_at, tz), case.customer.name, case.category,
                        case.description, case.ticket.region, case.handler.name if case.handler else "",
                        str(CASE_STATE_LABELS[case.state]), str(STAGE_LABELS[case.stage])]
    for name in STAGES:
        stage = case.current(name)
        cells += [_when(stage.completed_at if stage else None, tz), _flag(stage)]
    fed_back = case.current("fed_back")
    cells += [_when(case.feedback_due_at, tz), _("yes") if case.extended else _("no"),
              _when(fed_back.completed_at, tz), case.result_reason, case.result_measures, case.result_plan,
              case.result_followup, str(RECHECK_LABELS[case.recheck_answer]), case.reopened_count,
              len(case.recordings), sum(f.kind == "attachment" for f in case.files),
              _("yes") if lacks_evidence(case, evidence_days, now) else _("no")]
    return cells


def export_rows(filters: dict[str, Any], evidence_days: int, now: datetime | None = None) -> Iterator[list[Any]]:
    now = now or utcnow()
    yield header()
    for case in db.session.scalars(ledger_query(filters, now)):
        yield row(case, evidence_days, now)
