"""Rollups: additive sums of responses and invitations per local day and breakdown, kept up to
date as responses complete and invitations are sent, so reports and the dashboard read days,
not rows (SPEC "Figures"; every figure there is a ratio of sums, or a function of them).

Each table row holds the sums of one local day (core.timeutil.DEFAULT_TZ, which has no daylight
saving: a fixed offset maps UTC to its days) for one *grain*: the total (grain 0), one breakdown
(channel, ticket kind, region or agent), the three without the agent (grain 7) or all four at once
(grain 15, for combined filters). The agent with any other keys is also summed per calendar
month (MONTH_GRAINS). A reader picks the smallest grain that carries its filters and groupings
(`grain_for`), and for the months its dates cover whole, the month rows of exactly those keys
(`month_grain_for`): a filtered breakdown by agent never reads a year of all-keys day rows.

Writers — every path that completes a response or sends an invitation calls one of these in
its own transaction, just before commit (the upsert holds the rows it touches until then):
- `add_responses(ids)` / `add_response_range(first_id, last_id)`: completed responses, one SQL
  `INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE SET x = x + excluded.x`, whatever the
  number of rows. **Bulk imports** (COPY / executemany) call `add_response_range` over the ids
  they just inserted, in the same transaction as the rows. A re-import that *replaces* stored
  responses first retracts them with `sign=-1`, then adds the new values.
- `add_invitations(ids, "sent" | "failed" | "completed")`: the response rate's cohort, counted
  on the day the invitation was sent. Dispatch counts its batch itself and calls
  `add_invitation_counts`, which upserts the few rows without reading the invitations again.
`rebuild()` (`flask --app app rebuild-rollups`) recomputes both tables from the raw rows.
"""
from __future__ import annotations

import functools
import operator
import struct
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from core.bulk import in_parameter
from core.db import db
from core.timeutil import DEFAULT_TZ
from reports.models import (
    FLOAT_MEASURES,
    INVITATION_MEASURES,
    ROLLUP_KEYS,
    invitation_rollups,
    response_rollups,
)
from reports.themes import THEMES
from reports.weights import VARIABLES
from surveys.models import DIMENSIONS, Answer, Invitation, Response
from tickets.models import Ticket


def _keys_of(grain: int) -> tuple[str, ...]:
    return tuple(k for i, k in enumerate(ROLLUP_KEYS) if grain & (1 << i))


# grain -> the keys its day rows are grouped by (bit i stands for ROLLUP_KEYS[i]), smallest first, as
# grain_for picks the first that carries a reader's keys. Without an agent, one grain of the other
# three keys (at most a few hundred rows a day) serves every filter and breakdown.
AGENT = 1 << ROLLUP_KEYS.index("agent")
GRAINS: dict[int, tuple[str, ...]] = {g: _keys_of(g) for g in (0, 1, 2, 4, 7, 8, 15)}
# With an agent there are thousands of rows a day, so the agent alone and with one or two other
# keys is also summed per calendar month, in rows of grain PER_MONTH + its bits whose day is the
# month's first: a year of a breakdown by agent under one or two filters, or of an agent's
# breakdown, reads twelve rows per agent of just its keys (`sums` reads the months a date range
# covers whole from them, and the days of its partial months from the day rows). All four keys
# per month would be as many rows as a bulk import's chunk again: three filters and the agent
# read the all-keys day rows.
PER_MONTH = 1 << len(ROLLUP_KEYS)
MONTH_GRAINS: dict[int, tuple[str, ...]] = {
    PER_MONTH + g: _keys_of(g)
    for g in sorted((g for g in range(PER_MONTH - 1) if g & AGENT), key=lambda g: (bin(g).count("1"), g))}
# The reporting time zone has no daylight saving (since 1991), so one offset maps UTC to its days.
OFFSET_HOURS = ZoneInfo(DEFAULT_TZ).utcoffset(datetime(2000, 1, 1)).total_seconds() / 3600
OFFSET = timedelta(hours=OFFSET_HOURS)


# Inline literals, not parameters: PostgreSQL matches GROUP BY expressions textually.
NONE = literal_column("''")


