"""`import-responses FILE.csv` (SPEC "CSV for import-responses"): historical or offline answers.
Rows are validated one by one, then written CHUNK at a time (COPY in text format on PostgreSQL,
one executemany on SQLite), GROUP chunks a transaction whose rollup sums are added in Python
and written once (_Transaction): a bad row is reported by its line and skipped, never half a
response.

What keeps the cost per row low: a file repeats the same few combinations of closed-question
cells a million times, so each combination (a `_Pattern`) is parsed, checked against skip logic,
turned into figures, rollup sums and the text of its packed answers once; a row then costs its
CSV parsing, its own cells (date, respondent, free text) and a few string operations. A
response's closed-question answers go in its own row (`packed_answers`), not one `answers` row
each: those ~7 rows and their foreign-key checks were two thirds of the database's work.
On PostgreSQL the next chunk is read, validated, checked for repeats and built into COPY text in
a thread, on a connection of its own, while the server stores this one (core.csvimport.prefetched)."""
from __future__ import annotations

import json
import operator
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from core.bulk import copy_lines, copy_text, execute_many, in_values, reserve_ids
from core.csvimport import (
    HeaderError,
    ImportReport,
    chunks,
    collected_by_chunk,
    prefetched,
    records,
)
from core.db import db, is_postgres, utcnow
from core.settings import get_rule
from core.text import has_control
from core.timeutil import parse_iso
from surveys.definition import AnswerError, Definition, Question, condition_keys
from surveys.feed import EVENT_FIGURES, current_feed_stamp
from surveys.models import CHANNELS, QuestionnaireVersion, Response
from surveys.services import definition_of, figures, latest_version
from tickets.models import TICKET_KINDS

META = ("respondent", "channel", "answered_at", "ticket_kind", "region", "agent")
FUTURE_SLACK = timedelta(minutes=10)  # clocks differ a little between systems
RESPONSE_COLUMNS = ("id", "version_id", "channel", "respondent", "ticket_kind", "region", "agent",
                    "started_at", "completed_at", "progress", "feed_seq", "packed_answers")
ANSWER_COLUMNS = ("response_id", "question_key", "value_num", "value_text", "answered_at")
STAMP = "\x01"  # feed_seq in a chunk's COPY text until its transaction is known: no good row holds it
# Rows a chunk: fewer than core.csvimport's, since a built chunk (COPY text of four tables) is
# megabytes and AHEAD + 1 are alive at once; per-chunk costs are small against 2,500 rows' work.
CHUNK = 2500
# Chunks a transaction. Consecutive chunks share most of their rollup rows per month (an agent's,
# with one or two other keys): their sums are added together in Python and each row is updated
# once per transaction instead of once a chunk. Those updates were half of the server's work.
GROUP = 4
# Batches the reading thread (PostgreSQL) may have built beyond the one being written. With one
# the server waited for Python between batches (18,000-19,800 rows/s on 1,000,000 rows); two
# keep it fed (22,000-22,300) for ~5 MB more at the peak: each batch is megabytes.
AHEAD = 2
# Chunks remembered against repeats: those of the open transaction, which the reading thread's
# connection cannot see yet, and the AHEAD it runs ahead.
RECENT = GROUP + AHEAD + 1


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


def _named_cell_errors(respondent: str, region: str, agent: str) -> list[str]:
    errors = []
    for name, value in (("respondent", respondent), ("region", region), ("agent", agent)):
        if len(value) > 64:
            errors.append(f"{name} is longer than 64 characters")
        elif has_control(value):
            errors.append(f"{name} contains control characters")
    return errors


def _describe(exc: AnswerError) -> str:
    if exc.code == "range":
        return f"must be a whole number from {exc.params['low']} to {exc.params['high']}"
    return {"yesno": "must be yes or no", "choice": "is not one of the choices",
            "length": f"is longer than {exc.params.get('max')} characters"}.get(exc.code, "is not valid")


def _parse(order: int, question: Question, cell: str, errors: list[tuple[int, str]]) -> Any:
    """The cell's value (None: not answered); a bad or missing required one goes to `errors`
    with the question's place, so messages come in questionnaire order."""
    try:
        value = question.parse(cell)
    except AnswerError as exc:
        errors.append((order, f"{question.key}: {_describe(exc)}"))
        return None
    if value is None and question.required:
        errors.append((order, f"{question.key} is required"))
    return value


def _answer_items(answers: dict[str, Any]) -> list[tuple[str, float | None, str | None]]:
    """(question key, value_num, value_text) of each stored answer, as the live path stores them."""
    return [(k, float(v), None) if isinstance(v, int | float) else (k, None, str(v)) for k, v in answers.items()]


