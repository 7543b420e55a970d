"""The one SQLAlchemy instance and the helpers every model uses."""
from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Naive UTC: every timestamp is stored this way, on SQLite and PostgreSQL alike."""
    return datetime.now(UTC).replace(tzinfo=None)


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


READ_ONLY = {"huifang_read_only": True}


@functools.cache
def _driver_sql(statement, dialect) -> str:
    return str(statement.compile(dialect=dialect))


def read_first(statement, params: dict[str, Any], engine: Engine | None = None) -> tuple | None:
    """The first row of one read of `statement` (its bound parameters named in `params`), as a
    tuple in the order of its columns, on `engine` (default: the current app's). On PostgreSQL
    on a pooled connection of the driver outside any transaction: SQLAlchemy's connection,
    execution and result objects cost more CPU than the read itself on the survey page (no
    BEGIN / ROLLBACK round trips either). On SQLite through SQLAlchemy (its dates are text the
    driver does not convert) in a deferred transaction: no write lock."""
    engine = engine or db.engine
    if engine.dialect.name != "postgresql":
        with engine.connect().execution_options(**READ_ONLY) as connection:
            row = connection.execute(statement, params).first()
        return tuple(row) if row is not None else None
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        driver.autocommit = True  # local to the driver: no round trip
        row = _first_row(driver, engine.dialect, statement, params)
        driver.autocommit = False
    except Exception:
        pooled.invalidate()  # whatever failed, the connection is not reused
        raise
    finally:
        pooled.close()
    return row


def _first_row(driver, dialect, statement, params: dict[str, Any]) -> tuple | None:
    """The first row of `statement` on a connection of the driver (PostgreSQL)."""
    with driver.cursor() as cursor:
        cursor.execute(_driver_sql(statement, dialect), params)
        return cursor.fetchone()


class ReservedConnection:
    """read_first for the busiest statements (a survey link's first visit and first answer,
    surveys/front.py): on PostgreSQL each thread keeps a connection of its own, in autocommit.
    A statement then costs itself alone: no checkout, no reset on return, no switching
    autocommit on and off, no BEGIN or COMMIT (together a quarter of the first visit's CPU).
    In autocommit a statement is a transaction of its own: one that writes is committed,
    durably, when its rows come back (PostgreSQL only: see `writes`). The connection is made by
    `engine`'s pool (its settings) and detached from it at once: in autocommit it must never
    serve a transaction, and it is closed, not pooled, when its thread or this object goes.

    A connection that fails is closed and the next statement opens another; the error is
    raised. A process forked after a statement leaves its parent's connection alone: it is
    kept, unused (closing it would end the parent's session on the server), and the child
    opens its own. Other databases: read_first, for reads only (`writes` is False)."""

    def __init__(self, engine: Engine):
        self.engine, self.local = engine, threading.local()
        self.writes = engine.dialect.name == "postgresql"
        self.inherited: list = []  # connections of a parent process, see above

    def first(self, statement, params: dict[str, Any]) -> tuple | None:
        if not self.writes:
            return read_first(statement, params, self.engine)
        reserved = self._reserved()
        try:
            return _first_row(reserved.driver, self.engine.dialect, statement, params)
        except Exception:
            self.local.reserved = None  # and so closed
            raise

    def _reserved(self) -> _Reserved:
        reserved = getattr(self.local, "reserved", None)
        if reserved is not None and reserved.pid == os.getpid():
            return reserved
        if reserved is not None:
            self.inherited.append(reserved)
        self.local.reserved = _Reserved(self.engine)
        return self.local.reserved


class _Reserved:
    """One thread's connection of a ReservedConnection, closed when it goes (in its own process)."""

    def __init__(self, engine: Engine):
        self.pooled = engine.raw_connection()
        self.driver = self.pooled.driver_connection  # before detaching: the entry forgets it then
        self.pooled.detach()
        self.driver.autocommit = True
        self.pid = os.getpid()

    def __del__(self):
        if self.pid == os.getpid():
            self.pooled.close()  # detached: the driver's connection is closed


Statement = tuple[Any, Mapping[str, Any]]  # an executable and its bound parameters by name


def execute_together(statements: Sequence[Statement], commit: bool = False) -> list[list[tuple]]:
    """Executes `statements` in order in the ORM session's transaction; returns each one's rows
    ([] for a statement that returns none). With `commit`, the transaction is then committed.
    On PostgreSQL they are sent at once on the session's connection of the driver, in a
    pipeline: one round trip for all of them (with the BEGIN of a new transaction, and the
    COMMIT) where SQLAlchemy's execution waits for each in turn, and costs more CPU than the
    statement itself. The server still runs them one after the other, each with a snapshot of
    its own. The driver knows no Python-side column defaults: a statement names every column
    it writes, with a bindparam each, and uses no expanding IN. An error leaves the
    transaction failed, for the caller's rollback, as a failed statement would."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        rows = [_rows(connection.execute(statement, params)) for statement, params in statements]
    else:
        rows = _pipelined(connection, statements, commit)
    if commit:
        db.session.commit()  # on PostgreSQL the driver has nothing left to commit: no round trip
    return rows


def _pipelined(connection, statements: Sequence[Statement], commit: bool) -> list[list[tuple]]:
    from psycopg.pq import ExecStatus  # the driver of PostgreSQL only

    driver = connection.connection.driver_connection
    try:
        with driver.pipeline():
            cursors = [driver.execute(_driver_sql(statement, connection.dialect), params)
                       for statement, params in statements]
            if commit:
                driver.commit()
    except Exception:
        if driver.broken:
            connection.invalidate()  # as SQLAlchemy does with a lost connection: not pooled again
        raise
    # by the result's status: `description` would build the columns' descriptions
    return [cursor.fetchall() if cursor.pgresult.status == ExecStatus.TUPLES_OK else [] for cursor in cursors]


def _rows(result) -> list:
    return result.all() if result.returns_rows else []


@contextlib.contextmanager
def unsynced_sqlite() -> Iterator[None]:
    """SQLite without an fsync per commit, for filling a new database with generated data (the
    demo commits ~10,000 times, half its time waiting on the disk). A crash or power cut may
    lose what was written: only for data that can be generated again. No-op on PostgreSQL."""
    from sqlalchemy import event

    if is_postgres():
        yield
        return

    def unsynced(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    event.listen(db.engine, "connect", unsynced)
    db.session.close()
    db.engine.dispose()  # pooled connections reopen with the pragma
    try:
        yield
    finally:
        db.session.close()
        event.remove(db.engine, "connect", unsynced)
        db.engine.dispose()


def configure_sqlite(engine) -> None:
    """SQLite with several writers (web workers, the scheduler): WAL so readers never block the
    writer, and BEGIN IMMEDIATE so two transactions never deadlock upgrading a read lock to a
    write lock (SQLite would fail one at once instead of waiting). Read-only work (the report's
    scans) passes READ_ONLY and keeps a deferred BEGIN, so it runs alongside."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin event emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        read_only = connection.get_execution_options().get("huifang_read_only")
        # on the driver's connection: this runs at the start of every transaction, and a
        # statement through SQLAlchemy's execution (events, result) costs more than the BEGIN
        connection.connection.driver_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")


def fresh_postgres_database(url: str, name: str) -> str:
    """Drops and creates database `name` on the server of `url`; returns its URL. For the
    test suite and the benchmarks, which each want a database of their own."""
    from sqlalchemy import create_engine, text

    from core.config import database_url

    root = database_url(url).rpartition("/")[0]
    admin = create_engine(f"{root}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{root}/{name}"