def local_day(column, dialect: str):
    """The local date (in DEFAULT_TZ) of a naive-UTC timestamp column, computed in SQL."""
    if dialect == "sqlite":
        return func.date(column, literal_column(f"'{OFFSET_HOURS:+g} hours'"))
    return cast(column + literal_column(f"interval '{OFFSET_HOURS:g} hours'"), Date)


def month_start(day, dialect: str):
    """The first day of the month of a date expression, in SQL."""
    if dialect == "sqlite":
        return func.date(day, literal_column("'start of month'"))
    return cast(func.date_trunc(literal_column("'month'"), day), Date)


# ---- what is summed ----------------------------------------------------------------------------

def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def response_expressions(comment) -> dict[str, Any]:
    """name -> SQL aggregate over completed responses (joined to their `comment` answer). Pair
    sums use NULL propagation: x * y is NULL unless both were answered, `x + 0 * y` keeps x only
    where y exists."""
    r = Response
    si, y = r.satisfaction_index, r.overall
    text_col = func.lower(comment.c.value_text)
    out: dict[str, Any] = {
        "n": func.count(), "si_n": func.count(si), "si_sum": func.sum(si), "si_sq": func.sum(si * si),
        "overall_n": func.count(y), "top2": _count_if(y >= 4),
        "nps_n": func.count(r.nps), "promoters": _count_if(r.nps >= 9), "detractors": _count_if(r.nps <= 6),
        "resolved_n": func.count(r.resolved), "resolved_yes": _count_if(r.resolved.is_(True)),
        "comments": func.count(comment.c.value_text)}
    for theme, words in THEMES.items():
        out[f"theme_{theme}"] = _count_if(or_(*[text_col.like(f"%{w.lower()}%") for w in words]))
    for d in DIMENSIONS:
        x = getattr(r, d)
        out.update({f"{d}_n": func.count(x), f"{d}_sum": func.sum(x), f"{d}_sq": func.sum(x * x),
                    f"{d}_pn": func.count(x * y), f"{d}_px": func.sum(x + 0 * y), f"{d}_py": func.sum(y + 0 * x),
                    f"{d}_pxx": func.sum(x * x + 0 * y), f"{d}_pyy": func.sum(y * y + 0 * x),
                    f"{d}_pxy": func.sum(x * y)})
    # Complete cases of the four dimensions and overall, for Johnson's relative weights.
    complete = and_(*[getattr(r, v).is_not(None) for v in VARIABLES])
    out["cc_n"] = _count_if(complete)
    for i, a in enumerate(VARIABLES):
        out[f"cc_{a}"] = func.sum(case((complete, getattr(r, a))))
        for b in VARIABLES[i:]:
            out[f"cc_{a}__{b}"] = func.sum(case((complete, getattr(r, a) * getattr(r, b))))
    return out


def _response_source(where: list) -> tuple[dict[str, Any], Any, Any, list]:
    comment = Answer.__table__.alias("comment")
    joined = Response.__table__.outerjoin(
        comment, and_(comment.c.response_id == Response.id, comment.c.question_key == "comment"))
    keys = {k: getattr(Response, k) for k in ROLLUP_KEYS}
    return keys, response_expressions(comment), joined, [Response.completed_at.is_not(None), *where]


def _invitation_source(measure: str, where: list) -> tuple[dict[str, Any], Any, Any, list]:
    keys = {"channel": Invitation.channel, "ticket_kind": func.coalesce(Ticket.kind, NONE),
            "region": func.coalesce(Ticket.region, NONE), "agent": func.coalesce(Ticket.agent, NONE)}
    joined = Invitation.__table__.outerjoin(Ticket.__table__, Ticket.id == Invitation.ticket_id)
    return keys, {measure: func.count()}, joined, [Invitation.sent_at.is_not(None), *where]


# ---- writing -----------------------------------------------------------------------------------

def grain_rows() -> list[tuple[int, tuple[str, ...], bool]]:
    """(grain as stored, its keys, summed per month) of every kind of row the writers keep."""
    return [*((grain, keys, False) for grain, keys in GRAINS.items()),
            *((grain, keys, True) for grain, keys in MONTH_GRAINS.items())]


