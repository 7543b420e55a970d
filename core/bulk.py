"""Bulk writes for imports and batch intake: COPY on PostgreSQL (psycopg 3), one executemany on
SQLite. Rows carry their ids, reserved up front, so dependent rows (answers of a response,
invitations of a ticket) are written in the same chunk without a round trip per row."""
from __future__ import annotations

import contextlib
import functools
import io
import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import psycopg
from psycopg.copy import Copy, FileWriter
from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from core.db import db, is_postgres


@contextlib.contextmanager
def _driver_errors() -> Iterator[None]:
    """A duplicate key met by a write that goes to the driver directly (COPY, executemany)
    reaches the caller as SQLAlchemy's IntegrityError, as it would through the session."""
    try:
        yield
    except (psycopg.IntegrityError, sqlite3.IntegrityError) as exc:
        raise IntegrityError(None, None, exc) from exc


def reserve_ids(table: Table, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, valid until the transaction ends."""
    if count <= 0:
        return []
    if is_postgres():  # one array, not `count` result rows to fetch and convert
        # The sequence found once, not per row: the look-up cost 3 times the nextval itself.
        sequence = db.session.scalar(text("SELECT pg_get_serial_sequence(:table, 'id')::regclass::oid"),
                                     {"table": table.name})
        return db.session.scalar(text("SELECT array_agg(nextval(CAST(:sequence AS oid)::regclass)) "
                                      "FROM generate_series(1, :n)"), {"sequence": sequence, "n": count})
    # SQLite: every write transaction begins IMMEDIATE (core.db), so no other writer can take
    # an id above the current maximum before this transaction commits.
    start = db.session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    return list(range(start + 1, start + count + 1))


def _defaults(table: Table) -> dict[str, Any]:
    """The Python-side defaults of the columns (`default=utcnow` is evaluated once a call)."""
    out = {}
    for column in table.columns:
        default = column.default
        if default is None or not (default.is_scalar or default.is_callable):
            continue
        out[column.name] = default.arg(None) if default.is_callable else default.arg
    return out


def _encoders(table: Table, columns: Sequence[str]) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, function) for the values that need converting before the driver sees them."""
    if is_postgres():  # psycopg adapts Python values itself; JSON goes in as its text
        found = [json.dumps if isinstance(table.c[c].type, JSON) else None for c in columns]
    else:
        dialect = db.engine.dialect
        found = [_sqlite_datetime if isinstance(table.c[c].type, DateTime)
                 else table.c[c].type._cached_bind_processor(dialect) for c in columns]
    return [(i, f) for i, f in enumerate(found) if f is not None]


@functools.lru_cache(maxsize=4096)  # a response's answers share its moment
def _sqlite_datetime(value: datetime) -> str:
    """SQLAlchemy's SQLite storage format (always with microseconds, so text compares right)."""
    return value.isoformat(" ", "microseconds")


def insert_rows(table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Writes the rows (dicts by column name; missing columns take their defaults) in the
    current transaction; returns how many."""
    rows = list(rows)
    if not rows:
        return 0
    return insert_tuples(table, *_as_tuples(table, rows))


def _as_tuples(table: Table, rows: list[dict[str, Any]]) -> tuple[list[str], list[Sequence[Any]]]:
    """(columns, values in that order) of dict rows, defaults filled in."""
    defaults = _defaults(table)
    given = list(rows[0])
    missing = [c for c in defaults if c not in rows[0]]
    if len(given) > 1 and all(len(row) == len(given) for row in rows):
        # Rows of one shape (the usual case): a C-level getter per row, the defaults appended.
        pick, tail = itemgetter(*given), tuple(defaults[c] for c in missing)
        try:
            return [*given, *missing], [pick(row) + tail for row in rows]
        except KeyError:  # same size, other keys: the general way below
            pass
    columns = list(dict.fromkeys([*given, *missing]))
    pairs = [(c, defaults.get(c)) for c in columns]
    return columns, [[row.get(c, d) for c, d in pairs] for row in rows]


Write = Callable[[], int]


def prepared_rows(table: Table, rows: list[dict[str, Any]]) -> Write:
    """`insert_rows` in two halves: the rows are formatted for the database now, and written
    (in the then-current transaction, perhaps another thread's session) when the returned
    function is called. Batch intake formats the next chunk while a thread writes this one."""
    if not rows:
        return lambda: 0
    return prepared_tuples(table, *_as_tuples(table, rows))


def prepared_tuples(table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                    json_text: Collection[str] = ()) -> Write:
    """`prepared_rows` of values in `columns` order; `json_text` names JSON columns whose
    values are JSON text already. PostgreSQL: the COPY data is formatted now, by psycopg's own
    formatter (a Copy that writes to memory); SQLite: the values are encoded now and
    executemany'd on the call."""
    count = len(rows)
    if not count:
        return lambda: 0
    encoders = [(i, f) for i, f in _encoders(table, columns) if columns[i] not in json_text]
    values = _encoded(rows, encoders)
    names = ", ".join(map(db.engine.dialect.identifier_preparer.quote, columns))
    if not is_postgres():
        return lambda: execute_many(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})",
                                    values) or count
    data = io.BytesIO()
    with db.session.connection().connection.driver_connection.cursor() as cursor, \
            Copy(cursor, binary=False, writer=FileWriter(data)) as copy:
        for row in values:
            copy.write_row(row)
    data = data.getvalue()

    def write() -> int:
        raw = db.session.connection().connection.driver_connection
        with _driver_errors(), raw.cursor() as cursor, \
                cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            copy.write(data)
        return count
    return write


def _encoded(rows: Iterable[Sequence[Any]], encoders: list[tuple[int, Callable[[Any], Any]]]) -> list[Sequence[Any]]:
    """The rows with the values the driver cannot take as they are converted."""
    if not encoders:
        return list(rows)
    out = []
    for row in rows:
        row = list(row)
        for i, encode in encoders:
            if row[i] is not None:
                row[i] = encode(row[i])
        out.append(row)
    return out


def insert_tuples(table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Writes rows given as values in `columns` order (every column without a database default
    must be among them) in the current transaction; returns how many."""
    encoders = _encoders(table, columns)

    def values(row: Sequence[Any]) -> Sequence[Any]:
        if not encoders:
            return row
        row = list(row)
        for i, encode in encoders:
            if row[i] is not None:
                row[i] = encode(row[i])
        return row

    raw = db.session.connection().connection.driver_connection
    quote = db.engine.dialect.identifier_preparer.quote  # messages has a column named "to"
    names, count = ", ".join(quote(c) for c in columns), 0
    if is_postgres():
        with _driver_errors(), raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(values(row))
                count += 1
        return count
    marks = ", ".join("?" * len(columns))
    with _driver_errors():
        cursor = raw.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", map(values, rows))
    return cursor.rowcount


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """A text value as a field of COPY's text format (backslash, tab and line breaks escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(COPY_ESCAPES)
    return value  # the usual case: four scans at C speed, no new string (translate looks up each character)


def copy_lines(table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    """PostgreSQL: writes rows already in COPY's text format (fields tab-separated, NULL as
    \\N, each line ending in a newline; see copy_text) in the current transaction. The bulk
    path's fastest form: one string per row or per group of rows, no adaptation per value."""
    raw = db.session.connection().connection.driver_connection
    with _driver_errors(), raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        block: list[str] = []
        size = 0
        for text_line in lines:
            block.append(text_line)
            size += len(text_line)
            if size >= 1 << 20:  # about a megabyte a write: few calls, little held
                copy.write("".join(block))
                block, size = [], 0
        if block:
            copy.write("".join(block))


def copy_binary(table: str, columns: Sequence[str], data: bytes | bytearray) -> None:
    """PostgreSQL: writes rows already in COPY's binary format (signature, rows, trailer) in
    the current transaction."""
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(data)


def execute_many(statement: str, rows: Iterable[Sequence[Any]]) -> None:
    """SQLite: one prepared statement (DB-API `?` marks) over the rows, in the current
    transaction, straight to the driver (no per-row work in SQLAlchemy)."""
    with _driver_errors():
        db.session.connection().connection.driver_connection.executemany(statement, rows)


def in_values(column: ColumnElement, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (values)` as one bound parameter (a PostgreSQL array, a SQLite JSON array):
    thousands of values cost one parameter, not thousands to render and bind."""
    values = list(values)
    if is_postgres():
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(values))))


def in_parameter(column: ColumnElement, name: str, dialect: str) -> ColumnElement[bool]:
    """`in_values` with a named parameter, for a statement built once and run many times:
    bind a list to `name`."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name, type_=JSON))))
