"""Discovered comment themes, computed off the request path. Clustering a scope's comments
(reports.textmining: jieba, TF-IDF, spectral clustering) costs seconds whatever the data's
size, so the scheduler computes the scopes managers open (the dashboard's default dates, the
last month and quarter; without a filter and per region) and stores them in theme_snapshots.
A report reads the stored themes of its scope, or those of the nearest stored scope (saying
which), and never clusters; a scope not stored yet is queued for the next run.

Themes are stored with their comments counted per local day, so one snapshot serves every
grouping (week, month, quarter) of its dates."""
from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.db import db, utcnow
from reports.models import ThemeSnapshot, response_rollups
from reports.periods import period_of, previous_month, previous_quarter
from reports.rollups import sums
from reports.scope import Scope
from surveys.models import Answer, Response

MAX_PENDING = 20          # scopes asked for by views, waiting for the scheduler
KEEP_DAYS = 35            # snapshots neither refreshed nor asked for this long are dropped


def default_range(today: date) -> tuple[date, date]:
    """The dashboard's dates when none are given: this month and the three before it."""
    start = (today.replace(day=1) - timedelta(days=32)).replace(day=1)
    return (start - timedelta(days=1)).replace(day=1), today


def filter_key(filters: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(filters.items()) if v)


def parse_filter_key(key: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in key.split("&") if part)


def stored_snapshot(scope: Scope) -> ThemeSnapshot | None:
    """The snapshot row of exactly this scope (computed or only asked for), if any."""
    return db.session.scalar(select(ThemeSnapshot).where(
        ThemeSnapshot.date_from == scope.date_from, ThemeSnapshot.date_to == scope.date_to,
        ThemeSnapshot.filter_key == filter_key(scope.breakdown_filters)))


# ---- computing (scheduler, CLI, demo) ---------------------------------------------------------

def discover_scope(scope: Scope) -> list[dict[str, Any]]:
    """Themes of the scope's most recent comments, each with its comments per local day."""
    from reports.textmining import SAMPLE, Comment, discover
    from tickets.models import Customer

    rows = db.session.execute(
        select(Answer.value_text, Response.completed_at, Customer.name)
        .join(Response, Answer.response_id == Response.id)
        .outerjoin(Customer, Response.customer_id == Customer.id)
        .where(Answer.question_key == "comment", Answer.value_text.is_not(None), *scope.where())
        .order_by(Response.completed_at.desc()).limit(SAMPLE))
    comments = [Comment(text, at, (name,) if name else ()) for text, at, name in rows]
    shift = timedelta(hours=scope.offset_hours)
    themes = discover(comments, lambda at: (at + shift).date().isoformat())
    for theme in themes:
        theme["days"] = {point["period"]: point["n"] for point in theme.pop("trend")}
    return themes


def comment_count(scope: Scope) -> int:
    return sums(response_rollups, scope.date_from, scope.date_to, scope.breakdown_filters,
                measures=("comments",))[0]["comments"]


def compute_scope(scope: Scope, now: datetime | None = None) -> ThemeSnapshot:
    """Clusters the scope's comments and stores the result (the caller commits)."""
    key = filter_key(scope.breakdown_filters)
    snapshot = stored_snapshot(scope)
    if snapshot is None:
        snapshot = ThemeSnapshot(date_from=scope.date_from, date_to=scope.date_to, filter_key=key,
                                 requested_at=now or utcnow())
        db.session.add(snapshot)
    snapshot.comments = comment_count(scope)
    snapshot.themes_json = json.dumps(discover_scope(scope), ensure_ascii=False)
    snapshot.computed_at = now or utcnow()
    return snapshot


def is_current(snapshot: ThemeSnapshot | None, scope: Scope) -> bool:
    """Stored themes still describe the scope: computed, and no comment came or went since."""
    return (snapshot is not None and snapshot.themes_json is not None
            and snapshot.comments == comment_count(scope))


def ensure_scope(scope: Scope) -> None:
    """For batch work that may wait (the report command, scheduled reports): the scope's own
    themes, computed now unless stored ones are current (the caller commits)."""
    if not is_current(stored_snapshot(scope), scope):
        compute_scope(scope)


def standard_scopes(today: date) -> list[Scope]:
    """The scopes worth having ready: the dashboard's default dates and the last month and
    quarter (the scheduled reports'), without a filter and for each region with responses."""
    ranges = list(dict.fromkeys([default_range(today), previous_month(today), previous_quarter(today)]))
    start = min(r[0] for r in ranges)
    regions = [row["region"] for row in sums(response_rollups, start, today, by=("region",), measures=("n",))
               if row["region"] and row["n"]]
    return [Scope(a, b, {"region": r} if r else {}) for a, b in ranges for r in ["", *sorted(regions)]]