def _as_read(num: float | None, text: str | None) -> Any:
    """A stored answer's value as `Answer.value` reads it back (a whole number as an int)."""
    if num is None:
        return text
    return int(num) if num.is_integer() else num


class _Pattern:
    """One combination of closed-question cells, read once: its errors, or the answers skip
    logic keeps, their figures, rollup sums, its packed answers (every kept answer but free
    text, stored in the response row: Response.packed_answers) and the text of its free-text
    answer rows (`{0}` the response id, `{1}` the moment) as COPY text or tuples for SQLite."""

    __slots__ = ("errors", "visible", "rows", "figures", "values", "packed", "copy_figures", "copy_packed",
                 "copy_answers", "event")

    def __init__(self, definition: Definition, closed: list[tuple[int, Question]], cells: tuple[str, ...]):
        from reports.rollups import response_vector  # reports builds on surveys
        self.errors: list[tuple[int, str]] = []
        answers = {}
        for (order, question), cell in zip(closed, cells, strict=True):
            value = _parse(order, question, cell, self.errors)
            if value is not None:
                answers[question.key] = value
        self.visible = frozenset(q.key for q in definition.visible(answers))  # skip logic, as on completion
        kept = {k: v for k, v in answers.items() if k in self.visible}
        free = {q.key for q in definition.questions if q.type == "text"}  # a free text that decides stays a row
        items = _answer_items(kept)
        self.rows = [item for item in items if item[0] in free]
        packed = {k: _as_read(num, text) for k, num, text in items if k not in free}
        self.packed = json.dumps(packed, ensure_ascii=False) if packed else None
        self.figures = figures(definition, kept)
        self.values = response_vector(self.figures, kept.get("comment"))
        self.copy_figures = "\t".join(_copy_value(v) for v in self.figures.values())
        self.copy_packed = _copy_value(self.packed)
        # response.completed's data after the row's own fields (surveys.feed.response_event's shape)
        self.event = json.dumps({k: self.figures[k] for k in EVENT_FIGURES})[1:]
        self.copy_answers = "".join(
            f"{{0}}\t{_braces(copy_text(k))}\t{_copy_value(num)}\t{_braces(_copy_value(text))}\t{{1}}\n"
            for k, num, text in self.rows)


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return copy_text(str(value))


def _braces(value: str) -> str:
    return value.replace("{", "{{").replace("}", "}}")


class _Good(NamedTuple):
    line: int
    respondent: str
    meta: tuple[str, ...]  # the META cells (the others are done with once the row is validated)
    answered_at: datetime
    pattern: _Pattern
    texts: list[tuple[str, str]]  # the free-text answers skip logic keeps


class _Reader:
    """Validates rows (lists of cells in the header's order) with the same rules and messages
    as one-by-one entry; remembers up to BOUND patterns (against odd files)."""

    BOUND = 20_000

    def __init__(self, definition: Definition, header: list[str]):
        place = {name: i for i, name in enumerate(header)}
        self.definition = definition
        self.meta = operator.itemgetter(*(place[m] for m in META))
        deciding = {k for q in definition.questions for k in condition_keys(q.show_if)}
        absent = len(header)  # a question without a column reads the "" appended to each row
        self.closed, self.free, positions = [], [], []
        for order, q in enumerate(definition.questions):
            if q.type != "text" or q.key in deciding:
                self.closed.append((order, q))
                positions.append(place.get(q.key, absent))
            else:  # free text: different in every row, read per row
                self.free.append((order, q, place.get(q.key, absent), q.required))
        self.key = operator.itemgetter(*positions, absent)  # a tuple whatever the count
        self.patterns: dict[tuple[str, ...], _Pattern] = {}

    def pattern(self, cells: list[str]) -> _Pattern:
        key = self.key(cells)
        found = self.patterns.get(key)
        if found is None:
            if len(self.patterns) >= self.BOUND:
                self.patterns.clear()
            found = self.patterns[key] = _Pattern(self.definition, self.closed, key[:-1])
        return found

    def validated(self, chunk: list[tuple[int, list[str] | str]]) -> tuple[list[_Good], list[tuple[int, str]]]:
        """The chunk's good rows, and (line, why) of its bad ones. Touches no database and no
        shared state but the patterns, so it runs in the reading thread."""
        good, bad, now = [], [], utcnow()
        for line, cells in chunk:
            if isinstance(cells, str):
                bad.append((line, cells))
                continue
            cells.append("")
            meta = self.meta(cells)
            respondent, channel, answered, kind, region, agent = meta
            errors = []
            if channel not in CHANNELS:
                errors.append(f"channel must be one of {'|'.join(CHANNELS)}")
            if kind and kind not in TICKET_KINDS:
                errors.append(f"ticket_kind must be one of {'|'.join(TICKET_KINDS)}")
            answered_at = _answered_at(answered, errors, now)
            if len(respondent) > 64 or len(region) > 64 or len(agent) > 64 or has_control(respondent + region + agent):
                errors += _named_cell_errors(respondent, region, agent)  # one check of the three when clean
            pattern = self.pattern(cells)
            wrong, texts = list(pattern.errors), []
            for order, question, position, required in self.free:
                cell = cells[position]
                if not cell and not required:  # not answered (cells come stripped)
                    continue
                value = _parse(order, question, cell, wrong)
                if value is not None and question.key in pattern.visible:
                    texts.append((question.key, value))
            if errors or wrong:
                bad.append((line, "; ".join(errors + [message for _, message in sorted(wrong)])))
                continue
            good.append(_Good(line, respondent, meta, answered_at, pattern, texts))
        return good, bad


