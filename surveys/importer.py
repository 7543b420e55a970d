"""`import-responses FILE.csv` (SPEC "CSV for import-responses"): historical or offline answers.
Rows are validated one by one, then written CHUNK at a time (COPY on PostgreSQL) in one
transaction per chunk: a bad row is reported by its line and skipped, never half a response."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from core.bulk import in_values, insert_tuples, reserve_ids
from core.csvimport import HeaderError, ImportReport, chunks, rows
from core.db import db, utcnow
from core.settings import get_rule
from core.text import has_control
from core.timeutil import parse_iso
from surveys.definition import AnswerError, Definition, condition_keys
from surveys.feed import current_feed_stamp
from surveys.models import CHANNELS, Answer, QuestionnaireVersion, Response
from surveys.services import definition_of, figures, latest_version
from tickets.models import TICKET_KINDS

META = ("respondent", "channel", "answered_at", "ticket_kind", "region", "agent")
FUTURE_SLACK = timedelta(minutes=10)  # clocks differ a little between systems


@dataclass
class _Good:
    line: int
    row: dict[str, str]
    answered_at: datetime
    answers: dict[str, Any]


def _answered_at(value: str, errors: list[str], now: datetime) -> datetime | None:
    try:
        answered = parse_iso(value)
    except (ValueError, OverflowError):  # 9999-12-31T23:59:59-08:00 overflows to UTC
        errors.append("answered_at must be an ISO 8601 date-time")
        return None
    if answered.year < 2000:
        errors.append("answered_at must be after 2000")
    elif answered > now + FUTURE_SLACK:
        errors.append("answered_at is in the future")
    return answered


class _Cells:
    """Reads a row's cells as answers. A file repeats the same few values of its closed
    questions a million times: what each cell means, and which questions skip logic shows for
    a set of answers, is worked out once and remembered (up to a bound, against odd files)."""

    BOUND = 1000

    def __init__(self, definition: Definition):
        self.definition = definition
        self.meanings: dict[str, dict[str, Any]] = {q.key: {} for q in definition.questions if q.type != "text"}
        self.deciding = sorted({k for q in definition.questions for k in condition_keys(q.show_if)})
        self.shown: dict[tuple, frozenset[str]] = {}

    def parse(self, question, cell: str) -> Any:
        meanings = self.meanings.get(question.key)
        if meanings is None:
            return question.parse(cell)
        if cell not in meanings:
            try:
                meaning = question.parse(cell)
            except AnswerError as exc:
                meaning = exc
            if len(meanings) >= self.BOUND:
                meanings.clear()
            meanings[cell] = meaning
        if isinstance(meanings[cell], AnswerError):
            raise meanings[cell]
        return meanings[cell]

    def visible(self, answers: dict[str, Any]) -> frozenset[str]:
        key = tuple(answers.get(k) for k in self.deciding)
        if key not in self.shown:
            if len(self.shown) >= self.BOUND:
                self.shown.clear()
            self.shown[key] = frozenset(q.key for q in self.definition.visible(answers))
        return self.shown[key]


def _row_errors(row: dict[str, str], cells: _Cells, now: datetime
                ) -> tuple[datetime | None, dict[str, Any], list[str]]:
    errors, answers = [], {}
    if row["channel"] not in CHANNELS:
        errors.append(f"channel must be one of {'|'.join(CHANNELS)}")
    if row["ticket_kind"] and row["ticket_kind"] not in TICKET_KINDS:
        errors.append(f"ticket_kind must be one of {'|'.join(TICKET_KINDS)}")
    answered_at = _answered_at(row["answered_at"], errors, now)
    for name in ("respondent", "region", "agent"):
        if len(row[name]) > 64:
            errors.append(f"{name} is longer than 64 characters")
        elif has_control(row[name]):
            errors.append(f"{name} contains control characters")
    for question in cells.definition.questions:
        try:
            value = cells.parse(question, row.get(question.key, ""))
        except AnswerError as exc:
            errors.append(f"{question.key}: {_describe(exc)}")
            continue
        if value is None and question.required:
            errors.append(f"{question.key} is required")
        elif value is not None:
            answers[question.key] = value
    return answered_at, answers, errors


def _describe(exc: AnswerError) -> str:
    if exc.code == "range":
        return f"must be a whole number from {exc.params['low']} to {exc.params['high']}"
    return {"yesno": "must be yes or no", "choice": "is not one of the choices",
            "length": f"is longer than {exc.params.get('max')} characters"}.get(exc.code, "is not valid")


def _validated(chunk: list[tuple[int, dict[str, str]]], cells: _Cells,
               report: ImportReport) -> list[_Good]:
    good, now = [], utcnow()
    for line, row in chunk:
        if "__error__" in row:
            report.reject(line, row["__error__"])
            continue
        answered_at, answers, errors = _row_errors(row, cells, now)
        if errors:
            report.reject(line, "; ".join(errors))
            continue
        visible = cells.visible(answers)  # skip logic, as on completion
        good.append(_Good(line, row, answered_at, {k: v for k, v in answers.items() if k in visible}))
    return good


def _without_duplicates(good: list[_Good], report: ImportReport) -> list[_Good]:
    """One response per respondent and moment: a repeat within the chunk or of a stored
    response (an earlier chunk, an earlier import) is refused. Anonymous rows are not compared."""
    keys = {(g.row["respondent"], g.answered_at) for g in good if g.row["respondent"]}
    stored = set(db.session.execute(
        select(Response.respondent, Response.completed_at)
        .where(in_values(Response.respondent, {r for r, _ in keys})))) if keys else set()
    first: dict[tuple[str, datetime], int] = {}
    kept = []
    for g in good:
        key = (g.row["respondent"], g.answered_at)
        if g.row["respondent"] and key in stored:
            report.reject(g.line, "a response of this respondent at this answered_at is already stored")
        elif g.row["respondent"] and key in first:
            report.reject(g.line, f"repeats line {first[key]} (same respondent and answered_at)")
        else:
            first.setdefault(key, g.line)
            kept.append(g)
    return kept


RESPONSE_COLUMNS = ("id", "version_id", "channel", "respondent", "ticket_kind", "region", "agent",
                    "started_at", "completed_at", "progress", "feed_seq")
ANSWER_COLUMNS = ("response_id", "question_key", "value_num", "value_text", "answered_at")


def _write(good: list[_Good], version: QuestionnaireVersion, definition: Definition) -> None:
    ids = reserve_ids(Response.__table__, len(good))
    stamp = current_feed_stamp()  # the results API serves imports after what it served before
    figure_columns = tuple(figures(definition, {}))  # the figure columns completion writes
    responses, answers = [], []
    for response_id, g in zip(ids, good, strict=True):
        row, when, figured = g.row, g.answered_at, figures(definition, g.answers)
        responses.append((response_id, version.id, row["channel"], row["respondent"], row["ticket_kind"],
                          row["region"], row["agent"], when, when, 0, stamp,
                          *(figured[k] for k in figure_columns)))
        answers += [(response_id, key, float(value), None, when) if isinstance(value, int | float)
                    else (response_id, key, None, str(value), when) for key, value in g.answers.items()]
    insert_tuples(Response.__table__, RESPONSE_COLUMNS + figure_columns, responses)
    insert_tuples(Answer.__table__, ANSWER_COLUMNS, answers)
    from reports.rollups import add_responses  # reports builds on surveys
    add_responses(ids)  # the report's per-day sums, in the chunk's transaction


def _store(good: list[_Good], version: QuestionnaireVersion, definition: Definition,
           report: ImportReport) -> None:
    """The chunk in one transaction; if the database refuses it, row by row, so the row it
    refuses is reported by its line and the others still land."""
    try:
        _write(good, version, definition)
        db.session.commit()
        report.imported += len(good)
        return
    except DBAPIError as exc:
        db.session.rollback()
        if len(good) == 1:
            report.reject(good[0].line, f"the database refused the row: {str(exc.orig).splitlines()[0]}")
            return
    for g in good:
        _store([g], version, definition, report)


def import_responses_csv(lines: Iterable[str], report: ImportReport | None = None,
                         progress: Callable[[], None] | None = None) -> ImportReport:
    """Imports the rows of the CSV `lines` (a text file, or a core.csvimport.CsvFile) into
    `report`, which hands each bad row on as it is found; `progress` is called after each chunk."""
    report = report if report is not None else ImportReport()
    version = latest_version(get_rule("questionnaire"))
    definition = definition_of(version)
    keys = [q.key for q in definition.questions]
    cells = _Cells(definition)
    try:
        for chunk in chunks(rows(lines, META, (*META, *keys))):
            good = _without_duplicates(_validated(chunk, cells, report), report)
            if good:
                _store(good, version, definition, report)
            if progress:
                progress()
    except HeaderError as exc:
        db.session.rollback()
        report.reject(1, str(exc))
    return report
