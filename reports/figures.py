"""Every figure of SPEC "Figures", from the per-day sums of reports.rollups: days roll up into
weeks, months and quarters in Python because every aggregate is a sum. Raw rows are read only
for what cannot be summed (comment quotes) and for callback tasks; the discovered themes are
computed by the scheduler and read from reports.stored_themes."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, func, or_, select

from callbacks.models import CallbackTask
from core.db import READ_ONLY, db, utcnow
from reports.actions import follow_up_plan
from reports.kpis import compute_kpis
from reports.models import invitation_rollups, response_rollups
from reports.periods import period_of
from reports.rollups import grain_for, month_grain_for, sums
from reports.scope import BREAKDOWNS, Scope
from reports.scorecards import CARD_MEASURES, callback_figures, scorecards
from reports.scorecards import GROUPS as CARD_GROUPS
from reports.stats import pct, pearson, percent_interval, two_proportion_p
from reports.stored_themes import stored_themes
from reports.suggestions import suggestions
from reports.themes import THEMES
from reports.weights import relative_weights
from surveys.models import DIMENSIONS, Answer, Response
from tickets.models import Ticket

LOW_SAMPLE = 30


# ---- sums ------------------------------------------------------------------------------------

HEADLINE = ("n", "si_n", "si_sum", "overall_n", "top2", "nps_n", "promoters", "detractors")


def _add(into: dict, row: dict) -> None:
    for key, value in row.items():
        into[key] = into.get(key, 0) + (value or 0)


MONTHLY_PERIODS = ("month", "quarter")  # periods made of whole calendar months


def trend_sums(scope: Scope, period: str, measures: tuple[str, ...] = HEADLINE) -> dict[date, dict]:
    """The headline sums the trend adds up into periods, per local day; for a trend by month or
    quarter, the months the dates cover whole are one row each (dated their first day) where the
    rollups sum the filters per month: a year of one agent's day rows is found among every
    agent's (~540,000 index entries at 10M), its months among 24,000."""
    rows = sums(response_rollups, scope.date_from, scope.date_to, scope.breakdown_filters, measures=measures,
                per_day=True, whole_month_rows=period in MONTHLY_PERIODS)
    return {row.pop("day"): row for row in rows}


def total_sums(scope: Scope) -> dict:
    """Every response sum over the scope's days, added up by the database."""
    return sums(response_rollups, scope.date_from, scope.date_to, scope.breakdown_filters)[0]


# ---- figures from sums -----------------------------------------------------------------------

def headline(s: dict) -> dict[str, Any]:
    nps_n = s.get("nps_n", 0)
    return {
        "n": s.get("n", 0),
        "satisfaction_index": round(s["si_sum"] / s["si_n"], 1) if s.get("si_n") else None,
        "csat": percent_interval(s.get("top2", 0), s.get("overall_n", 0)),
        "nps": round(100 * (s.get("promoters", 0) - s.get("detractors", 0)) / nps_n, 1) if nps_n else None,
    }


def dimensions(s: dict) -> dict[str, dict]:
    """Per dimension: n, mean, index, importance, priority and its quadrant."""
    out = {}
    for d in DIMENSIONS:
        n = s.get(f"{d}_n", 0)
        mean = s[f"{d}_sum"] / n if n else None
        index = (mean - 1) / 4 * 100 if mean is not None else None
        r = pearson(s.get(f"{d}_pn", 0), s.get(f"{d}_px", 0), s.get(f"{d}_py", 0),
                    s.get(f"{d}_pxx", 0), s.get(f"{d}_pyy", 0), s.get(f"{d}_pxy", 0))
        priority = r * (100 - index) if r is not None and index is not None else None
        out[d] = {"n": n, "mean": round(mean, 2) if mean is not None else None,
                  "index": round(index, 1) if index is not None else None,
                  "importance": round(r, 3) if r is not None else None,
                  "priority": round(priority, 1) if priority is not None else None}
    for d in out.values():
        d["quadrant"] = quadrant(d, out)
    return out


def drivers(dims: dict[str, dict]) -> list[str]:
    """Dimension keys, highest improvement priority first (unknown priority last)."""
    return sorted(dims, key=lambda d: (dims[d]["priority"] is None, -(dims[d]["priority"] or 0)))


def quadrant(dim: dict, dims: dict[str, dict]) -> str | None:
    """SurveyMonkey CX's importance-vs-performance quadrants, split at the means."""
    known = [v for v in dims.values() if v["importance"] is not None and v["index"] is not None]
    if dim["importance"] is None or dim["index"] is None or not known:
        return None
    high_importance = dim["importance"] >= sum(v["importance"] for v in known) / len(known)
    high_performance = dim["index"] >= sum(v["index"] for v in known) / len(known)
    return {(True, True): "key_strength", (True, False): "key_weakness",
            (False, True): "mixed_strength", (False, False): "mixed_weakness"}[(high_importance, high_performance)]


# ---- periods ---------------------------------------------------------------------------------

def periods_between(start: date, end: date, period: str) -> list[str]:
    labels, day = [], start
    while day <= end:
        label = period_of(day, period)
        if not labels or labels[-1] != label:
            labels.append(label)
        day += timedelta(days=1)
    return labels