class _Repeats:
    """One response per respondent and moment: a repeat within the chunk, of an earlier chunk or
    of a stored response (an earlier import) is refused. Anonymous rows are not compared. The
    chunks still being written when the next one is checked (the reading thread runs ahead of
    the commits) are remembered here; older ones are found in the database."""

    def __init__(self) -> None:
        self.recent: deque[set[tuple[str, datetime]]] = deque(maxlen=RECENT)

    def without(self, good: list[_Good]) -> tuple[list[_Good], list[tuple[int, str]]]:
        """The rows to write, and (line, why) of the repeats."""
        keys = {(g.respondent, g.answered_at) for g in good if g.respondent}
        stored = set(db.session.execute(
            select(Response.respondent, Response.completed_at)
            .where(in_values(Response.respondent, {r for r, _ in keys})))) if keys else set()
        stored.update(key for chunk in self.recent for key in keys & chunk)
        first: dict[tuple[str, datetime], int] = {}
        kept, repeats = [], []
        for g in good:
            key = (g.respondent, g.answered_at)
            if g.respondent and key in stored:
                repeats.append((g.line, "a response of this respondent at this answered_at is already stored"))
            elif g.respondent and key in first:
                repeats.append((g.line, f"repeats line {first[key]} (same respondent and answered_at)"))
            else:
                first.setdefault(key, g.line)
                kept.append(g)
        self.recent.append(set(first))
        return kept, repeats


class _Batch(NamedTuple):
    """A chunk ready to write: its rows with their reserved ids, and each table's rows as COPY
    text (PostgreSQL; the responses' feed_seq still STAMP) or executemany rows (SQLite)."""
    good: list[_Good]
    ids: list[int]
    bad: list[tuple[int, str]]  # (line, why), in the order they are reported
    responses: str | list[tuple]
    answers: str | list[tuple]
    events: Callable[[], int]  # writes the `response.completed` events (core.events.prepared_serialised)
    # reports.rollups.summed_rows of every chunk of the transaction this chunk closes; None for
    # a chunk that leaves its transaction open
    rollups: tuple[str, Any] | None


