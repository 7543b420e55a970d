"""Portable backups: every table as JSON lines, parents before children, read in one snapshot.
The same file restores into SQLite or PostgreSQL (into a database `init-db` has just made), so a
backup also moves an installation between the two. Restore refuses a dump of another schema
revision, empties the tables, inserts the rows in dependency order and moves PostgreSQL's id
sequences past the restored ids."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any

from sqlalchemy import Date, DateTime, LargeBinary, Table, func, select, text

from core.db import db
from core.sealing import Sealed, as_stored

FORMAT = "huifang-backup/1"
BATCH = 1000


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _decoder(table: Table):
    converters = {}
    for column in table.columns:
        if isinstance(column.type, DateTime):
            converters[column.name] = datetime.fromisoformat
        elif isinstance(column.type, Date):
            converters[column.name] = date.fromisoformat
        elif isinstance(column.type, LargeBinary):
            converters[column.name] = base64.b64decode

    def decode(row: dict) -> dict:
        return {k: (converters[k](v) if v is not None and k in converters else v) for k, v in row.items()}
    return decode


def schema_revision() -> str:
    return db.session.scalar(text("SELECT version_num FROM alembic_version"))


def tables() -> list[Table]:
    return list(db.metadata.sorted_tables)


def table_rows(table: Table, where=None) -> Iterator[dict]:
    """Every row of `table` (or those matching `where`) as JSON-ready dicts, by primary key.
    Sealed secrets stay sealed (core/sealing.py): a backup gives them away no more than the
    database does, and restores them as they are (under the same data keys)."""
    columns = [as_stored(c).label(c.name) if isinstance(c.type, Sealed) else c for c in table.columns]
    query = select(*columns).order_by(*table.primary_key.columns)
    if where is not None:
        query = query.where(where)
    for row in db.session.execute(query).mappings():
        yield {k: _encode(v) for k, v in row.items()}


def write_backup(out: IO[str]) -> dict[str, int]:
    """Writes the whole database to `out`; returns the row count of each table."""
    db.session.commit()  # the snapshot starts with a transaction of its own
    if db.engine.dialect.name == "postgresql":  # one consistent snapshot of every table
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    out.write(json.dumps({"format": FORMAT, "revision": schema_revision()}) + "\n")
    counts = {}
    for table in tables():
        out.write(json.dumps({"table": table.name}) + "\n")
        counts[table.name] = 0
        for row in table_rows(table):
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            counts[table.name] += 1
    db.session.commit()
    return counts


class RestoreError(ValueError):
    pass


def open_dump(path: str, mode: str) -> IO[str]:
    """A backup file, gzip-compressed when its name ends in .gz."""
    if path.endswith(".gz"):
        import gzip
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def restore_backup(lines: IO[str]) -> dict[str, int]:
    """Replaces every row of the database with the dump's; all or nothing."""
    header = json.loads(lines.readline() or "{}")
    if header.get("format") != FORMAT:
        raise RestoreError("not a Huifang backup (first line should name format huifang-backup/1)")
    if header["revision"] != schema_revision():
        raise RestoreError(f"the backup is of schema revision {header['revision']}, this database is at "
                           f"{schema_revision()}: run init-db with the matching version first")
    by_name = {t.name: t for t in tables()}
    for table in reversed(tables()):
        db.session.execute(table.delete())
    counts, table, batch, decode = {}, None, [], None
    for line in lines:
        record = json.loads(line)
        if "table" in record and len(record) == 1:
            _insert(table, batch)
            table, batch = by_name.get(record["table"]), []
            if table is None:
                raise RestoreError(f"the backup has a table this version does not know: {record['table']}")
            decode, counts[table.name] = _decoder(table), 0
            continue
        batch.append(decode(record))
        counts[table.name] += 1
        if len(batch) >= BATCH:
            _insert(table, batch)
            batch = []
    _insert(table, batch)
    _move_sequences()
    db.session.commit()
    return counts


def _insert(table: Table | None, rows: list[dict]) -> None:
    if table is not None and rows:
        db.session.execute(table.insert(), rows)


def _move_sequences() -> None:
    if db.engine.dialect.name != "postgresql":
        return  # SQLite's rowids continue from the largest id by themselves
    for table in tables():
        if "id" in table.columns and table.columns["id"].autoincrement is not False:
            sequence = db.session.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
            if sequence:
                top = db.session.scalar(select(func.max(table.columns["id"])))
                db.session.execute(text("SELECT setval(:s, :v, :called)"),
                                   {"s": sequence, "v": top or 1, "called": top is not None})