def _grouped(keys: dict[str, Any], day, measures: dict[str, Any], source, where: list, dialect: str) -> Select:
    """One row per (grain, day, keys): every grain's GROUP BY, in key order so that two
    transactions upserting the same rows lock them in the same order (no deadlock)."""
    parts = []
    for grain, grouped, monthly in grain_rows():
        when = month_start(day, dialect) if monthly else day
        columns = [literal_column(str(grain), Integer).label("grain"), when.label("day")]
        columns += [(keys[k] if k in grouped else NONE).label(k) for k in ROLLUP_KEYS]
        columns += [func.coalesce(expr, 0).label(name) for name, expr in measures.items()]
        parts.append(select(*columns).select_from(source).where(*where)
                     .group_by(when, *[keys[k] for k in grouped]))
    rows = union_all(*parts).subquery()
    # WHERE true: SQLite would otherwise read the upsert's ON CONFLICT as a join constraint.
    return select(rows).where(true()).order_by(rows.c.grain, rows.c.day, *[rows.c[k] for k in ROLLUP_KEYS])


def _upsert(table: Table, dialect: str, source: tuple, sign: int, day_column) -> Any:
    keys, measures, joined, where = source
    measures = {name: expr if sign > 0 else -expr for name, expr in measures.items()}
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    statement = insert.from_select(["grain", "day", *ROLLUP_KEYS, *measures],
                                   _grouped(keys, local_day(day_column, dialect), measures, joined, where,
                                            dialect))
    return statement.on_conflict_do_update(
        index_elements=["grain", "day", *ROLLUP_KEYS],
        set_={name: table.c[name] + statement.excluded[name] for name in measures})


def _dialect(conn: Connection | None) -> str:
    return (conn if conn is not None else db.session.get_bind()).dialect.name


def _execute(statement, params: dict, conn: Connection | None) -> None:
    (conn if conn is not None else db.session).execute(statement, params)


# The statements are large (every measure of every grain): each is built once per process and
# then reused, so SQLAlchemy compiles it once too; the ids are one parameter (an array), so the
# driver does not parse a statement with thousands of placeholders either.
@functools.cache
def _response_statement(dialect: str, where: str, sign: int):
    ids = {"ids": in_parameter(Response.id, "ids", dialect),
           "range": Response.id.between(bindparam("first_id"), bindparam("last_id"))}[where]
    return _upsert(response_rollups, dialect, _response_source([ids]), sign, Response.completed_at)


@functools.cache
def _invitation_statement(dialect: str, measure: str):
    source = _invitation_source(measure, [in_parameter(Invitation.id, "ids", dialect)])
    return _upsert(invitation_rollups, dialect, source, 1, Invitation.sent_at)


LIVE_MAX = 100  # up to this many responses, add_responses sums them in Python


def add_responses(ids: Sequence[int], sign: int = 1, conn: Connection | None = None) -> None:
    """Adds the completed responses `ids` to the rollups (sign=-1 takes them out again).
    Call it in the transaction that completed them, last before commit. A few (a live
    completion's one) are read once and summed here, as the bulk import sums its rows: one
    statement per grain of GROUP BY costs more than the ~15 rows it writes."""
    if not ids:
        return
    if conn is not None or len(ids) > LIVE_MAX:
        _execute(_response_statement(_dialect(conn), "ids", sign), {"ids": list(ids)}, conn)
        return
    comment = Answer.__table__.alias("comment")
    figures = ("overall", "satisfaction_index", "nps", "resolved", *DIMENSIONS)
    rows = db.session.execute(
        select(Response.completed_at, *[getattr(Response, k) for k in ROLLUP_KEYS],
               *[getattr(Response, f) for f in figures], comment.c.value_text)
        .outerjoin(comment, and_(comment.c.response_id == Response.id, comment.c.question_key == "comment"))
        .where(in_parameter(Response.id, "ids", _dialect(None)), Response.completed_at.is_not(None)),
        {"ids": list(ids)}).all()
    if rows:
        keys = [(day_of(row[0]), *row[1:5]) for row in rows]
        values = [response_vector(dict(zip(figures, row[5:-1], strict=True)), row[-1]) for row in rows]
        add_summed(keys, sign * np.array(values))