class _Builder:
    """Turns validated rows into a _Batch: responses (with their packed answers), free-text
    answer rows, `response.completed` events and the chunk's rollup sums. Needs the database
    only for the ids and the repeat check, so on PostgreSQL it runs in the reading thread (on
    a connection of its own) while the previous chunk is written."""

    def __init__(self, version: QuestionnaireVersion, definition: Definition, reader: _Reader):
        self.version_id = version.id
        self.figure_columns = tuple(figures(definition, {}))  # the figure columns completion writes
        self.columns = RESPONSE_COLUMNS + self.figure_columns
        self._kinds = {kind: json.dumps(kind or None) for kind in ("", *TICKET_KINDS)}
        self.repeats = _Repeats()
        self.open: list[tuple[list[tuple], np.ndarray]] = []  # the open transaction's chunks' sums

    def prepared(self, checked: tuple[list[_Good], list[tuple[int, str]]], stamp: Any = STAMP) -> _Batch:
        """A validated chunk with its repeats refused and its ids reserved, ready to write; every
        GROUP-th chunk closes its transaction and carries the rollup sums of all its chunks."""
        good, repeats = self.repeats.without(checked[0])
        ids = reserve_ids(Response.__table__, len(good))
        if good:
            self.open.append(self._sums(good))
        return self.batch(good, ids, checked[1] + repeats, stamp,
                          self.closed() if len(self.open) >= GROUP else None)

    def closing(self) -> _Batch | None:
        """A batch without rows that closes the open transaction, if any."""
        return self.batch([], [], [], STAMP, self.closed()) if self.open else None

    def closed(self) -> tuple[str, Any]:
        """The open transaction's rollup sums; the next chunk opens another."""
        from reports.rollups import summed_rows

        keys = [key for chunk_keys, _ in self.open for key in chunk_keys]
        values = np.concatenate([chunk_values for _, chunk_values in self.open])
        self.open = []
        return summed_rows(keys, values)

    def alone(self, good: list[_Good], ids: list[int]) -> _Batch:
        """Rows to write in a transaction of their own, with their own rollup sums."""
        from reports.rollups import summed_rows

        return self.batch(good, ids, [], STAMP, summed_rows(*self._sums(good)))

    def batch(self, good: list[_Good], ids: list[int], bad: list[tuple[int, str]], stamp: Any,
              rollups: tuple[str, Any] | None) -> _Batch:
        from core.events import prepared_serialised

        responses, answers = (self._copied if is_postgres() else self._rows)(good, ids, stamp)
        events = prepared_serialised("response.completed", [  # as each completion on the live path does
            f'{{"response_id": {rid}, "ticket_external_id": null, "completed_at": "{g.answered_at.isoformat()}Z", '
            f'"channel": "{g.meta[1]}", "ticket_kind": {self._kinds[g.meta[3]]}, {g.pattern.event}'
            for rid, g in zip(ids, good, strict=True)])
        return _Batch(good, ids, bad, responses, answers, events, rollups)

    def _copied(self, good: list[_Good], ids: list[int], stamp: Any) -> tuple[str, str]:
        head = f"\t{self.version_id}\t"
        tail = f"\t0\t{stamp}\t"
        responses, answers = [], []
        for rid, g in zip(ids, good, strict=True):
            respondent, channel, _, kind, region, agent = g.meta
            when = str(g.answered_at)
            responses.append(f"{rid}{head}{channel}\t{copy_text(respondent)}\t{kind}\t{copy_text(region)}\t"
                             f"{copy_text(agent)}\t{when}\t{when}{tail}{g.pattern.copy_packed}\t"
                             f"{g.pattern.copy_figures}\n")
            if g.pattern.copy_answers:
                answers.append(g.pattern.copy_answers.format(rid, when))
            for key, value in g.texts:
                answers.append(f"{rid}\t{copy_text(key)}\t\\N\t{copy_text(value)}\t{when}\n")
        return "".join(responses), "".join(answers)

    def _rows(self, good: list[_Good], ids: list[int], stamp: Any) -> tuple[list[tuple], list[tuple]]:
        responses, answers = [], []
        for rid, g in zip(ids, good, strict=True):
            respondent, channel, _, kind, region, agent = g.meta
            when = g.answered_at.isoformat(" ", "microseconds")  # SQLAlchemy's SQLite format
            responses.append((rid, self.version_id, channel, respondent, kind, region, agent, when, when, 0, stamp,
                              g.pattern.packed, *g.pattern.figures.values()))
            answers += [(rid, k, num, text, when) for k, num, text in g.pattern.rows]
            answers += [(rid, k, None, text, when) for k, text in g.texts]
        return responses, answers

    def _sums(self, good: list[_Good]) -> tuple[list[tuple], np.ndarray]:
        """The chunk's rollup keys (local day and breakdown) and values, row by row."""
        from reports.rollups import COMMENT_COLUMNS, comment_values, day_of
        patterns: dict[_Pattern, int] = {}
        codes = [patterns.setdefault(g.pattern, len(patterns)) for g in good]
        values = np.array([p.values for p in patterns])[codes]
        for i, g in enumerate(good):
            comment = next((text for key, text in g.texts if key == "comment"), None)
            if comment is not None:
                values[i, COMMENT_COLUMNS] = list(comment_values(comment).values())
        keys = []
        for g in good:
            _, channel, _, kind, region, agent = g.meta
            keys.append((day_of(g.answered_at), channel, kind, region, agent))
        return keys, values

    def write(self, batch: _Batch) -> None:
        """The batch's rows (a batch that only closes its transaction has none), and the sums it
        carries, in the current transaction."""
        from reports.rollups import upsert_summed

        if batch.good:
            self._write_rows(batch)
        if batch.rollups is not None:
            upsert_summed(batch.rollups)

    def _write_rows(self, batch: _Batch) -> None:
        stamp = current_feed_stamp()  # the results API serves imports after what it served before
        if is_postgres():
            copy_lines("responses", self.columns, [batch.responses.replace(STAMP, str(stamp))])
            if batch.answers:
                copy_lines("answers", ANSWER_COLUMNS, [batch.answers])
        else:
            responses = [(*row[:10], stamp, *row[11:]) for row in batch.responses]
            execute_many(f"INSERT INTO responses ({', '.join(self.columns)}) "
                         f"VALUES ({', '.join('?' * len(self.columns))})", responses)
            execute_many(f"INSERT INTO answers ({', '.join(ANSWER_COLUMNS)}) VALUES (?, ?, ?, ?, ?)", batch.answers)
        batch.events()


