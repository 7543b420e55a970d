"""The results feed: completed responses in the order their completions committed, for the
results API's cursor pagination.

A cursor over `completed_at` alone would skip rows: a transaction that stamps an earlier
`completed_at` can commit after a reader has moved past it, and historical imports carry old
dates. So each completion stamps `feed_seq` with a number that follows commit order:
- SQLite serialises writers (BEGIN IMMEDIATE holds the write lock until COMMIT), so
  MAX(feed_seq) + 1 inside the completing transaction is ordered by commit.
- PostgreSQL: the completing transaction's own id (`pg_current_xact_id()`, 64-bit, never
  wraps). Ids are handed out in order but transactions commit in any order, so readers are
  only served rows whose transaction id is below the oldest transaction still running that
  could have written to this database: every transaction below it has finished, every later
  one gets a larger id. A row appears once every transaction older than it has ended.
  Transaction ids are shared by every database on the server, so a long transaction in
  another database (another application, a dump of it) would hold the feed back for as long
  as it runs if the server-wide `pg_snapshot_xmin` were the bound: running ids that
  `pg_stat_activity` shows in another database are left out. An id no backend shows (it has
  just ended, or the role may not see it) still counts, so the bound can only be lower.
Rows of one transaction share a stamp and are ordered by (completed_at, id), so a day's live
completions and every import read in SPEC's `completed_at, id` order."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, literal_column, select, tuple_
from sqlalchemy.orm import aliased, selectinload

from core.db import READ_ONLY, db, is_postgres
from core.timeutil import iso_utc
from surveys.models import QuestionnaireVersion, Response

XACT_ID = literal_column("pg_current_xact_id()::text::bigint")
# Evaluated inside the reading statement, so against the same snapshot as the rows it bounds.
# backend_xid is the 32-bit form of a running id, hence the modulo.
OLDEST_RUNNING_HERE = literal_column("""(SELECT coalesce(
    (SELECT min(running::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS running
      WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity AS other
                         WHERE other.datname <> current_database()
                           AND other.backend_xid::text::bigint = running::text::bigint % 4294967296)),
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint))""")


def feed_stamp():
    """The SQL value a completing UPDATE (or INSERT) writes into `responses.feed_seq`."""
    if is_postgres():
        return XACT_ID
    done = aliased(Response)  # not correlated with the UPDATE's own row
    return select(func.coalesce(func.max(done.feed_seq), 0) + 1).scalar_subquery()


def current_feed_stamp() -> int:
    """feed_stamp() as a number, for bulk writes (COPY, executemany) that cannot hold SQL
    expressions. Call it inside the writing transaction (on SQLite every write transaction
    begins IMMEDIATE (core.db), so no other writer can stamp until this one commits)."""
    return db.session.scalar(select(feed_stamp()))


EPOCH = datetime(1970, 1, 1)


def position(response: Response) -> tuple[int, int, int]:
    """A response's place in the feed as integers, for the API's opaque cursor."""
    micros = (response.completed_at - EPOCH) // timedelta(microseconds=1)
    return response.feed_seq, micros, response.id


def feed_page(after: tuple[int, int, int] | None, since: datetime | None, limit: int) -> list[Response]:
    """Up to `limit` completed responses after the cursor position (feed_seq, completed_at
    in microseconds, id), answers
    and questionnaire version loaded. Starts its own read-only transaction (on SQLite a deferred
    BEGIN: the read never waits for a writer, and sees what had committed when it began)."""
    db.session.commit()
    db.session.connection(execution_options=READ_ONLY)
    query = (select(Response).where(Response.completed_at.is_not(None), Response.feed_seq.is_not(None))
             .options(selectinload(Response.answers),
                      selectinload(Response.version).selectinload(QuestionnaireVersion.questionnaire))
             .order_by(Response.feed_seq, Response.completed_at, Response.id).limit(limit))
    if is_postgres():
        query = query.where(Response.feed_seq < OLDEST_RUNNING_HERE)
    if after is not None:
        seq, micros, response_id = after
        completed_at = EPOCH + timedelta(microseconds=micros)
        query = query.where(tuple_(Response.feed_seq, Response.completed_at, Response.id)
                            > tuple_(seq, completed_at, response_id))
    if since is not None:
        query = query.where(Response.completed_at >= since)
    return list(db.session.scalars(query))


EVENT_FIGURES = ("overall", "nps", "satisfaction_index", "resolved")  # what `response.completed` carries


def response_event(response: Response, ticket_external_id: str | None) -> dict:
    """`response.completed`'s data: ids and figures only (no respondent, no free text), since
    events outlive the retention anonymisation; the full record is the results API's."""
    return {"response_id": response.id, "ticket_external_id": ticket_external_id,
            "completed_at": iso_utc(response.completed_at), "channel": response.channel,
            "ticket_kind": response.ticket_kind or None,
            **{name: getattr(response, name) for name in EVENT_FIGURES}}