def trend(dated: dict[date, dict], scope: Scope, period: str) -> list[dict]:
    """`dated`: trend_sums, rows of a day or of a whole month, each within one period."""
    sums: dict[str, dict] = defaultdict(dict)
    for day, values in dated.items():
        _add(sums[period_of(day, period)], values)
    out, previous = [], None
    for label in periods_between(scope.date_from, scope.date_to, period):
        s = sums.get(label, {})
        figures = headline(s)
        p_value = None
        if previous is not None:
            p_value = two_proportion_p(previous.get("top2", 0), previous.get("overall_n", 0),
                                       s.get("top2", 0), s.get("overall_n", 0))
        out.append({"period": label, "n": figures["n"], "satisfaction_index": figures["satisfaction_index"],
                    "csat": figures["csat"]["value"], "csat_ci_low": figures["csat"]["ci_low"],
                    "csat_ci_high": figures["csat"]["ci_high"], "nps": figures["nps"],
                    "p_value": round(p_value, 4) if p_value is not None else None,
                    "significant": p_value is not None and p_value < 0.05,
                    "low_sample": figures["n"] < LOW_SAMPLE})
        previous = s
    return out


# ---- other figures ---------------------------------------------------------------------------

BREAKDOWN_MEASURES = tuple(dict.fromkeys(HEADLINE + CARD_MEASURES))


def breakdown_sums(scope: Scope, by: str) -> list[dict]:
    """The scope's sums per value of `by`, from its rollup grain: what its breakdown and (for
    agents and regions) its scorecards need, read once for both."""
    return sums(response_rollups, scope.date_from, scope.date_to, scope.breakdown_filters, by=(by,),
                measures=BREAKDOWN_MEASURES)


def breakdowns_sums(scope: Scope, bys: Sequence[str]) -> dict[str, list[dict]]:
    """breakdown_sums of each of `bys`. Those that the scope's filters send to the same rollup
    rows (a region view's channel and ticket kind: both that region's channel × kind × region
    day rows) are read in one pass, grouped by all their keys, and added up here."""
    filters = list(scope.breakdown_filters)
    rows_read = {by: (grain_for([*filters, by]), month_grain_for([*filters, by])) for by in bys}
    out: dict[str, list[dict]] = {}
    for source in dict.fromkeys(rows_read.values()):
        shared = [by for by in bys if rows_read[by] == source]
        together = (grain_for([*filters, *shared]), month_grain_for([*filters, *shared]))
        if len(shared) == 1 or together != source:
            out.update({by: breakdown_sums(scope, by) for by in shared})
            continue
        rows = sums(response_rollups, scope.date_from, scope.date_to, scope.breakdown_filters, by=tuple(shared),
                    measures=BREAKDOWN_MEASURES)
        out.update({by: _added_up(rows, by) for by in shared})
    return {by: out[by] for by in bys}


def _added_up(rows: list[dict], by: str) -> list[dict]:
    """Rows grouped by several keys, summed per value of `by` (every measure is a sum)."""
    totals: dict[str, dict] = {}
    for row in rows:
        _add(totals.setdefault(row[by], {by: row[by]}), {m: row[m] for m in BREAKDOWN_MEASURES})
    return list(totals.values())


def breakdown(rows: list[dict], by: str) -> list[dict]:
    """Largest first; equal sizes by key (the database returns groups in no set order)."""
    return sorted(({"key": row[by] or "—", **headline(row)} for row in rows if row["n"]),
                  key=lambda b: (-b["n"], b["key"]))


def breakdowns(scope: Scope) -> dict[str, list[dict]]:
    """Channel, ticket kind, region and agent."""
    return {by: breakdown(rows, by) for by, rows in breakdowns_sums(scope, BREAKDOWNS).items()}


def response_rate(scope: Scope) -> dict:
    """Completed / delivered, over the invitations sent in the period (one cohort), under the
    same filters as the responses."""
    row = sums(invitation_rollups, scope.date_from, scope.date_to, scope.breakdown_filters)[0]
    delivered = row["sent"] - row["failed"]
    return {"delivered": delivered, "completed": row["completed"], "value": pct(row["completed"], delivered)}


def callback_sla(scope: Scope, now: datetime | None = None) -> dict[str, dict]:
    """Per kind, the tasks whose deadline fell in the period and can be judged (met, or
    past due): on time when the deadline's milestone came before it."""
    start, end = scope.utc_bounds()
    now = now or utcnow()
    judged = or_(CallbackTask.met_at.is_not(None), CallbackTask.due_at < now)
    rows = db.session.execute(select(
        CallbackTask.kind, func.count().label("total"),
        func.sum(case((and_(CallbackTask.met_at.is_not(None), CallbackTask.met_at <= CallbackTask.due_at), 1),
                      else_=0)).label("on_time"))
        .where(CallbackTask.due_at >= start, CallbackTask.due_at < end, judged)
        .group_by(CallbackTask.kind))
    return {kind: {"total": total, "on_time": on_time or 0, "sla": pct(on_time or 0, total)}
            for kind, total, on_time in rows}