def refresh_themes(now: datetime | None = None, force: bool = False) -> int:
    """Scheduler job (every ten minutes) and `compute-themes`: computes the scopes views asked
    for, then the standard scopes whose comment count changed since they were computed (all
    of them with force). Commits after each scope. Returns how many were computed."""
    from core.timeutil import to_local

    now = now or utcnow()
    stored = {(s.date_from, s.date_to, s.filter_key): s for s in db.session.scalars(select(ThemeSnapshot))}
    wanted = [Scope(s.date_from, s.date_to, parse_filter_key(s.filter_key))
              for s in stored.values() if s.themes_json is None]
    computed = 0
    for scope in wanted + standard_scopes(to_local(now, None).date()):
        snapshot = stored.get((scope.date_from, scope.date_to, filter_key(scope.breakdown_filters)))
        if is_current(snapshot, scope) and not force:
            continue
        stored[(scope.date_from, scope.date_to, filter_key(scope.breakdown_filters))] = compute_scope(scope, now)
        db.session.commit()
        computed += 1
    old = now - timedelta(days=KEEP_DAYS)
    db.session.execute(ThemeSnapshot.__table__.delete().where(
        func.coalesce(ThemeSnapshot.computed_at, ThemeSnapshot.requested_at) < old,
        ThemeSnapshot.requested_at < old))
    db.session.commit()
    return computed


def request_scope(scope: Scope) -> None:
    """Queues a scope a view showed without its own themes (at most MAX_PENDING wait)."""
    pending = db.session.scalar(select(func.count()).select_from(ThemeSnapshot)
                                .where(ThemeSnapshot.themes_json.is_(None)))
    if stored_snapshot(scope) is None and pending < MAX_PENDING:
        db.session.add(ThemeSnapshot(date_from=scope.date_from, date_to=scope.date_to,
                                     filter_key=filter_key(scope.breakdown_filters)))
        db.session.commit()


# ---- reading (every report) -------------------------------------------------------------------

def _overlap(a: ThemeSnapshot, scope: Scope) -> float:
    """Shared days over the days of either (Jaccard): 1 for the same dates, 0 for disjoint."""
    shared = (min(a.date_to, scope.date_to) - max(a.date_from, scope.date_from)).days + 1
    union = (max(a.date_to, scope.date_to) - min(a.date_from, scope.date_from)).days + 1
    return max(shared, 0) / union


def nearest_snapshot(scope: Scope) -> ThemeSnapshot | None:
    """The stored snapshot of this scope, or else the one whose filters are a part of the
    scope's and whose dates overlap them most (more matching filters first)."""
    wanted = scope.breakdown_filters
    best, best_rank = None, None
    for snapshot in db.session.scalars(select(ThemeSnapshot).where(ThemeSnapshot.themes_json.is_not(None))):
        filters = parse_filter_key(snapshot.filter_key)
        overlap = _overlap(snapshot, scope)
        if overlap <= 0 or any(wanted.get(k) != v for k, v in filters.items()):
            continue
        rank = (len(filters), overlap, snapshot.computed_at)
        if best_rank is None or rank > best_rank:
            best, best_rank = snapshot, rank
    return best


def stored_themes(scope: Scope, period: str) -> tuple[list[dict], dict | None]:
    """(themes, source): the themes of the nearest stored scope with their trend grouped by
    `period` within the report's dates; source says which scope and when (None: nothing stored)."""
    snapshot = nearest_snapshot(scope)
    if snapshot is None:
        return [], None
    themes = []
    for theme in json.loads(snapshot.themes_json):
        trend: Counter = Counter()
        for day, n in theme.pop("days", {}).items():
            trend[period_of(date.fromisoformat(day), period)] += n
        themes.append({**theme, "trend": [{"period": p, "n": trend[p]} for p in sorted(trend)]})
    exact = ((snapshot.date_from, snapshot.date_to, snapshot.filter_key)
             == (scope.date_from, scope.date_to, filter_key(scope.breakdown_filters)))
    return themes, {"date_from": snapshot.date_from.isoformat(), "date_to": snapshot.date_to.isoformat(),
                    "filters": parse_filter_key(snapshot.filter_key), "exact": exact,
                    "computed_at": snapshot.computed_at.isoformat(timespec="seconds") + "Z"}