def add_response_range(first_id: int, last_id: int, sign: int = 1, conn: Connection | None = None) -> None:
    """Adds the completed responses with first_id <= id <= last_id: the bulk import's call over
    the rows it has just inserted (one statement, however many rows)."""
    _execute(_response_statement(_dialect(conn), "range", sign),
             {"first_id": first_id, "last_id": last_id}, conn)


def add_invitations(ids: Sequence[int], measure: str, conn: Connection | None = None) -> None:
    """Counts invitations as `sent`, `failed` (after being sent) or `completed`, on the local
    day they were sent (the response rate's cohort). Invitations never sent are not counted."""
    if measure not in INVITATION_MEASURES:
        raise ValueError(measure)
    if ids:
        _execute(_invitation_statement(_dialect(conn), measure), {"ids": list(ids)}, conn)


def add_invitation_counts(counts: Mapping[tuple[str, str, str, str], int], sent_at: datetime, measure: str) -> None:
    """`add_invitations` for invitations all sent at `sent_at` that the caller has counted by
    (channel, ticket_kind, region, agent), "" for no ticket: one upsert of the few rows they
    add to, with no scan of the invitations (dispatch's path, a batch at a time). Rows are
    locked in (grain, day, keys) order, so two batches never deadlock; the one-invitation
    writers lock one row per grain, in grain order too."""
    if measure not in INVITATION_MEASURES:
        raise ValueError(measure)
    day = (sent_at + OFFSET).date()
    added: Counter[tuple] = Counter()
    for keys, n in counts.items():
        full = dict(zip(ROLLUP_KEYS, keys, strict=True))
        for grain, grouped, monthly in grain_rows():
            when = day.replace(day=1) if monthly else day
            added[(grain, when, *(full[k] if k in grouped else "" for k in ROLLUP_KEYS))] += n
    if not added:
        return
    columns = ("grain", "day", *ROLLUP_KEYS, measure)
    insert = (postgresql.insert if _dialect(None) == "postgresql" else sqlite.insert)(invitation_rollups)
    statement = insert.values([dict(zip(columns, (*key, n), strict=True)) for key, n in sorted(added.items())])
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["grain", "day", *ROLLUP_KEYS],
        set_={measure: invitation_rollups.c[measure] + statement.excluded[measure]}))


INVITATION_STATES = {"sent": None, "failed": "failed", "completed": "completed"}


def rebuild(conn: Connection | None = None) -> None:
    """Recomputes both tables from the raw rows in one transaction. On PostgreSQL the tables
    are locked first: a response completing meanwhile waits, then adds itself to the new sums."""
    run = conn if conn is not None else db.session
    dialect = _dialect(conn)
    if dialect == "postgresql":
        run.execute(text("LOCK TABLE response_rollups, invitation_rollups IN EXCLUSIVE MODE"))
    run.execute(delete(response_rollups))
    run.execute(delete(invitation_rollups))
    run.execute(_upsert(response_rollups, dialect, _response_source([]), 1, Response.completed_at))
    for measure, state in INVITATION_STATES.items():
        where = [Invitation.state == state] if state else []
        run.execute(_upsert(invitation_rollups, dialect, _invitation_source(measure, where), 1, Invitation.sent_at))


def derive_grains(conn: Connection | None = None) -> None:
    """Recomputes every other kind of row of both tables from their all-keys day rows, which
    carry every sum of every response and invitation: how rollups kept with fewer grains get the
    new ones (the migration that added them), without reading the raw rows again. Each kind is
    summed from the fewest rows that hold it: month rows from month rows, coarse from fine."""
    run = conn if conn is not None else db.session
    dialect, finest = _dialect(conn), max(GRAINS)
    kinds = {grain: (set(keys), monthly) for grain, keys, monthly in grain_rows()}
    order = sorted((g for g in kinds if g != finest), key=lambda g: -len(kinds[g][0]))
    for t in (response_rollups, invitation_rollups):
        measures = measures_of(t)
        run.execute(delete(t).where(t.c.grain != finest))
        done = [finest]
        for grain in order:
            keys, monthly = kinds[grain]
            source = min((g for g in done if keys <= kinds[g][0] and (monthly or not kinds[g][1])),
                         key=lambda g: (not kinds[g][1], len(kinds[g][0])))  # month rows are the fewer
            when = month_start(t.c.day, dialect) if monthly and not kinds[source][1] else t.c.day
            columns = [t.c[k] if k in keys else NONE.label(k) for k in ROLLUP_KEYS]
            run.execute(insert(t).from_select(
                ["grain", "day", *ROLLUP_KEYS, *measures],
                select(literal_column(str(grain)), when, *columns, *[func.sum(t.c[m]) for m in measures])
                .where(t.c.grain == source).group_by(when, *[t.c[k] for k in ROLLUP_KEYS if k in keys])))
            done.append(grain)


