"""The results API (scope `results:read`): completed responses with a stable cursor, the JSON
report, callback tasks and a complaint's case status. Thin views over plain functions."""
from __future__ import annotations

import base64
import binascii
from datetime import date, datetime

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from callbacks.models import ACTIVE_STATES, CallbackTask
from complaints.models import CaseStage, ComplaintCase
from core.api import api_error, require_scope
from core.db import db
from core.timeutil import iso_utc, parse_iso
from reports.figures import compute_report
from surveys.feed import feed_page, position
from surveys.models import DIMENSIONS, Response
from tickets.models import Ticket

bp = Blueprint("results", __name__, url_prefix="/api/v1")
MAX_LIMIT = 1000
TASK_STATES = (*ACTIVE_STATES, "done", "unreachable")
PERIODS = ("week", "month", "quarter")
EARLIEST = date(1900, 1, 1)
LONGEST_REPORT_DAYS = 3 * 366


class BadQuery(ValueError):
    """Field errors of a query string: {parameter: message}. 400 when a value does not match
    the API description; 422 when well-formed values contradict each other."""

    def __init__(self, errors: dict[str, str], status: int = 400):
        super().__init__("invalid query parameters")
        self.errors, self.status = errors, status


@bp.errorhandler(BadQuery)
def bad_query(exc: BadQuery):
    return api_error(exc.status, "invalid query parameters", exc.errors)


# ---- cursors and parameters ----------------------------------------------------------------

def encode_cursor(*position: int) -> str:
    return base64.urlsafe_b64encode(".".join(map(str, position)).encode()).decode().rstrip("=")


def decode_cursor(value: str, parts: int) -> tuple[int, ...]:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        position = tuple(int(p) for p in text.split("."))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        position = ()
    if len(position) != parts or any(p < 0 for p in position):
        raise BadQuery({"cursor": "is not a cursor this API returned"}, 422)
    return position


def _limit() -> int:
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadQuery({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return int(raw)


def _since() -> datetime | None:
    raw = request.args.get("since")
    if raw is None:
        return None
    try:
        since = parse_iso(raw)
    except ValueError:
        since = None
    if since is None or since.year < EARLIEST.year:
        raise BadQuery({"since": "must be an ISO 8601 date-time from 1900 on, e.g. 2026-11-01T00:00:00Z"})
    return since


def _date(name: str) -> date:
    raw = request.args.get(name)
    try:
        value = date.fromisoformat(raw) if raw else None
    except ValueError:
        value = None
    if value is None or value < EARLIEST:
        raise BadQuery({name: "is required: a date from 1900-01-01 on, e.g. 2026-01-01"})
    return value


def _choice(name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    value = request.args.get(name, default)
    if value is not None and value not in choices:
        raise BadQuery({name: f"must be one of {', '.join(choices)}"})
    return value


# ---- responses -----------------------------------------------------------------------------

def response_json(response: Response, tickets: dict[int, str]) -> dict:
    return {"id": response.id, "completed_at": iso_utc(response.completed_at), "channel": response.channel,
            "respondent": response.respondent or None, "ticket_external_id": tickets.get(response.ticket_id),
            "ticket_kind": response.ticket_kind or None, "region": response.region or None,
            "agent": response.agent or None,
            "questionnaire": {"key": response.version.questionnaire.key, "version": response.version.number},
            "overall": response.overall, "nps": response.nps, "satisfaction_index": response.satisfaction_index,
            "resolved": response.resolved, "dimensions": {d: getattr(response, d) for d in DIMENSIONS},
            "answers": response.answer_map()}


@bp.get("/responses")
@require_scope("results:read")
def list_responses():
    after = decode_cursor(request.args["cursor"], 3) if "cursor" in request.args else None
    limit = _limit()
    page = feed_page(after, _since(), limit + 1)
    more = len(page) > limit
    page = page[:limit]
    ids = {r.ticket_id for r in page if r.ticket_id}
    rows = db.session.execute(select(Ticket.id, Ticket.external_id).where(Ticket.id.in_(ids))).all() if ids else []
    tickets = {ticket_id: external_id for ticket_id, external_id in rows}
    end = encode_cursor(*position(page[-1])) if page else request.args.get("cursor")
    # next_cursor: more right now. poll_cursor: where to continue later, also at the end.
    return jsonify(responses=[response_json(r, tickets) for r in page],
                   next_cursor=end if more else None, poll_cursor=end)


# ---- report --------------------------------------------------------------------------------

@bp.get("/reports")
@require_scope("results:read")
def report():
    date_from, date_to = _date("from"), _date("to")
    period = _choice("period", PERIODS, "month")
    if date_to < date_from:
        raise BadQuery({"to": "must not be before from"}, 422)
    if (date_to - date_from).days > LONGEST_REPORT_DAYS:
        raise BadQuery({"to": "a report covers at most three years"}, 422)
    return jsonify(compute_report(date_from, date_to, period))


# ---- tasks and complaints ------------------------------------------------------------------

@bp.get("/tasks")
@require_scope("results:read")
def list_tasks():
    query = select(CallbackTask).options(selectinload(CallbackTask.ticket)).order_by(CallbackTask.id)
    state = _choice("state", TASK_STATES)
    if state:
        query = query.where(CallbackTask.state == state)
    if "cursor" in request.args:
        query = query.where(CallbackTask.id > decode_cursor(request.args["cursor"], 1)[0])
    limit = _limit()
    tasks = list(db.session.scalars(query.limit(limit + 1)))
    next_cursor = encode_cursor(tasks[limit - 1].id) if len(tasks) > limit else None
    return jsonify(tasks=[t.as_json() for t in tasks[:limit]], next_cursor=next_cursor)


def stage_json(stage: CaseStage) -> dict:
    return {"name": stage.name, "round": stage.round, "due_at": iso_utc(stage.due_at),
            "completed_at": iso_utc(stage.completed_at), "on_time": stage.on_time}


@bp.get("/complaints/<external_id>")
@require_scope("results:read")
def complaint(external_id: str):
    """The case status of a complaint (一事一档): its stages in order, round by round, and the
    callback tasks that are their work items."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.external_id == external_id,
                                                    Ticket.kind == "complaint"))
    if ticket is None:
        return api_error(404, f"no complaint with external_id {external_id}")
    case = db.session.scalar(select(ComplaintCase).options(selectinload(ComplaintCase.stages))
                             .where(ComplaintCase.ticket_id == ticket.id))
    tasks = list(db.session.scalars(select(CallbackTask).options(selectinload(CallbackTask.ticket))
                                    .where(CallbackTask.ticket_id == ticket.id).order_by(CallbackTask.id)))
    body = {"external_id": ticket.external_id, "handled_at": iso_utc(ticket.handled_at),
            "tasks": [t.as_json() for t in tasks]}
    if case is None:  # a complaint reported before cases existed: its tasks tell its state
        return jsonify(case=None, state="open" if any(t.closed_at is None for t in tasks) else "closed",
                       stage=None, round=1, feedback_due_at=None, stages=[], **body)
    return jsonify(case=case.number, state=case.state, stage=case.stage, round=case.round,
                   feedback_due_at=iso_utc(case.feedback_due_at), stages=[stage_json(s) for s in case.stages],
                   **body)