class _Transaction:
    """The chunks of one transaction (GROUP of them, see there): each chunk's rows go to the
    database as soon as it is built, and the last one brings the sums of all. If the database
    refuses anything, the transaction's chunks are stored again one by one (`_store`), so the
    row it refuses is reported by its line and the others still land."""

    def __init__(self, builder: _Builder, report: ImportReport):
        self.builder, self.report = builder, report
        self.written: list[tuple[list[_Good], list[int]]] = []  # what to store again if refused
        self.refused = False

    def add(self, batch: _Batch) -> None:
        if batch.good:
            self.written.append((batch.good, batch.ids))
        if not self.refused:
            try:
                self.builder.write(batch)
            except DBAPIError:
                db.session.rollback()
                self.refused = True
        if batch.rollups is not None:
            self._commit()

    def _commit(self) -> None:
        if not self.refused:
            try:
                db.session.commit()
                self.report.imported += sum(len(good) for good, _ in self.written)
                self.written = []
                return
            except DBAPIError:
                db.session.rollback()
        for good, ids in self.written:
            _store(self.builder.alone(good, ids), self.builder, self.report)
        self.written, self.refused = [], False


def _store(batch: _Batch, builder: _Builder, report: ImportReport) -> None:
    """The chunk in a transaction of its own; if the database refuses it, row by row."""
    try:
        builder.write(batch)
        db.session.commit()
        report.imported += len(batch.good)
        return
    except DBAPIError as exc:
        db.session.rollback()
        if len(batch.good) == 1:
            report.reject(batch.good[0].line, f"the database refused the row: {str(exc.orig).splitlines()[0]}")
            return
    for g, rid in zip(batch.good, batch.ids, strict=True):
        _store(builder.alone([g], [rid]), builder, report)


def _batches(reader: _Reader, builder: _Builder, found: Iterable) -> Iterator[_Batch]:
    """The file's chunks as batches. PostgreSQL: built entirely in the reading thread, on a
    session of its own (its own app context), so that the server stores chunk N while Python
    builds N+1. SQLite admits one writer: there the thread validates and the caller builds."""
    if not is_postgres():
        for checked in prefetched(reader.validated(chunk) for chunk in chunks(found, CHUNK)):
            yield builder.prepared(checked, stamp=None)
    else:
        app = current_app._get_current_object()
        yield from prefetched(_built(app, builder, reader, found), depth=AHEAD)
    if (last := builder.closing()) is not None:  # the reading thread, if any, has ended
        yield last


def _built(app: Flask, builder: _Builder, reader: _Reader, found: Iterable) -> Iterator[_Batch]:
    """The file's batches, built in the reading thread on a session of its own (`app`'s context)."""
    with app.app_context():
        for chunk in chunks(found, CHUNK):
            batch = builder.prepared(reader.validated(chunk))
            db.session.commit()  # holds no snapshot while the batch waits
            yield batch


def import_responses_csv(lines: Iterable[str], report: ImportReport | None = None,
                         progress: Callable[[], None] | None = None) -> ImportReport:
    """Imports the rows of the CSV `lines` (a text file, or a core.csvimport.CsvFile) into
    `report`, which hands each bad row on as it is found; `progress` is called after each chunk."""
    report = report if report is not None else ImportReport()
    version = latest_version(get_rule("questionnaire"))
    definition = definition_of(version)
    try:
        header, found = records(lines, META, (*META, *(q.key for q in definition.questions)))
    except HeaderError as exc:
        db.session.rollback()
        report.reject(1, str(exc))
        return report
    db.session.commit()  # what the caller wrote is visible to the reading thread's session
    reader = _Reader(definition, header)
    builder = _Builder(version, definition, reader)
    transaction = _Transaction(builder, report)
    with collected_by_chunk() as chunk_done:
        for batch in _batches(reader, builder, found):
            for line, message in batch.bad:
                report.reject(line, message)
            transaction.add(batch)
            chunk_done()
            if progress:
                progress()
    return report