def complaint_categories(scope: Scope, limit: int = 8) -> list[dict]:
    start, end = scope.utc_bounds()
    rows = db.session.execute(select(Ticket.category, func.count().label("n"))
                              .where(Ticket.kind == "complaint", Ticket.handled_at >= start,
                                     Ticket.handled_at < end)
                              .group_by(Ticket.category).order_by(func.count().desc()).limit(limit))
    return [{"category": category or "—", "count": n} for category, n in rows]


def comment_themes(scope: Scope, total: dict, quotes: int = 2) -> dict:
    """Comments mentioning each theme (counted in the rollups), with a few recent quotes."""
    found = [theme for theme in THEMES if total.get(f"theme_{theme}")]
    themes = []
    if found:
        # Quotes: the most recent comments of each theme, picked from one query of recent comments.
        recent = db.session.scalars(
            select(Answer.value_text).join(Response, Answer.response_id == Response.id)
            .where(Answer.question_key == "comment", Answer.value_text.is_not(None), *scope.where())
            .order_by(Response.completed_at.desc()).limit(2000)).all()
        for theme in found:
            words = [w.lower() for w in THEMES[theme]]
            matching = [c for c in recent if any(w in c.lower() for w in words)]
            themes.append({"theme": theme, "count": total[f"theme_{theme}"],
                           "quotes": list(dict.fromkeys(matching))[:quotes]})
    themes.sort(key=lambda t: -t["count"])
    return {"comments": total.get("comments", 0), "themes": themes}


# ---- the report ------------------------------------------------------------------------------

@contextmanager
def in_background(read: Callable[[], Any]) -> Iterator[Future]:
    """Runs `read` on a connection of its own in a thread while the caller goes on with its own
    session (the database drivers release the GIL while the database works): two cores share
    a report's reads, with one connection besides the request's."""
    app = current_app._get_current_object()

    def run() -> Any:
        with app.app_context():
            try:
                db.session.connection(execution_options=READ_ONLY)
                return read()
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(run)


def compute_report(date_from: date, date_to: date, period: str = "month",
                   filters: dict[str, str] | None = None, locale: str = "zh-CN",
                   with_breakdowns: bool = True) -> dict[str, Any]:
    """The JSON report of SPEC "Contract", plus breakdowns, themes and method data."""
    scope = Scope(date_from, date_to, {k: v for k, v in (filters or {}).items() if v})
    groups = [by for by in (BREAKDOWNS if with_breakdowns else CARD_GROUPS) if by != "agent"]
    # The sums by agent (the most rows: at 10M a filtered year is ~24,000 rows read from ~2,000
    # pages) come from a second connection while this one reads, and computes, all the rest;
    # only the breakdowns and cards wait for them. The sums by agent and by region serve both
    # their breakdown and their cards.
    with in_background(lambda: breakdown_sums(scope, "agent")) as by_agent:
        read = breakdowns_sums(scope, groups)
        callbacks = {by: callback_figures(scope, by) for by in CARD_GROUPS}
        report = overall_figures(scope, period, locale)
        read["agent"] = by_agent.result()
    cards = {by: scorecards(scope, by, read[by], callbacks[by]) for by in CARD_GROUPS}
    report.update(breakdowns={by: breakdown(read[by], by) for by in BREAKDOWNS} if with_breakdowns else {},
                  scorecards=cards["agent"], team_scorecards=cards["region"])
    return report


def overall_figures(scope: Scope, period: str, locale: str) -> dict[str, Any]:
    """Every figure of the report but its breakdowns and scorecards (empty here, in their place)."""
    dated, total = trend_sums(scope, period), total_sums(scope)
    themes, themes_source = stored_themes(scope, period)  # computed by the scheduler, never here
    head = headline(total)
    dims = dimensions(total)
    weights = relative_weights(total)
    for key, dim in dims.items():
        dim["relative_weight"] = weights[0][key] if weights else None
    report = {
        "period": {"from": scope.date_from.isoformat(), "to": scope.date_to.isoformat(), "grouping": period,
                   "timezone": scope.tz},
        "filters": scope.filters,
        "responses": head["n"],
        "response_rate": response_rate(scope),
        "satisfaction_index": head["satisfaction_index"],
        "csat": {k: head["csat"][k] for k in ("value", "ci_low", "ci_high")},
        "nps": head["nps"],
        "dimensions": dims,
        "trend": trend(dated, scope, period),
        "drivers": drivers(dims),
        "callbacks": callback_sla(scope),
        "complaint_categories": complaint_categories(scope),
        "comment_themes": comment_themes(scope, total),
        "breakdowns": {},
        "r_squared": weights[1] if weights else None,
        "themes": themes,
        "themes_source": themes_source,
        "scorecards": [],
        "team_scorecards": [],
        "sample": {"csat_n": head["csat"]["n"], "nps_n": total.get("nps_n", 0), "si_n": total.get("si_n", 0)},
    }
    report["kpis"] = compute_kpis(scope)
    report["suggestions"] = suggestions(report, locale)
    report["actions"] = follow_up_plan()
    return report