# ---- bulk: sums computed in Python -------------------------------------------------------------
# The bulk import knows every figure of the rows it writes, so it sums them per chunk itself and
# upserts each rollup row once, instead of reading back thousands of rows it has just written.
# response_values mirrors response_expressions row by row (tests/test_rollups.py proves the
# result equals a rebuild from the raw rows).

def response_values(figures: dict[str, Any], comment: str | None) -> dict[str, float]:
    """One completed response's contribution to every response measure (`figures`: its figure
    columns; `comment`: its stored `comment` answer)."""
    y, si, nps, resolved = figures["overall"], figures["satisfaction_index"], figures["nps"], figures["resolved"]
    out = {"n": 1, "si_n": si is not None, "si_sum": si or 0.0, "si_sq": (si or 0.0) ** 2,
           "overall_n": y is not None, "top2": y is not None and y >= 4,
           "nps_n": nps is not None, "promoters": nps is not None and nps >= 9,
           "detractors": nps is not None and nps <= 6,
           "resolved_n": resolved is not None, "resolved_yes": resolved is True,
           **comment_values(comment)}
    for d in DIMENSIONS:
        x = figures[d]
        both = x is not None and y is not None
        out.update({f"{d}_n": x is not None, f"{d}_sum": x or 0, f"{d}_sq": (x or 0) ** 2, f"{d}_pn": both,
                    f"{d}_px": x if both else 0, f"{d}_py": y if both else 0, f"{d}_pxx": x * x if both else 0,
                    f"{d}_pyy": y * y if both else 0, f"{d}_pxy": x * y if both else 0})
    complete = all(figures[v] is not None for v in VARIABLES)
    out["cc_n"] = complete
    for i, a in enumerate(VARIABLES):
        out[f"cc_{a}"] = figures[a] if complete else 0
        for b in VARIABLES[i:]:
            out[f"cc_{a}__{b}"] = figures[a] * figures[b] if complete else 0
    return {name: float(value) for name, value in out.items()}


def response_vector(figures: dict[str, Any], comment: str | None) -> list[float]:
    """response_values in the order of the table's measure columns (what add_summed takes)."""
    values = response_values(figures, comment)
    return [values[m] for m in RESPONSE_MEASURES]


def comment_values(comment: str | None) -> dict[str, int]:
    """The measures a comment adds: counted, and each theme whose words it holds."""
    lowered = comment.lower() if comment is not None else ""
    return {"comments": comment is not None,
            **{column: comment is not None and any(w in lowered for w in words)
               for column, words in _THEME_WORDS.items()}}


_THEME_WORDS = {f"theme_{theme}": [w.lower() for w in words] for theme, words in THEMES.items()}


RESPONSE_MEASURES = [c.name for c in response_rollups.columns if c.name not in ("id", "grain", "day", *ROLLUP_KEYS)]
COMMENT_COLUMNS = [RESPONSE_MEASURES.index(m) for m in comment_values(None)]  # where a free-text comment adds


def day_of(moment: datetime) -> date:
    """The local day (DEFAULT_TZ) of a naive-UTC moment, as local_day computes it in SQL."""
    return (moment + OFFSET).date()


def add_summed(keys: Sequence[tuple[date, str, str, str, str]], values: np.ndarray) -> None:
    """Adds responses to the rollups from Python: `keys[i]` is response i's (local day, channel,
    ticket kind, region, agent), `values[i]` its response_vector. Every grain's rows are summed
    here and upserted in one statement."""
    upsert_summed(summed_rows(keys, values))


