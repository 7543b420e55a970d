"""`import-responses FILE.csv` (SPEC "CSV for import-responses"): historical or offline answers.
Each row is validated whole and stored in its own transaction: never half a response."""
from __future__ import annotations

from typing import IO, Any

from core.csvimport import HeaderError, ImportReport, rows
from core.db import db
from core.settings import get_rule
from core.text import has_control
from core.timeutil import parse_iso
from surveys.definition import AnswerError
from surveys.models import CHANNELS, Response
from surveys.services import complete_response, definition_of, latest_version, save_answers
from tickets.models import TICKET_KINDS

META = ("respondent", "channel", "answered_at", "ticket_kind", "region", "agent")


def _row_errors(row: dict[str, str], definition) -> tuple[dict[str, Any], list[str]]:
    errors, answers = [], {}
    if row["channel"] not in CHANNELS:
        errors.append(f"channel must be one of {'|'.join(CHANNELS)}")
    if row["ticket_kind"] and row["ticket_kind"] not in TICKET_KINDS:
        errors.append(f"ticket_kind must be one of {'|'.join(TICKET_KINDS)}")
    try:
        parse_iso(row["answered_at"])
    except ValueError:
        errors.append("answered_at must be an ISO 8601 date-time")
    for name in ("respondent", "region", "agent"):
        if len(row[name]) > 64:
            errors.append(f"{name} is longer than 64 characters")
        elif has_control(row[name]):
            errors.append(f"{name} contains control characters")
    for question in definition.questions:
        try:
            value = question.parse(row.get(question.key, ""))
        except AnswerError as exc:
            errors.append(f"{question.key}: {_describe(exc)}")
            continue
        if value is None and question.required:
            errors.append(f"{question.key} is required")
        elif value is not None:
            answers[question.key] = value
    return answers, errors


def _describe(exc: AnswerError) -> str:
    if exc.code == "range":
        return f"must be a whole number from {exc.params['low']} to {exc.params['high']}"
    return {"yesno": "must be yes or no", "choice": "is not one of the choices",
            "length": f"is longer than {exc.params.get('max')} characters"}.get(exc.code, "is not valid")


def import_responses_csv(fh: IO[str]) -> ImportReport:
    report = ImportReport()
    version = latest_version(get_rule("questionnaire"))
    definition = definition_of(version)
    keys = [q.key for q in definition.questions]
    try:
        for line, row in rows(fh, META, (*META, *keys)):
            if "__extra__" in row:
                report.errors.append((line, "the row has more cells than the header"))
                continue
            answers, errors = _row_errors(row, definition)
            if errors:
                report.errors.append((line, "; ".join(errors)))
                continue
            response = Response(version_id=version.id, channel=row["channel"], respondent=row["respondent"],
                                ticket_kind=row["ticket_kind"], region=row["region"], agent=row["agent"],
                                started_at=parse_iso(row["answered_at"]))
            db.session.add(response)
            save_answers(response, answers)
            db.session.flush()
            complete_response(response, completed_at=response.started_at, open_followup=False)
            report.imported += 1
    except HeaderError as exc:
        db.session.rollback()
        report.errors.append((1, str(exc)))
    return report
