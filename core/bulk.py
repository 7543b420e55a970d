"""Bulk writes for imports and batch intake: COPY on PostgreSQL (psycopg 3), one executemany on
SQLite. Rows carry their ids, reserved up front, so dependent rows (answers of a response,
invitations of a ticket) are written in the same chunk without a round trip per row."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Table, func, select, text

from core.db import db, is_postgres


def reserve_ids(table: Table, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, valid until the transaction ends."""
    if count <= 0:
        return []
    if is_postgres():
        return list(db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": count}))
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


def _encoders(table: Table, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    if is_postgres():  # psycopg adapts Python values itself; JSON goes in as its text
        return [(lambda v: None if v is None else json.dumps(v)) if isinstance(table.c[c].type, JSON)
                else None for c in columns]
    dialect = db.engine.dialect
    return [table.c[c].type._cached_bind_processor(dialect) for c in columns]


def insert_rows(table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Writes the rows (dicts by column name; missing columns take their defaults) in the
    current transaction; returns how many."""
    rows = list(rows)
    if not rows:
        return 0
    defaults = _defaults(table)
    columns = list(dict.fromkeys([*rows[0], *(c for c in defaults if c not in rows[0])]))
    encoders = _encoders(table, columns)

    def values(row: dict[str, Any]) -> tuple:
        return tuple(enc(v) if enc and v is not None else v
                     for enc, v in zip(encoders, (row.get(c, defaults.get(c)) for c in columns),
                                       strict=True))

    raw = db.session.connection().connection.driver_connection
    names = ", ".join(columns)
    if is_postgres():
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(values(row))
    else:
        marks = ", ".join("?" * len(columns))
        raw.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", map(values, rows))
    return len(rows)