def summed_rows(keys: Sequence[tuple[date, str, str, str, str]], values: np.ndarray) -> tuple[str, Any]:
    """`add_summed`'s rows, made ready without the database (the import builds them in its
    reading thread): (how they are written, the rows or their binary COPY data)."""
    if not len(keys):
        return "none", None
    finest: dict[tuple, int] = {}
    codes = [finest.setdefault(k, len(finest)) for k in keys]
    sums = values if len(finest) == len(keys) else _sum_by(np.asarray(codes), values)  # often a key a row
    # The finest groups with their month and an empty key after their keys:
    # (day, channel, kind, region, agent, month, "").
    groups = [(*key, key[0].replace(day=1), "") for key in finest]
    month, empty = len(ROLLUP_KEYS) + 1, len(ROLLUP_KEYS) + 2
    # Each key column as small integers, so a grain's groups are found by numpy, not per row.
    coded = np.array([list(map({v: i for i, v in enumerate(set(column))}.__getitem__, column))
                      for column in list(zip(*groups, strict=True))[:empty]], dtype=np.int64)
    radix = [int(c.max()) + 1 for c in coded]
    # grain -> (the group columns its rows are grouped by: a day's rows by their month too; each
    # row's first group; its sums). Each grain is summed from the smallest one already summed
    # that it can be: the agent's month from the agent and channel's month, not from every group.
    done = {max(GRAINS): (frozenset(range(empty)), np.arange(len(groups)), sums)}
    for grain, grouped, monthly in sorted(grain_rows(), key=lambda row: -len(row[1])):
        if grain in done:
            continue
        kept = _kept_columns(grouped, monthly)
        _, source, source_sums = min((d for d in done.values() if kept <= d[0]), key=lambda d: len(d[1]))
        combined = np.zeros(len(source), dtype=np.int64)
        for i in sorted(kept):
            combined = combined * radix[i] + coded[i][source]
        _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        done[grain] = (kept | {month} if not monthly else kept, source[first], _sum_by(inverse.ravel(), source_sums))
    rows: list[tuple[int, list[tuple], np.ndarray]] = []
    for grain, grouped, monthly in grain_rows():
        _, first, grain_sums = done[grain]
        # (day or month, then each key or ''), taken from the row's first group at C speed
        key_of = operator.itemgetter(month if monthly else 0,
                                     *(1 + i if k in grouped else empty for i, k in enumerate(ROLLUP_KEYS)))
        rows.append((grain, list(map(key_of, map(groups.__getitem__, first.tolist()))), grain_sums))
    return _summed_payload(rows)


def _kept_columns(grouped: tuple[str, ...], monthly: bool) -> frozenset[int]:
    """The columns of summed_rows' groups a grain's rows are grouped by: the day (0) or the
    month, and its keys (1 + their place in ROLLUP_KEYS)."""
    return frozenset([len(ROLLUP_KEYS) + 1 if monthly else 0, *(1 + ROLLUP_KEYS.index(k) for k in grouped)])


def _sum_by(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row i of the result sums the rows of `values` whose code is i (codes 0..k-1, each used)."""
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    return np.add.reduceat(values[order], starts, axis=0)


LIVE_ROWS = 200  # up to this many rollup rows, upsert_summed writes them without a scratch table
WHOLE = [i for i, m in enumerate(RESPONSE_MEASURES) if m not in FLOAT_MEASURES]
FRACTIONAL = [i for i, m in enumerate(RESPONSE_MEASURES) if m in FLOAT_MEASURES]
SUMMED_COLUMNS = ("grain", "day", *ROLLUP_KEYS, *(RESPONSE_MEASURES[i] for i in WHOLE + FRACTIONAL))


def _summed_payload(grains: list[tuple[int, list[tuple], np.ndarray]]) -> tuple[str, Any]:
    postgres = _dialect(None) == "postgresql"
    if postgres and sum(len(keys) for _, keys, _ in grains) > LIVE_ROWS:
        return "binary", _binary_copy(grains)
    rows = [(grain, day if postgres else day.isoformat(), *key, *map(round, row[:len(WHOLE)]), *row[len(WHOLE):])
            for grain, keys, sums in grains
            for (day, *key), row in zip(keys, sums[:, WHOLE + FRACTIONAL].tolist(), strict=True)]
    return ("live" if postgres else "sqlite"), sorted(rows) if postgres else rows


# PostgreSQL's binary COPY format: a row is its field count, then each field's length and bytes.
# Every measure is 8 bytes (bigint or double precision, big-endian), so numpy lays out all the
# measures of all the rows at once; Python only joins each row's key (cached) and day to them.
# Text COPY would cost a str() per number: ~80 a row, most of the import's time in Python.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_PG_EPOCH = date(2000, 1, 1)
_MEASURES_LAYOUT = np.dtype([field for n, i in enumerate(WHOLE + FRACTIONAL)
                             for field in ((f"size{n}", ">i4"), (f"m{n}", ">f8" if i in FRACTIONAL else ">i8"))])


def _binary_copy(grains: list[tuple[int, list[tuple], np.ndarray]]) -> bytearray:
    # Written into one growing buffer: a list of each row's bytes joined at the end held the
    # payload twice (an import's transaction sums ~10,000 rows, 10 MB).
    out = bytearray(_SIGNATURE)
    width = _MEASURES_LAYOUT.itemsize
    for grain, keys, sums in grains:
        measures = np.empty(len(keys), dtype=_MEASURES_LAYOUT)
        for n, i in enumerate(WHOLE + FRACTIONAL):
            measures[f"size{n}"] = 8
            measures[f"m{n}"] = sums[:, i] if i in FRACTIONAL else np.rint(sums[:, i])
        raw = memoryview(measures.view(np.uint8))
        head = struct.pack(">hiii", len(SUMMED_COLUMNS), 4, grain, 4)  # field count, grain (int4), the day's size
        for n, (day, *key) in enumerate(keys):
            out += _head_day(head, day)
            out += _key_fields(*key)
            out += raw[n * width:(n + 1) * width]
    out += _TRAILER
    return out


@functools.lru_cache(maxsize=4096)
def _head_day(head: bytes, day: date) -> bytes:
    return head + (day - _PG_EPOCH).days.to_bytes(4, "big", signed=True)


@functools.lru_cache(maxsize=8192)
def _key_fields(*key: str) -> bytes:
    encoded = [k.encode() for k in key]
    return b"".join(len(k).to_bytes(4, "big") + k for k in encoded)


def upsert_summed(payload: tuple[str, Any]) -> None:
    """Adds what `summed_rows` made to response_rollups, in the caller's transaction, in
    (grain, day, keys) order: the live path's lock order (no deadlock)."""
    from core.bulk import copy_binary, execute_many  # the bulk writers

    how, rows = payload
    if how == "none":
        return
    names = ", ".join(SUMMED_COLUMNS)
    measures = SUMMED_COLUMNS[2 + len(ROLLUP_KEYS):]
    conflict = f"ON CONFLICT (grain, day, {', '.join(ROLLUP_KEYS)}) DO UPDATE SET " + ", ".join(
        f"{m} = response_rollups.{m} + excluded.{m}" for m in measures)
    if how == "live":  # a live completion's few rows: one prepared upsert
        cursor = db.session.connection().connection.driver_connection.cursor()
        cursor.executemany(f"INSERT INTO response_rollups ({names}) "
                           f"VALUES ({', '.join(['%s'] * len(SUMMED_COLUMNS))}) {conflict}", rows)
    elif how == "binary":  # COPY into a scratch table, then one upsert
        db.session.execute(text(f"CREATE TEMP TABLE summed AS SELECT {names} FROM response_rollups WITH NO DATA"))
        # An import's ~10,000 wide rows (~13 MB) are sorted in memory, not in files.
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
        copy_binary("summed", SUMMED_COLUMNS, rows)
        db.session.execute(text(f"INSERT INTO response_rollups ({names}) SELECT {names} FROM summed "
                                f"ORDER BY grain, day, {', '.join(ROLLUP_KEYS)} {conflict}"))
        db.session.execute(text("DROP TABLE summed"))
    else:
        execute_many(f"INSERT INTO response_rollups ({names}) VALUES ({', '.join('?' * len(SUMMED_COLUMNS))}) "
                     f"{conflict}", rows)


# ---- reading -----------------------------------------------------------------------------------

def grain_for(keys: Iterable[str]) -> int:
    """The smallest grain whose day rows are grouped by all of `keys`."""
    needed = set(keys)
    return next(grain for grain, grouped in GRAINS.items() if needed <= set(grouped))


def month_grain_for(keys: Iterable[str]) -> int | None:
    """The month rows grouped by exactly `keys`, when there are (for keys with the agent)."""
    needed = set(keys)
    return next((grain for grain, grouped in MONTH_GRAINS.items() if needed == set(grouped)), None)


def known_values(key: str) -> list[str]:
    """The values of breakdown `key` that completed responses have, sorted: from the key's
    month rows where it has them (twelve a year per agent), else its day rows, never a scan of
    the responses (a seq scan of millions of rows on every dashboard view)."""
    t = response_rollups
    grain = month_grain_for([key]) or grain_for([key])
    column = t.c[key]
    return list(db.session.scalars(select(column).where(t.c.grain == grain).group_by(column)
                                   .having(func.sum(t.c.n) > 0).order_by(column)))


def measures_of(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in ("id", "grain", "day", *ROLLUP_KEYS)]


def sums(table: Table, date_from: date, date_to: date, filters: dict[str, str] | None = None,
         by: Sequence[str] = (), measures: Sequence[str] | None = None,
         per_day: bool = False, whole_month_rows: bool = False) -> list[dict[str, Any]]:
    """Summed measures over local days [date_from, date_to] that match `filters`, one row per
    value of `by` (and per day with `per_day`); without either, exactly one row. With per_day
    and `whole_month_rows`, where the keys have month rows, each month the dates cover whole is one
    row dated its first day (enough for a trend by month or quarter)."""
    filters = {k: v for k, v in (filters or {}).items() if v}
    statement = _sums_statement(table, tuple(sorted(filters)), tuple(by), tuple(measures or measures_of(table)),
                                per_day, whole_month_rows)
    params = {"date_from": date_from, "date_to": date_to, **whole_months(date_from, date_to),
              **{f"f_{k}": v for k, v in filters.items()}}
    return [dict(row) for row in db.session.execute(statement, params).mappings()]


def whole_months(date_from: date, date_to: date) -> dict[str, date]:
    """The calendar months that [date_from, date_to] covers whole, as [months_from, months_to):
    the first day of the first one and the day after the last one (both date_to + 1 day when
    there is none, so the days read are all of [date_from, date_to])."""
    after = date_to + timedelta(days=1)
    first = date_from if date_from.day == 1 else (date_from.replace(day=28) + timedelta(days=4)).replace(day=1)
    end = after.replace(day=1)
    return {"months_from": first, "months_to": end} if first < end else {"months_from": after, "months_to": after}


@functools.cache
def _sums_statement(table: Table, filters: tuple[str, ...], by: tuple[str, ...], measures: tuple[str, ...],
                    per_day: bool, whole_month_rows: bool = False) -> Select:
    """Built once per shape (~80 summed columns take milliseconds to build on every call)."""
    grain, month_grain = grain_for([*filters, *by]), month_grain_for([*filters, *by])
    groups = ([table.c.day] if per_day else []) + [table.c[k] for k in by]
    columns = [func.coalesce(func.sum(table.c[m]), 0) for m in measures]
    columns = [(c if m in FLOAT_MEASURES else cast(c, BigInteger)).label(m)
               for c, m in zip(columns, measures, strict=True)]
    day, date_from, date_to = table.c.day, bindparam("date_from"), bindparam("date_to")
    if (per_day and not whole_month_rows) or month_grain is None:
        rows = and_(table.c.grain == grain, day >= date_from, day <= date_to)
    else:  # the whole months from their month rows, the days before and after them from the day rows
        months_from, months_to = bindparam("months_from"), bindparam("months_to")
        rows = or_(and_(table.c.grain == grain, or_(and_(day >= date_from, day < months_from),
                                                    and_(day >= months_to, day <= date_to))),
                   and_(table.c.grain == month_grain, day >= months_from, day < months_to))
    query = select(*groups, *columns).where(rows, *[table.c[k] == bindparam(f"f_{k}") for k in filters])
    return query.group_by(*groups) if groups else query
